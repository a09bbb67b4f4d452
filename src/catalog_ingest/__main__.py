"""`python -m catalog_ingest` runs the command line."""

from catalog_ingest.cli.main import main

main()
