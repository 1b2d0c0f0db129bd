"""``python -m api.cli ...`` runs the ``lifecircle`` command line (used by the benchmarks)."""

from api.cli import main

main()
