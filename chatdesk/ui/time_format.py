"""Human-friendly times and the date groups of the thread list.

Kept free of Qt so the rules (what counts as "Yesterday", how a time is shortened) are
plain functions a test can pin down with a fixed ``now``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

TODAY = "Today"
YESTERDAY = "Yesterday"
PREVIOUS_7_DAYS = "Previous 7 days"
OLDER = "Older"
PINNED = "Pinned"


def local(moment: datetime) -> datetime:
    """``moment`` in the local time zone (the store keeps aware UTC times)."""
    return moment.astimezone()


def now_local() -> datetime:
    return datetime.now().astimezone()


def local_today() -> date:
    """Today's local date, read cheaply: ``date.today()`` imports ``time`` on every call,
    and under PySide's import hook that costs ~6 µs; the thread list asks once a row."""
    return datetime.now().date()


def date_group(moment: datetime, now: datetime | None = None) -> str:
    """Today, Yesterday, Previous 7 days or Older, by local calendar day."""
    today = (now or now_local()).date()
    day = local(moment).date()
    if day >= today:
        return TODAY
    if day == today - timedelta(days=1):
        return YESTERDAY
    if day >= today - timedelta(days=7):
        return PREVIOUS_7_DAYS
    return OLDER


def short_time(moment: datetime, now: datetime | None = None) -> str:
    """14:05 today, a weekday this week, else 12 Mar (with the year if it differs)."""
    now = now or now_local()
    when = local(moment)
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if now.date() - when.date() < timedelta(days=7):
        return when.strftime("%a")
    if when.year == now.year:
        return f"{when.day} {when.strftime('%b')}"
    return f"{when.day} {when.strftime('%b %Y')}"


def message_time(moment: datetime, now: datetime | None = None) -> str:
    """14:05 for today's messages, 12 Mar 14:05 for older ones."""
    now = now or now_local()
    when = local(moment)
    if when.date() == now.date():
        return when.strftime("%H:%M")
    return f"{short_time(moment, now)} {when.strftime('%H:%M')}"


def full_time(moment: datetime | None) -> str:
    """A complete local timestamp for detail panes; an em dash for none."""
    if moment is None:
        return "—"
    return local(moment).strftime("%Y-%m-%d %H:%M:%S")


def long_time(moment: datetime | None) -> str:
    """A moment as a person reads it in a tooltip: "Sunday 6 December 2026, 23:14:05"."""
    if moment is None:
        return "—"
    shown = local(moment)
    return f"{shown:%A} {shown.day} {shown:%B %Y, %H:%M:%S}"
