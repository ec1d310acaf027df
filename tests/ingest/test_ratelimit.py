"""Rate-limit header parsing and the limiters' waits, stops and estimates, on a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from ingest_support import realdata

from lakehouse.sources.clock import ManualClock, next_hour, next_quarter_hour, next_utc_midnight
from lakehouse.sources.errors import DailyLimitReached, HourlyLimitReached
from lakehouse.sources.progress import ProgressLine, format_duration
from lakehouse.sources.ratelimit import (
    FitbitRateLimiter,
    StravaRateLimiter,
    StravaUsage,
    parse_limit_pair,
    rate_limit_headers,
    strava_usage,
)

AT_10_07 = datetime(2025, 3, 4, 10, 7, 0, tzinfo=UTC)


def strava_headers(usage: str, limit: str = "100,1000") -> dict[str, str]:
    """Read headers as Strava sends them on a GET."""
    return {
        "X-Ratelimit-Limit": "200,2000",
        "X-Ratelimit-Usage": usage,
        "X-Readratelimit-Limit": limit,
        "X-Readratelimit-Usage": usage,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100,1000", (100, 1000)),
        ("8,151", (8, 151)),
        (",", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
        ("12", (12, None)),
        ("a,b", (None, None)),
        (" 7 , 9 ", (7, 9)),
    ],
)
def test_parse_limit_pair_tolerates_empty_and_junk(value: str | None, expected: tuple) -> None:
    assert parse_limit_pair(value) == expected


def test_the_recorded_post_with_an_empty_read_usage_falls_back_to_the_overall_limit() -> None:
    cassette = yaml.safe_load(realdata("strava", "create_activity.yml").read_text())
    recorded = cassette["http_interactions"][0]["response"]["headers"]
    headers = {name: values[0] for name, values in recorded.items()}
    assert headers["X-Readratelimit-Usage"] == ","
    assert strava_usage(headers) == StravaUsage(
        short_usage=66, short_limit=200, daily_usage=209, daily_limit=2000
    )


def test_the_tighter_of_the_read_and_overall_limits_binds() -> None:
    headers = {
        "X-Ratelimit-Limit": "200,2000",
        "X-Ratelimit-Usage": "150,1990",
        "X-Readratelimit-Limit": "100,1000",
        "X-Readratelimit-Usage": "20,400",
    }
    # 15 min: read leaves 80, overall 50 -> overall; day: read leaves 600, overall 10 -> overall
    assert strava_usage(headers) == StravaUsage(150, 200, 1990, 2000)


def test_missing_headers_mean_unknown_usage() -> None:
    assert strava_usage({}) == StravaUsage(None, None, None, None)
    assert rate_limit_headers({"Content-Type": "x", "X-RateLimit-Usage": "1,2"}) == {
        "x-ratelimit-usage": "1,2"
    }


def test_window_boundaries() -> None:
    assert next_quarter_hour(AT_10_07) == datetime(2025, 3, 4, 10, 15, tzinfo=UTC)
    assert next_quarter_hour(datetime(2025, 3, 4, 10, 15, tzinfo=UTC)) == datetime(
        2025, 3, 4, 10, 30, tzinfo=UTC
    )
    assert next_quarter_hour(datetime(2025, 3, 4, 23, 59, tzinfo=UTC)) == datetime(2025, 3, 5, tzinfo=UTC)
    assert next_utc_midnight(AT_10_07) == datetime(2025, 3, 5, tzinfo=UTC)
    assert next_hour(AT_10_07) == datetime(2025, 3, 4, 11, tzinfo=UTC)


def test_strava_limiter_waits_for_the_next_quarter_when_the_window_is_spent() -> None:
    clock = ManualClock(AT_10_07)
    limiter = StravaRateLimiter(clock)
    limiter.observe(strava_headers("99,500"))
    limiter.before_request()  # one call left in this window: no wait
    assert clock.now() == AT_10_07
    limiter.observe(strava_headers("100,501"))
    limiter.before_request()
    assert clock.now() == datetime(2025, 3, 4, 10, 15, 2, tzinfo=UTC)
    assert limiter.short_used == 0 and limiter.daily_used == 501


def test_strava_limiter_stops_at_the_daily_limit_with_a_resume_time() -> None:
    clock = ManualClock(AT_10_07)
    limiter = StravaRateLimiter(clock)
    limiter.observe(strava_headers("40,1000"))
    with pytest.raises(DailyLimitReached, match="2025-03-05T00:00:02Z") as stop:
        limiter.before_request()
    assert stop.value.resume_at == datetime(2025, 3, 5, 0, 0, 2, tzinfo=UTC)
    assert clock.now() == AT_10_07


def test_strava_limiter_can_wait_for_the_daily_reset_instead() -> None:
    clock = ManualClock(AT_10_07)
    limiter = StravaRateLimiter(clock, wait_for_daily_reset=True)
    limiter.observe(strava_headers("40,1000"))
    limiter.before_request()
    assert clock.now() == datetime(2025, 3, 5, 0, 0, 2, tzinfo=UTC)


def test_strava_limiter_counts_calls_itself_when_headers_are_missing() -> None:
    clock = ManualClock(AT_10_07)
    limiter = StravaRateLimiter(clock)
    limiter.observe(strava_headers("97,300"))
    for _ in range(3):  # e.g. stream answers, which carry no rate-limit headers
        limiter.before_request()
        limiter.observe({})
    assert (limiter.short_used, limiter.daily_used) == (100, 303)
    limiter.before_request()
    assert clock.now() == datetime(2025, 3, 4, 10, 15, 2, tzinfo=UTC)


def test_a_429_marks_the_window_spent_unless_the_day_is() -> None:
    clock = ManualClock(AT_10_07)
    limiter = StravaRateLimiter(clock)
    limiter.observe(strava_headers("12,300"))
    limiter.after_rate_limited({})
    limiter.before_request()
    assert clock.now() == datetime(2025, 3, 4, 10, 15, 2, tzinfo=UTC)


def test_strava_estimate_walks_the_windows_ahead() -> None:
    clock = ManualClock(AT_10_07)
    limiter = StravaRateLimiter(clock)
    limiter.observe(strava_headers("90,500"))
    assert limiter.seconds_for_calls(10) == 0  # fits in this window
    assert limiter.seconds_for_calls(30) == 8 * 60  # 10 now, 20 after 10:15
    # 500 left today: 10 now, then 100 per window from 10:15 -> the 500th call is in the 10:45+60 min window
    assert (
        limiter.seconds_for_calls(500)
        == (datetime(2025, 3, 4, 11, 15, tzinfo=UTC) - AT_10_07).total_seconds()
    )
    # 510 does not fit today: the rest waits for tomorrow's first window
    assert limiter.seconds_for_calls(510) == (datetime(2025, 3, 5, tzinfo=UTC) - AT_10_07).total_seconds()


def test_strava_snapshot_is_reused_only_within_its_windows() -> None:
    clock = ManualClock(AT_10_07)
    first = StravaRateLimiter(clock)
    first.observe(strava_headers("60,700"))
    same_window = StravaRateLimiter(clock)
    same_window.restore(first.snapshot())
    assert (same_window.short_used, same_window.daily_used) == (60, 700)
    clock.sleep(20 * 60)
    next_window = StravaRateLimiter(clock)
    next_window.restore(first.snapshot())
    assert (next_window.short_used, next_window.daily_used) == (0, 700)


def fitbit_headers(remaining: int, reset: int) -> dict[str, str]:
    """Fitbit's rate-limit headers."""
    return {
        "Fitbit-Rate-Limit-Limit": "150",
        "Fitbit-Rate-Limit-Remaining": str(remaining),
        "Fitbit-Rate-Limit-Reset": str(reset),
    }


