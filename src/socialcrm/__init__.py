"""socialcrm: an open-source Social CRM.

Values every customer on the Value TRInity (transaction, relationship, influence) and runs
the four Social CRM processes (listening, responding, connecting, collaborating) over a
warehouse that runs on DuckDB or Spark.
"""

__version__ = "0.1.0"
