"""The crews a chat can run, as the window lists them.

The catalog itself is the worker's (``chatdesk.engine.crews`` reads the YAML folders,
without CrewAI); the window reaches it only through here, so the ui never imports an
engine module (the layer contract in pyproject.toml).
"""

from __future__ import annotations

from chatdesk.engine.crews import CrewInfo, list_crews

__all__ = ["CrewInfo", "list_crews"]
