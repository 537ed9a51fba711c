"""The system's time. In AWS it is the clock; under `arcollect local --today D` every handler and command sees
day D — `ARCOLLECT_TODAY` reaches the settings.

A fixed day must be D for every customer, whatever its timezone: the portal's days past due, a promise's
horizon and the dunning day are all read in the customer's own zone. So the fixed clock does not keep the
wall-clock time of day (at 00:30 UTC a customer in New York would still be on D-1); it maps the wall-clock
day onto the hour around noon UTC, 11:30 to 12:30, which is day D from UTC-11:30 to UTC+11:30. Stamps stay
ordered within a day (the mapping is monotonic); the system's time runs 24 times slower than the wall
clock, so a 60-minute session lasts a real day under `--today`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]

DAY = dt.timedelta(days=1)
COMPRESSION = 24  # one wall-clock day onto one hour


def clock_for(today: dt.date | str | None, wall: Clock | None = None) -> Clock:
    """Now, or — with a fixed today — an instant of the hour around noon UTC on that date, moving with the
    wall clock (`wall`, the real clock unless a test gives one)."""
    real = wall or (lambda: dt.datetime.now(dt.UTC))
    if today is None or today == "":
        return real
    day = dt.date.fromisoformat(today) if isinstance(today, str) else today
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    def fixed() -> dt.datetime:
        instant = real().astimezone(dt.UTC)
        since_midnight = instant - instant.replace(hour=0, minute=0, second=0, microsecond=0)
        return noon + (since_midnight - DAY / 2) / COMPRESSION

    return fixed
