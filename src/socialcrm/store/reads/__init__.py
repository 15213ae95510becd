"""The read side of the warehouse, below the domains: what faces and domains read.

:class:`ReadModel` is one in-process DuckDB per process over the current Parquet files
with the customer list in memory; the modules by subject (customers, listening,
targeting, programs) hold the queries the pages, the API, the CLI and the domains ask.
DuckDB SQL lives here, in store/, with the other engine specifics.
"""

from socialcrm.store.reads import customers, listening, programs, targeting
from socialcrm.store.reads.model import SORTS, CustomerFilter, ReadModel

__all__ = [
    "SORTS",
    "CustomerFilter",
    "ReadModel",
    "customers",
    "listening",
    "programs",
    "targeting",
]
