"""Time as an argument: the real clock for real runs, a manual one so tests and demos never sleep.

API clients and stand-in servers share one `Clock`: when a client "sleeps" until the next rate-limit window
on a `ManualClock`, the stand-in's windows move forward with it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

QUARTER_HOUR_SECONDS = 15 * 60
HOUR_SECONDS = 60 * 60


class Clock(Protocol):
    """Tells the time (timezone-aware, UTC) and waits."""

    def now(self) -> datetime:
        """The current time, UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""


class SystemClock:
    """The wall clock and `time.sleep`."""

    def now(self) -> datetime:
        """The current time, UTC."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Really wait."""
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A thread-safe clock that only moves when told to; `sleep` advances it instantly.

    Example: `clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC)); clock.sleep(900)` is 15 minutes later.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self.slept_seconds = 0.0

    def now(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` without waiting."""
        with self._lock:
            if seconds > 0:
                self._now += timedelta(seconds=seconds)
                self.slept_seconds += seconds

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.sleep(delta.total_seconds())

    def set(self, when: datetime) -> None:
        """Jump to `when` (forward only)."""
        with self._lock:
            if when < self._now:
                raise ValueError("ManualClock only moves forward")
            self._now = when.astimezone(UTC)


def epoch_seconds(when: datetime) -> int:
    """Whole seconds since 1970-01-01 UTC."""
    return int(when.timestamp())


def from_epoch(seconds: float) -> datetime:
    """A UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def next_quarter_hour(when: datetime) -> datetime:
    """The next :00/:15/:30/:45 boundary strictly after `when` (UTC)."""
    seconds = when.timestamp()
    return from_epoch((int(seconds) // QUARTER_HOUR_SECONDS + 1) * QUARTER_HOUR_SECONDS)


def next_hour(when: datetime) -> datetime:
    """The next top of the hour strictly after `when` (UTC)."""
    seconds = when.timestamp()
    return from_epoch((int(seconds) // HOUR_SECONDS + 1) * HOUR_SECONDS)


def next_utc_midnight(when: datetime) -> datetime:
    """The next midnight UTC strictly after `when`."""
    day = when.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def quarter_hour_index(when: datetime) -> int:
    """Which 15-minute window `when` falls in (counted from the epoch)."""
    return int(when.timestamp()) // QUARTER_HOUR_SECONDS


def iso_utc(when: datetime) -> str:
    """`2025-10-19T20:00:00Z`: the format Strava uses and the landing zone keeps."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(text: str) -> datetime:
    """Parse `2025-10-19T20:00:00Z` (or any ISO 8601 with an offset) to a UTC datetime."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC; 9999-12-31T23:59-01:00 in year 10000
        raise ValueError(f"{text!r} is outside the years 1 to 9999 in UTC") from None
