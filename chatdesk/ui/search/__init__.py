"""Search across threads: panel, model and the worker thread that reads."""
