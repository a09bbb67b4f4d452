"""The `catalog-ingest` command line."""
