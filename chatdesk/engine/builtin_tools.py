"""The tools chatdesk itself ships, named ``chatdesk/<name>`` in a crew's ``tools:``.

Each is safe by default: it reads nothing private and changes nothing, so it runs
without asking (and is still on the record like any other call).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from crewai.tools import BaseTool
from pydantic import BaseModel, Field

from chatdesk.engine.calculator import CalculationError, calculate

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


class _Expression(BaseModel):
    expression: str = Field(description="An arithmetic expression, e.g. (17.5 * 3) / sqrt(2)")


class CalculatorTool(BaseTool):
    """Exact arithmetic: models guess at numbers; this computes them."""

    name: str = "calculator"
    description: str = (
        "Evaluates an arithmetic expression exactly: numbers, + - * / // % **, "
        "parentheses, sqrt, log, sin, cos, tan, floor, ceil, factorial, round, abs, "
        "min, max, pi, e. Input: the expression."
    )
    args_schema: type[BaseModel] = _Expression

    def _run(self, expression: str) -> str:
        try:
            result = calculate(expression)
        except CalculationError as exc:
            return f"Cannot calculate: {exc}"
        except (OverflowError, RecursionError, MemoryError):
            return "Cannot calculate: the numbers are too large"
        return repr(result) if isinstance(result, float) else str(result)


BUILTIN_TOOLS: dict[str, Callable[[], BaseTool]] = {
    "current_time": CurrentTimeTool,
    "calculator": CalculatorTool,
}
