"""Schema revisions, oldest first by file name (date-prefixed)."""
