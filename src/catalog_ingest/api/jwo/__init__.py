"""JWO-compatible Catalog API routes."""
