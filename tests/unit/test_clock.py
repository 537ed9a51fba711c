"""A fixed `--today` is that date for every customer, whatever its timezone and whatever the wall clock says."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from shared.clock import clock_for

DAY = dt.date(2026, 3, 2)
ZONES = ["America/Los_Angeles", "America/New_York", "UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo"]
WALL = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.just(dt.UTC))


@given(wall=WALL, zone=st.sampled_from(ZONES))
def test_a_fixed_day_is_that_date_in_every_customers_timezone_at_any_wall_clock_time(
    wall: dt.datetime, zone: str
) -> None:
    now = clock_for(DAY, wall=lambda: wall)()

    assert now.astimezone(ZoneInfo(zone)).date() == DAY


@given(first=WALL, gap=st.timedeltas(min_value=dt.timedelta(microseconds=24), max_value=dt.timedelta(hours=1)))
def test_stamps_of_a_fixed_day_keep_the_order_of_the_wall_clock_within_a_day(
    first: dt.datetime, gap: dt.timedelta
) -> None:
    later = first + gap
    if later.date() != first.date():
        return  # the wall clock's midnight starts the fixed hour over, as the day itself would
    clock_a, clock_b = clock_for(DAY, wall=lambda: first), clock_for(DAY, wall=lambda: later)

    assert clock_a() < clock_b()


def test_the_wall_clocks_midnight_noon_and_end_of_day_map_onto_the_hour_around_noon_utc() -> None:
    def at(hour: int, minute: int = 0) -> dt.datetime:
        wall = dt.datetime(2026, 11, 24, hour, minute, tzinfo=dt.UTC)
        return clock_for("2026-03-02", wall=lambda: wall)()

    assert at(0) == dt.datetime(2026, 3, 2, 11, 30, tzinfo=dt.UTC)
    assert at(12) == dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    assert at(23, 59) > dt.datetime(2026, 3, 2, 12, 29, tzinfo=dt.UTC)


def test_without_a_fixed_day_the_clock_is_the_wall_clock() -> None:
    wall = dt.datetime(2026, 11, 24, 0, 26, tzinfo=dt.UTC)

    assert clock_for(None, wall=lambda: wall)() == wall
    assert clock_for("", wall=lambda: wall)() == wall
