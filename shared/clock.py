"""The system's time. In AWS it is the clock; under `arcollect local --today D` every handler and command sees
day D (with the wall-clock time of day, so stamps stay ordered) — `ARCOLLECT_TODAY` reaches the settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def clock_for(today: dt.date | str | None) -> Clock:
    """Now, or — with a fixed today — the wall-clock time of day on that date, in UTC."""
    if today is None or today == "":
        return lambda: dt.datetime.now(dt.UTC)
    day = dt.date.fromisoformat(today) if isinstance(today, str) else today
    return lambda: dt.datetime.combine(day, dt.datetime.now(dt.UTC).timetz())
