"""The warehouse: table schemas, engines (DuckDB, Spark), atomic storage, ingestion."""
