"""When a touch may go out (PRODUCT.md 1.3 rule 6): the customer's weekdays, minus public holidays, between
the window's hours in the customer's own timezone.

Pure: the day and the timezone are arguments, holidays come from the kept `holidays` library and instants
from zoneinfo, so a window opens at 09:00 local time on both sides of a daylight-saving change. Data we do
not know never stops a run: an unknown country has no holidays and an unknown timezone is read as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.dunning.model import SendWindow

# A window has at least one weekday, so a send day is at most a week away, or a few weeks in a country
# with long holidays; a year without one means the window is broken, not that the loop should go on.
MAX_SEARCH_DAYS = 366
CUSTOMER_COUNTRY = "customer"
_ONE_DAY = timedelta(days=1)


class NoSendDayError(ValueError):
    """The window has no send day within a year (no weekdays, or every one a holiday)."""


def holiday_region(window: SendWindow, country: str | None) -> tuple[str, str | None] | None:
    """(country, subdivision) whose public holidays close the window, or None for none."""
    spec = country if window.holidays == CUSTOMER_COUNTRY else window.holidays
    if not spec or not spec.strip():
        return None
    code, _, subdivision = spec.strip().upper().partition("-")
    return code, subdivision or None


@lru_cache(maxsize=4096)
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays (observed days included) of a country or subdivision in one year; none for a
    country or subdivision the library does not know."""
    try:
        import holidays  # ~0.35 s: only what plans a send window pays for it, not every importer of local_date

        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        return frozenset()
    return frozenset(calendar)


def is_holiday(window: SendWindow, day: date, country: str | None) -> bool:
    region = holiday_region(window, country)
    return region is not None and day in public_holidays(region[0], region[1], day.year)


def is_send_day(window: SendWindow, day: date, country: str | None) -> bool:
    """A weekday of the window that is not a public holiday of its calendar (`country` is the customer's,
    used when the window says holidays: customer)."""
    return day.weekday() in window.weekdays and not is_holiday(window, day, country)


def next_send_day(window: SendWindow, day: date, country: str | None) -> date:
    """`day` when it is a send day, else the first send day after it."""
    candidate = day
    for _ in range(MAX_SEARCH_DAYS):
        if is_send_day(window, candidate, country):
            return candidate
        candidate += _ONE_DAY
    raise NoSendDayError(f"the send window has no send day in the {MAX_SEARCH_DAYS} days from {day.isoformat()}")


@lru_cache(maxsize=1024)
def zone(timezone: str | None) -> tzinfo:
    """The IANA timezone, or UTC for a name zoneinfo does not know (or one that is not a zone name at all)."""
    if not timezone:
        return UTC
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _instant(day: date, at: time, timezone: str | None) -> datetime:
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone(timezone)).astimezone(UTC)


def opens_at(window: SendWindow, day: date, timezone: str | None) -> datetime:
    """The UTC instant the window opens on that local day."""
    return _instant(day, window.start, timezone)


def closes_at(window: SendWindow, day: date, timezone: str | None) -> datetime:
    """The UTC instant the window closes on that local day."""
    return _instant(day, window.end, timezone)


def local_date(instant: datetime, timezone: str | None) -> date:
    """The customer's calendar day at `instant` (a naive instant is taken as UTC)."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(zone(timezone)).date()


def is_open(window: SendWindow, instant: datetime, timezone: str | None, country: str | None) -> bool:
    """Whether a touch may leave at `instant`: a send day, local time in [start, end)."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    day = local_date(aware, timezone)
    if not is_send_day(window, day, country):
        return False
    return opens_at(window, day, timezone) <= aware < closes_at(window, day, timezone)