def test_fitbit_limiter_waits_for_the_reset_the_headers_give() -> None:
    clock = ManualClock(AT_10_07)
    limiter = FitbitRateLimiter(clock)
    limiter.observe(fitbit_headers(remaining=1, reset=53 * 60))
    limiter.before_request()
    assert clock.now() == AT_10_07
    limiter.observe(fitbit_headers(remaining=0, reset=53 * 60))
    limiter.before_request()
    assert clock.now() == datetime(2025, 3, 4, 11, 0, 2, tzinfo=UTC)
    assert limiter.remaining == 150


def test_fitbit_limiter_stops_when_the_wait_is_longer_than_allowed() -> None:
    clock = ManualClock(AT_10_07)
    limiter = FitbitRateLimiter(clock, max_wait_seconds=600)
    limiter.observe(fitbit_headers(remaining=0, reset=53 * 60))
    with pytest.raises(HourlyLimitReached) as stop:
        limiter.before_request()
    assert stop.value.resume_at == datetime(2025, 3, 4, 11, 0, 2, tzinfo=UTC)


def test_fitbit_estimate_counts_whole_hours() -> None:
    clock = ManualClock(AT_10_07)
    limiter = FitbitRateLimiter(clock)
    limiter.observe(fitbit_headers(remaining=50, reset=53 * 60))
    assert limiter.seconds_for_calls(50) == 0
    assert limiter.seconds_for_calls(51) == 53 * 60
    assert limiter.seconds_for_calls(50 + 150 + 1) == 53 * 60 + 3600


def test_progress_line_shows_at_most_once_a_second() -> None:
    from io import StringIO

    ticks = iter([0.0, 0.5, 1.2, 1.2, 1.3])  # shown at 0.0, skipped at 0.5, shown at 1.2, final at 1.3
    stream = StringIO()
    line = ProgressLine(stream, monotonic=lambda: next(ticks))
    for text in ("one", "two", "three"):
        line.show(text)
    line.finish("done")
    assert stream.getvalue().splitlines() == ["one", "three", "done"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "?"),
        (0, "0s"),
        (45, "45s"),
        (750, "12m 30s"),
        (3 * 3600 + 300, "3h 05m"),
        (2 * 86400 + 3 * 3600, "2d 3h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
