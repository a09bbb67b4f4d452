"""Processing engine: claims uploads in order, applies items, writes reports and notifications."""
