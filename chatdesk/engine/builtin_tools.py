"""The tools chatdesk itself ships, named ``chatdesk/<name>`` in a crew's ``tools:``.

Each is safe by default: it reads nothing private and changes nothing, so it runs
without asking (and is still on the record like any other call).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from crewai.tools import BaseTool

BUILTIN_SERVER = "chatdesk"


class CurrentTimeTool(BaseTool):
    """The local date and time, with the time zone: models do not know what time it is."""

    name: str = "current_time"
    description: str = (
        "Returns the current local date and time of the person's computer, "
        "in ISO 8601 with the UTC offset and the weekday. Takes no input."
    )

    def _run(self) -> str:
        now = _dt.datetime.now().astimezone()
        return f"{now.isoformat(timespec='seconds')} ({now.strftime('%A')}, {now.tzname()})"


BUILTIN_TOOLS: dict[str, Callable[[], BaseTool]] = {"current_time": CurrentTimeTool}
