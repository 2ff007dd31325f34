"""chatdesk.store package."""
