"""Apache Spark: the same pipeline when one machine is not enough.

The master setting picks the session: ``local[N]`` (the default) or ``spark://…`` (a
standalone cluster) start a classic session, with the driver in this process;
``sc://host:port`` connects to a Spark Connect server, where the driver runs, and this
process is a thin client. Only a classic session has a ``sparkContext`` (a JVM in this
process), so nothing here needs one beyond starting a classic session; where the two
kinds differ (their start, loading the similarity jar) the code says so in one place.

Splink's Spark backend (similarity jar, scratch folder, session settings while it runs)
lives here too, behind :meth:`SparkEngine.splink`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from socialcrm.store.engine import Engine, SplinkBackend

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir
    from pyspark.sql import SparkSession


class SparkEngine(Engine):
    name = "spark"
    backend_name = "pyspark"
    splink_dialect = "spark"

    def _connect(self) -> BaseBackend:
        try:
            import pyspark  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the Spark engine needs pyspark: pip install 'socialcrm[spark]'"
            ) from e
        master = self.settings.spark_master
        if is_connect_url(master):
            session = _connect_session(master)
        else:
            session = _classic_session(
                master, self.settings.home / "spark-warehouse", self.settings.spark_driver_memory
            )
        return ibis.pyspark.connect(session)

    @property
    def session(self) -> SparkSession:
        """The engine's Spark session (started on first use), for Spark-native libraries."""
        session: SparkSession = self.con._session  # the backend is untyped (ibis)
        return session

    def _read_parquet(self, directory: Path) -> ir.Table:
        return self.con.read_parquet(str(directory))

    def _write_parquet(self, expr: ir.Table, directory: Path) -> None:
        # Spark writes part files plus _SUCCESS/.crc markers; only *.parquet are read back.
        self.con.to_parquet(expr, directory)

    @contextlib.contextmanager
    def splink(self, workdir: Path | None = None) -> Iterator[SplinkBackend]:
        """Splink's Spark backend on the engine's session, with the same model as on DuckDB.

        Its intermediate tables go to a temporary folder inside ``workdir`` (default:
        the system's), removed afterwards, with the temporary views Splink made.
        """
        with spark_splink(self.session, workdir) as backend:
            yield backend


@contextlib.contextmanager
def spark_splink(spark: SparkSession, workdir: Path | None = None) -> Iterator[SplinkBackend]:
    """Splink on ``spark`` (any session): the jar loaded, scratch and views cleaned up."""
    from splink.backends.spark import SparkAPI

    _load_similarity_jar(spark)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".splink-", dir=workdir))
    before = _temp_views(spark)
    # Pairs are few bytes but costly to compare: adaptive execution would coalesce them
    # into one task (one core); keep Splink's partitions while it runs.
    coalesce = "spark.sql.adaptive.coalescePartitions.enabled"
    was = spark.conf.get(coalesce, None)
    spark.conf.set(coalesce, "false")
    try:
        yield SplinkBackend(
            lambda: _splink_api(SparkAPI, spark, scratch),
            lambda t: _to_spark(spark, t),
        )
    finally:
        if was is None:
            spark.conf.unset(coalesce)
        else:
            spark.conf.set(coalesce, was)
        for view in _temp_views(spark) - before:
            spark.catalog.dropTempView(view)
        shutil.rmtree(scratch, ignore_errors=True)


