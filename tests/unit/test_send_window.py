"""The send window (rule 6): weekdays minus public holidays, hours in the customer's own timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.dunning.model import SendWindow
from shared.dunning.window import (
    NoSendDayError,
    closes_at,
    is_open,
    is_send_day,
    local_date,
    next_send_day,
    opens_at,
    public_holidays,
)

WEEKDAYS_ONLY = SendWindow()
US_HOLIDAYS = SendWindow(holidays="US")
CUSTOMER_HOLIDAYS = SendWindow(holidays="customer")

FRIDAY = date(2026, 3, 6)
SATURDAY = date(2026, 3, 7)
MONDAY = date(2026, 3, 9)
INDEPENDENCE_DAY_OBSERVED = date(2026, 7, 3)  # a Friday: July 4th 2026 is a Saturday
LINCOLNS_BIRTHDAY = date(2026, 2, 12)  # a Thursday, a holiday in New York only
BOXING_DAY_OBSERVED = date(2026, 12, 28)  # a Monday in Great Britain, a working day in the US


def test_a_weekday_of_the_window_is_a_send_day_and_a_weekend_day_is_not() -> None:
    assert is_send_day(WEEKDAYS_ONLY, FRIDAY, "US")
    assert not is_send_day(WEEKDAYS_ONLY, SATURDAY, "US")
    assert not is_send_day(WEEKDAYS_ONLY, SATURDAY + timedelta(days=1), "US")


def test_a_window_may_open_on_saturdays_when_the_policy_lists_them() -> None:
    assert is_send_day(SendWindow(weekdays=frozenset({5})), SATURDAY, None)


def test_an_observed_public_holiday_closes_the_window_only_when_the_window_names_holidays() -> None:
    assert not is_send_day(US_HOLIDAYS, INDEPENDENCE_DAY_OBSERVED, None)
    assert is_send_day(WEEKDAYS_ONLY, INDEPENDENCE_DAY_OBSERVED, None)


def test_a_subdivision_has_its_own_holidays_on_top_of_the_countrys() -> None:
    assert not is_send_day(SendWindow(holidays="US-NY"), LINCOLNS_BIRTHDAY, None)
    assert is_send_day(US_HOLIDAYS, LINCOLNS_BIRTHDAY, None)
    assert not is_send_day(SendWindow(holidays="US-NY"), INDEPENDENCE_DAY_OBSERVED, None)


def test_customer_holidays_follow_the_customers_own_country() -> None:
    assert not is_send_day(CUSTOMER_HOLIDAYS, BOXING_DAY_OBSERVED, "GB")
    assert is_send_day(CUSTOMER_HOLIDAYS, BOXING_DAY_OBSERVED, "US")
    assert not is_send_day(CUSTOMER_HOLIDAYS, INDEPENDENCE_DAY_OBSERVED, "us")


def test_a_customer_without_a_country_or_with_an_unknown_one_has_no_holidays() -> None:
    assert is_send_day(CUSTOMER_HOLIDAYS, BOXING_DAY_OBSERVED, None)
    assert is_send_day(CUSTOMER_HOLIDAYS, BOXING_DAY_OBSERVED, "ZZ")
    assert is_send_day(SendWindow(holidays="US-ZZ"), INDEPENDENCE_DAY_OBSERVED, None)


def test_a_holiday_calendar_is_built_once_per_country_and_year() -> None:
    public_holidays.cache_clear()
    for _ in range(3):
        is_send_day(US_HOLIDAYS, INDEPENDENCE_DAY_OBSERVED, None)
        is_send_day(US_HOLIDAYS, INDEPENDENCE_DAY_OBSERVED - timedelta(days=1), None)
    assert public_holidays.cache_info().misses == 1


def test_the_next_send_day_of_a_send_day_is_that_day() -> None:
    assert next_send_day(US_HOLIDAYS, FRIDAY, None) == FRIDAY


def test_a_weekend_moves_to_monday_and_a_friday_holiday_past_the_weekend() -> None:
    assert next_send_day(WEEKDAYS_ONLY, SATURDAY, None) == MONDAY
    assert next_send_day(US_HOLIDAYS, INDEPENDENCE_DAY_OBSERVED, None) == date(2026, 7, 6)


def test_a_window_without_send_days_is_refused_instead_of_searched_forever() -> None:
    with pytest.raises(NoSendDayError):
        next_send_day(SendWindow(weekdays=frozenset()), FRIDAY, None)


windows = st.builds(
    SendWindow,
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    holidays=st.sampled_from([None, "US", "US-NY", "GB", "DE", "customer"]),
)


@given(windows, st.dates(date(2024, 1, 1), date(2030, 12, 31)), st.sampled_from([None, "US", "GB", "CA", "ZZ"]))
def test_the_next_send_day_is_the_first_send_day_on_or_after_the_day(
    window: SendWindow, day: date, country: str | None
) -> None:
    found = next_send_day(window, day, country)
    assert found >= day
    assert is_send_day(window, found, country)
    assert not any(is_send_day(window, day + timedelta(days=n), country) for n in range((found - day).days))


def test_the_window_opens_at_nine_local_time_on_both_sides_of_a_daylight_saving_change() -> None:
    # New York moved from UTC-5 to UTC-4 on Sunday 8 March 2026.
    assert opens_at(WEEKDAYS_ONLY, FRIDAY, "America/New_York") == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert opens_at(WEEKDAYS_ONLY, MONDAY, "America/New_York") == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert closes_at(WEEKDAYS_ONLY, FRIDAY, "America/New_York") == datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
    assert closes_at(WEEKDAYS_ONLY, MONDAY, "America/New_York") == datetime(2026, 3, 9, 21, 0, tzinfo=UTC)


def test_the_window_follows_the_customers_hours_east_of_utc() -> None:
    window = SendWindow(start=time(8, 30), end=time(16, 0))
    assert opens_at(window, date(2026, 7, 1), "Europe/Berlin") == datetime(2026, 7, 1, 6, 30, tzinfo=UTC)
    assert closes_at(window, date(2026, 1, 5), "Asia/Tokyo") == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "", "../../etc/passwd", None])
def test_an_unknown_timezone_is_read_as_utc(timezone: str | None) -> None:
    assert opens_at(WEEKDAYS_ONLY, FRIDAY, timezone) == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def test_the_local_date_is_the_customers_calendar_day() -> None:
    instant = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert local_date(instant, "America/Los_Angeles") == date(2026, 3, 9)
    assert local_date(instant, "Asia/Tokyo") == date(2026, 3, 10)
    assert local_date(datetime(2026, 3, 10, 3, 0), "America/Los_Angeles") == date(2026, 3, 9)  # naive is UTC


def test_the_window_is_open_from_its_start_until_just_before_its_end_on_a_send_day() -> None:
    new_york = "America/New_York"
    assert not is_open(US_HOLIDAYS, datetime(2026, 3, 9, 12, 59, tzinfo=UTC), new_york, None)
    assert is_open(US_HOLIDAYS, datetime(2026, 3, 9, 13, 0, tzinfo=UTC), new_york, None)
    assert is_open(US_HOLIDAYS, datetime(2026, 3, 9, 20, 59, tzinfo=UTC), new_york, None)
    assert not is_open(US_HOLIDAYS, datetime(2026, 3, 9, 21, 0, tzinfo=UTC), new_york, None)
    assert not is_open(US_HOLIDAYS, datetime(2026, 7, 3, 15, 0, tzinfo=UTC), new_york, None)


@given(st.dates(date(2024, 1, 1), date(2030, 12, 31)), st.sampled_from(["America/New_York", "Europe/London", "UTC"]))
def test_a_window_opens_before_it_closes_and_both_fall_on_the_local_day(day: date, timezone: str) -> None:
    opening, closing = opens_at(WEEKDAYS_ONLY, day, timezone), closes_at(WEEKDAYS_ONLY, day, timezone)
    assert opening < closing
    assert local_date(opening, timezone) == day == local_date(closing, timezone)
