"""How a reply's tokens and cost read under its bubble, and a chat's in the header.

Why one place: the bubble's status line, the header's total and their tests say the
same numbers the same way: ``1,234 in · 56 out · $0.0012`` (tokens with thousands
separators; dollars to two decimals, or to two significant digits below a cent, so a
cheap reply does not read as free).
"""

from __future__ import annotations

from chatdesk.runs.usage_costs import ReplyUsage

SEPARATOR = " · "


def cost_text(cost: float) -> str:
    """``$1.23``, ``$0.0012``, ``<$0.0001``, ``$0`` (a local model's)."""
    if cost <= 0:
        return "$0"
    if cost >= 0.01:
        return f"${cost:,.2f}"
    if cost < 0.0001:
        return "<$0.0001"
    return f"${cost:.2g}" if cost >= 0.001 else f"${cost:.4f}".rstrip("0")


def tokens_text(count: int) -> str:
    """A token count for a narrow header: ``950``, ``12.3k``, ``1.25M``."""
    if count < 10_000:
        return f"{count:,}"
    if count < 1_000_000:
        return f"{count / 1000:.1f}k".replace(".0k", "k")
    return f"{count / 1_000_000:.2f}M"


def usage_text(usage: ReplyUsage | None) -> str:
    """The bubble's words for a reply's usage ("" when there is none)."""
    if usage is None:
        return ""
    words = f"{usage.tokens_in:,} in{SEPARATOR}{usage.tokens_out:,} out"
    return words if usage.cost is None else f"{words}{SEPARATOR}{cost_text(usage.cost)}"
