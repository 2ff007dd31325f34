"""Shipped resources (default crews); installed as ``chatdesk.resources``."""