def _load_similarity_jar(spark: SparkSession) -> None:
    """Make sure the session can load Splink's similarity UDFs (Jaro-Winkler,
    Damerau-Levenshtein…), which ship as a jar inside Splink. A classic session of the
    Spark engine starts with the jar (``spark.jars``); a Connect session gets it uploaded
    as an artifact of the session (so the server needs no ``--jars`` and no access to
    this machine's files); any other classic session gets it added here."""
    from pyspark.errors import AnalysisException
    from pyspark.sql.types import DoubleType
    from splink.backends.spark import similarity_jar_location

    probe = ("jaro_winkler", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity", DoubleType())
    try:
        spark.udf.registerJavaFunction(*probe)
    except AnalysisException:
        if is_connect_session(spark):
            spark.addArtifacts(similarity_jar_location())
        else:
            spark.sql(f"ADD JAR '{similarity_jar_location()}'")
        spark.udf.registerJavaFunction(*probe)  # fails loudly if still not loadable


def _splink_api(base: type[Any], spark: SparkSession, scratch: Path) -> Any:
    """Splink's ``SparkAPI`` writing its intermediate tables under ``scratch``.

    Splink breaks the lineage of its big intermediate tables by writing them as Parquet
    under the session's checkpoint folder, which it reads from the driver's JVM
    (``_jsc``): there is none on Spark Connect. Here the folder is this run's own,
    given directly, on every kind of session (the server must see the folder: the
    workspace is shared with it).
    """

    class ScratchSparkAPI(base):
        def _get_checkpoint_dir_path(self, spark_df: Any) -> str:
            return str(scratch)

    return ScratchSparkAPI(spark_session=spark, break_lineage_method="parquet")


def _temp_views(spark: SparkSession) -> set[str]:
    return {t.name for t in spark.catalog.listTables() if t.isTemporary}


def _to_spark(spark: SparkSession, table: pa.Table) -> Any:
    """An Arrow table as a Spark DataFrame, with its types (all-null columns included)."""
    import pyspark
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(table.schema)
    if int(pyspark.__version__.split(".", 1)[0]) >= 4:  # takes Arrow as it is
        return spark.createDataFrame(table, schema)
    return spark.createDataFrame([tuple(r.values()) for r in table.to_pylist()], schema)


def is_connect_url(master: str) -> bool:
    """Whether the master setting names a Spark Connect server (``sc://host:port``)."""
    return master.startswith("sc://")


def is_connect_session(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect client session (no ``sparkContext``, no JVM
    here). Told by its class's module, so the check imports nothing of Connect (which
    needs grpc) for a classic session."""
    return type(spark).__module__.startswith("pyspark.sql.connect.")


SESSION_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    # microsecond timestamps: what DuckDB and Arrow read back unchanged
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.shuffle.partitions": "8",
}
"""The session's SQL settings, the same on every kind of session (runtime settings: a
Connect session sets them on its server-side session)."""


def _classic_session(master: str, warehouse: Path, driver_memory: str) -> SparkSession:
    """A classic session (local mode or ``spark://``), the driver in this process, its JVM
    started with ``driver_memory`` of heap (a JVM's heap is fixed when it starts: the first
    session of a process decides it)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(master)
        .appName("socialcrm")
        # Splink's similarity UDFs (Jaro-Winkler, Damerau-Levenshtein) for identities
        .config("spark.jars", similarity_jar_location())
        # catalog folder in the workspace, not in the current directory
        .config("spark.sql.warehouse.dir", str(warehouse.resolve()))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
    )
    for key, value in SESSION_SQL_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _connect_session(url: str) -> SparkSession:
    """A new session on the Spark Connect server at ``url`` (one per engine).

    The server's static settings (memory, jars, UI, catalog folder) are its own, given
    when it starts; this client sets only the runtime SQL settings. The similarity jar is
    uploaded when Splink first runs (:func:`_load_similarity_jar`). pyspark marks the
    process as a Connect client from then on (its functions build Connect columns), so a
    process holds Connect sessions or a classic one, not both.
    """
    from pyspark.sql import SparkSession

    try:
        import grpc  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "Spark Connect needs pyspark's client libraries (grpcio, grpcio-status, "
            "googleapis-common-protos): pip install 'socialcrm[spark]'"
        ) from e
    # Ibis registers each in-memory table with verifySchema=False, which a Connect
    # session ignores (it has no such check) with a warning every time: noise, not news.
    warnings.filterwarnings("ignore", "'verifySchema' is ignored", UserWarning, "pyspark")
    session: SparkSession = SparkSession.builder.remote(url).create()
    for key, value in SESSION_SQL_CONF.items():
        session.conf.set(key, value)
    return session
