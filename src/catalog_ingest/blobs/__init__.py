"""Payload and report store: local folder or S3, one interface chosen by URL; signed links."""
