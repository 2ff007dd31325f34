"""chatdesk: a desktop chat client whose replies come from CrewAI crews."""

__version__ = "0.1.0"
