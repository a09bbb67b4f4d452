"""catalog-ingest: a JWO-compatible catalog ingestion service and its retailer toolkit."""

__version__ = "0.1.0"
__all__ = ["__version__"]
