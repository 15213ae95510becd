"""``python -m socialcrm``: the ``socialcrm`` command line (``python -X importtime -m
socialcrm clv fit …`` shows what a command imports)."""

from socialcrm.cli.main import main

if __name__ == "__main__":
    main()
