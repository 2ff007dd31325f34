"""pytest plugin shipped to people who test chatdesk (registered under ``pytest11``).

Fixtures are added here as the parts they drive land.
"""
