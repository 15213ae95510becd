"""Apache Spark (local mode by default): the same pipeline when one machine is not enough.

Splink's Spark backend (similarity jar, checkpoint folder, session settings while it
runs) lives here too, behind :meth:`SparkEngine.splink`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
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

    def _connect(self) -> BaseBackend:
        try:
            from pyspark.sql import SparkSession
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the Spark engine needs pyspark: pip install 'socialcrm[spark]'"
            ) from e
        from splink.backends.spark import similarity_jar_location

        session = (
            SparkSession.builder.master(self.settings.spark_master)
            .appName("socialcrm")
            # Splink's similarity UDFs (Jaro-Winkler, Damerau-Levenshtein) for identities
            .config("spark.jars", similarity_jar_location())
            # catalog folder in the workspace, not in the current directory
            .config(
                "spark.sql.warehouse.dir", str((self.settings.home / "spark-warehouse").resolve())
            )
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
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
    # Splink breaks the lineage of its big intermediate tables by writing them as
    # Parquet under the checkpoint folder: here, a folder of this run only.
    spark.sparkContext.setCheckpointDir(str(scratch))
    before = _temp_views(spark)
    # Pairs are few bytes but costly to compare: adaptive execution would coalesce them
    # into one task (one core); keep Splink's partitions while it runs.
    coalesce = "spark.sql.adaptive.coalescePartitions.enabled"
    was = spark.conf.get(coalesce, None)
    spark.conf.set(coalesce, "false")
    try:
        yield SplinkBackend(
            # splink's SparkAPI.__init__ has no annotations
            lambda: SparkAPI(spark_session=spark, break_lineage_method="parquet"),  # type: ignore[no-untyped-call]
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
    Damerau-Levenshtein…), which ship as a jar inside Splink. The Spark engine starts
    its session with the jar (``spark.jars``); any other session gets it added here."""
    from pyspark.sql.types import DoubleType
    from pyspark.sql.utils import AnalysisException
    from splink.backends.spark import similarity_jar_location

    probe = ("jaro_winkler", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity", DoubleType())
    try:
        spark.udf.registerJavaFunction(*probe)
    except AnalysisException:
        spark.sql(f"ADD JAR '{similarity_jar_location()}'")
        spark.udf.registerJavaFunction(*probe)  # fails loudly if still not loadable


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
