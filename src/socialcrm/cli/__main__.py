"""``python -m socialcrm.cli``: the same as the ``socialcrm`` console script."""

from socialcrm.cli.main import main

main()
