"""Pure catalog rules and values: items, barcodes, prices, statuses, reports (stdlib only)."""
