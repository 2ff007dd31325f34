"""Alembic environment and revisions; installed as ``chatdesk.migrations``."""
