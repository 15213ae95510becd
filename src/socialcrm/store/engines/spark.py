"""Apache Spark (local mode by default): the same pipeline when one machine is not enough."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from socialcrm.store.engine import Engine

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir
    from pyspark.sql import SparkSession


class SparkEngine(Engine):
    name = "spark"

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
        return self.con._session  # type: ignore[attr-defined]

    def _read_parquet(self, directory: Path) -> ir.Table:
        return self.con.read_parquet(str(directory))

    def _write_parquet(self, expr: ir.Table, directory: Path) -> None:
        # Spark writes part files plus _SUCCESS/.crc markers; only *.parquet are read back.
        self.con.to_parquet(expr, directory)
