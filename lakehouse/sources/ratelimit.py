"""Client-side rate limiters that read the APIs' headers, stay under the limits and say when to go on.

Strava: `X-RateLimit-Limit/-Usage` and `X-ReadRateLimit-Limit/-Usage`, each "15-minute,daily"; windows reset
at :00/:15/:30/:45 UTC and at midnight UTC. Fitbit: `Fitbit-Rate-Limit-Limit/-Remaining/-Reset` (seconds to
the top of the hour), 150 requests an hour. Headers may be missing (Strava's streams answers carry none) or
empty (`","`): the limiter then counts its own calls.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from lakehouse.sources.clock import (
    HOUR_SECONDS,
    Clock,
    from_epoch,
    iso_utc,
    next_hour,
    next_quarter_hour,
    next_utc_midnight,
    parse_iso_utc,
    quarter_hour_index,
)
from lakehouse.sources.errors import DailyLimitReached, HourlyLimitReached, RateLimitedError

log = logging.getLogger(__name__)

STRAVA_READ_LIMITS = (100, 1000)  # default non-upload limits: per 15 minutes, per day
FITBIT_HOURLY_LIMIT = 150
WINDOW_SLACK_SECONDS = 2.0  # wait a little past a window boundary: the server's clock may lag ours
RATE_LIMIT_HEADER_PREFIXES = ("x-ratelimit-", "x-readratelimit-", "fitbit-rate-limit-")


class RateLimiter(Protocol):
    """What the HTTP client asks of a limiter."""

    def before_request(self) -> None:
        """Wait until a call is allowed, or raise a `SyncStop` saying when to come back."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from a response's headers (or count the call when they are absent)."""

    def after_rate_limited(self, headers: Mapping[str, str]) -> None:
        """A 429 came back: make the next `before_request` wait for a fresh window."""

    def seconds_for_calls(self, calls: int) -> float:
        """How long `calls` more calls take under the limits (waits only, not the calls themselves)."""

    def describe(self) -> str:
        """Current usage, for the progress line."""

    def snapshot(self) -> dict[str, Any]:
        """What to keep in the state file so the next run starts with what this one knew."""

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take back a snapshot if its windows are still current."""


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Only the rate-limit headers of a response, with lower-cased names (for the call ledger)."""
    return {
        name.lower(): value for name, value in headers.items() if name.lower().startswith(RATE_LIMIT_HEADER_PREFIXES)
    }


def _as_int(text: str) -> int | None:
    """A count or a number of seconds; None for junk and for negatives (no limit, usage or wait is below 0)."""
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def parse_limit_pair(value: str | None) -> tuple[int | None, int | None]:
    """`"100,1000"` -> (100, 1000); `","`, `""`, None or junk -> None in the unknown places."""
    if not value:
        return None, None
    parts = value.split(",")
    first = _as_int(parts[0]) if parts[0].strip() else None
    second = _as_int(parts[1]) if len(parts) > 1 and parts[1].strip() else None
    return first, second


@dataclass(frozen=True)
class StravaUsage:
    """Usage and limits for the 15-minute and the daily window; None where the headers did not say."""

    short_usage: int | None
    short_limit: int | None
    daily_usage: int | None
    daily_limit: int | None


def _binding(pairs: list[tuple[int | None, int | None]]) -> tuple[int | None, int | None]:
    """Of several (usage, limit) pairs, the one with the least room left."""
    known = [(usage, limit) for usage, limit in pairs if usage is not None and limit is not None]
    if known:
        return min(known, key=lambda pair: pair[1] - pair[0])  # type: ignore[operator]
    usages = [usage for usage, _ in pairs if usage is not None]
    return (max(usages) if usages else None), None


def strava_usage(headers: Mapping[str, str]) -> StravaUsage:
    """Combine the overall and the read limits of a GET response: the tighter one binds."""
    lowered = {name.lower(): value for name, value in headers.items()}
    read_usage = parse_limit_pair(lowered.get("x-readratelimit-usage"))
    read_limit = parse_limit_pair(lowered.get("x-readratelimit-limit"))
    all_usage = parse_limit_pair(lowered.get("x-ratelimit-usage"))
    all_limit = parse_limit_pair(lowered.get("x-ratelimit-limit"))
    short = _binding([(read_usage[0], read_limit[0]), (all_usage[0], all_limit[0])])
    daily = _binding([(read_usage[1], read_limit[1]), (all_usage[1], all_limit[1])])
    return StravaUsage(short[0], short[1], daily[0], daily[1])


class StravaRateLimiter:
    """Keeps a client under Strava's 15-minute and daily limits; stops (or waits) when the day is spent."""

    def __init__(
        self,
        clock: Clock,
        *,
        short_limit: int = STRAVA_READ_LIMITS[0],
        daily_limit: int = STRAVA_READ_LIMITS[1],
        short_reserve: int = 0,
        daily_reserve: int = 0,
        wait_for_daily_reset: bool = False,
        slack_seconds: float = WINDOW_SLACK_SECONDS,
    ) -> None:
        self.clock = clock
        self.short_limit = short_limit
        self.daily_limit = daily_limit
        self.short_reserve = short_reserve
        self.daily_reserve = daily_reserve
        self.wait_for_daily_reset = wait_for_daily_reset
        self.slack = timedelta(seconds=slack_seconds)
        self.short_used = 0
        self.daily_used = 0
        now = clock.now()
        self._window = quarter_hour_index(now)
        self._day = now.date()

    def _roll(self) -> datetime:
        now = self.clock.now()
        if now.date() != self._day:
            self._day, self.daily_used, self.short_used = now.date(), 0, 0
        if quarter_hour_index(now) != self._window:
            self._window, self.short_used = quarter_hour_index(now), 0
        return now

    def _short_room(self) -> int:
        return self.short_limit - self.short_reserve - self.short_used

    def _daily_room(self) -> int:
        return self.daily_limit - self.daily_reserve - self.daily_used

    def before_request(self) -> None:
        """Sleep to the next 15-minute window when this one is spent; at the daily limit stop or wait."""
        while True:
            now = self._roll()
            if self._daily_room() <= 0:
                resume_at = next_utc_midnight(now) + self.slack
                if not self.wait_for_daily_reset:
                    raise DailyLimitReached(
                        f"Strava's daily request budget is spent ({self.daily_used}/{self.daily_limit}); "
                        f"run again after {iso_utc(resume_at)} to continue where this run stopped",
                        resume_at,
                    )
                log.info("daily Strava budget spent; waiting until %s", iso_utc(resume_at))
                self.clock.sleep((resume_at - now).total_seconds())
                continue
            if self._short_room() <= 0:
                resume_at = next_quarter_hour(now) + self.slack
                if self.short_limit - self.short_reserve <= 0:  # a fresh window would not help: never loop on it
                    raise RateLimitedError(
                        f"Strava's 15-minute limit ({self.short_limit}) leaves no calls above the reserve "
                        f"({self.short_reserve}); run again after {iso_utc(resume_at)}",
                        resume_at,
                    )
                log.info("15-minute Strava budget spent; waiting until %s", iso_utc(resume_at))
                self.clock.sleep((resume_at - now).total_seconds())
                continue
            return

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the server's counts when the headers carry them; otherwise count this call ourselves."""
        self._roll()
        usage = strava_usage(headers)
        if usage.short_limit:
            self.short_limit = usage.short_limit
        if usage.daily_limit:
            self.daily_limit = usage.daily_limit
        self.short_used = usage.short_usage if usage.short_usage is not None else self.short_used + 1
        self.daily_used = usage.daily_usage if usage.daily_usage is not None else self.daily_used + 1

    def after_rate_limited(self, headers: Mapping[str, str]) -> None:
        """After a 429: unless the day is spent, treat the 15-minute window as spent."""
        self._roll()
        if self._daily_room() > 0:
            self.short_used = max(self.short_used, self.short_limit)

    def seconds_for_calls(self, calls: int) -> float:
        """Simulate the windows ahead: how long until `calls` more calls have been allowed."""
        now = self._roll()
        moment = now
        short_room, daily_room = max(self._short_room(), 0), max(self._daily_room(), 0)
        short_full = max(self.short_limit - self.short_reserve, 1)
        daily_full = max(self.daily_limit - self.daily_reserve, 1)
        remaining = calls
        while remaining > 0:
            take = min(remaining, short_room, daily_room)
            remaining, short_room, daily_room = remaining - take, short_room - take, daily_room - take
            if remaining <= 0:
                break
            if daily_room <= 0:
                moment = next_utc_midnight(moment)
                daily_room, short_room = daily_full, short_full
            else:
                moment = next_quarter_hour(moment)
                short_room = short_full
        return (moment - now).total_seconds()

    def describe(self) -> str:
        """`15-min 87/100 · day 412/1000`."""
        self._roll()
        return f"15-min {self.short_used}/{self.short_limit} · day {self.daily_used}/{self.daily_limit}"

    def snapshot(self) -> dict[str, Any]:
        """The counts and the windows they belong to."""
        now = self._roll()
        return {
            "observed_at": iso_utc(now),
            "short_used": self.short_used,
            "short_limit": self.short_limit,
            "daily_used": self.daily_used,
            "daily_limit": self.daily_limit,
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Reuse a previous run's counts for whichever windows are still the current ones."""
        try:
            observed = parse_iso_utc(str(data["observed_at"]))
            self.short_limit = int(data.get("short_limit") or self.short_limit)
            self.daily_limit = int(data.get("daily_limit") or self.daily_limit)
            now = self._roll()
            if observed.date() == now.date():
                self.daily_used = max(self.daily_used, int(data["daily_used"]))
                if quarter_hour_index(observed) == quarter_hour_index(now):
                    self.short_used = max(self.short_used, int(data["short_used"]))
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring an unreadable rate-limit snapshot in the state file")


def _header(headers: Mapping[str, str], name: str) -> int | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    value = lowered.get(name)
    return _as_int(value) if value else None


def _fitbit_reset_seconds(headers: Mapping[str, str]) -> int | None:
    """`Fitbit-Rate-Limit-Reset`: seconds to the top of the hour, so never more than an hour (a bigger value
    would have the client sleep for it)."""
    reset = _header(headers, "fitbit-rate-limit-reset")
    return min(reset, HOUR_SECONDS) if reset is not None else None


class FitbitRateLimiter:
    """Keeps a client under Fitbit's hourly limit using `Fitbit-Rate-Limit-Remaining` and `-Reset`."""

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = FITBIT_HOURLY_LIMIT,
        reserve: int = 0,
        max_wait_seconds: float | None = None,
        slack_seconds: float = WINDOW_SLACK_SECONDS,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.reserve = reserve
        self.max_wait_seconds = max_wait_seconds
        self.slack = timedelta(seconds=slack_seconds)
        self.remaining = limit
        self.reset_at = next_hour(clock.now())

    def _roll(self) -> datetime:
        now = self.clock.now()
        if now >= self.reset_at:
            self.remaining, self.reset_at = self.limit, next_hour(now)
        return now

    def before_request(self) -> None:
        """Sleep until the reset when the hour is spent (or stop, if that is longer than allowed)."""
        now = self._roll()
        if self.remaining > self.reserve:
            return
        resume_at = self.reset_at + self.slack
        wait = (resume_at - now).total_seconds()
        if self.max_wait_seconds is not None and wait > self.max_wait_seconds:
            raise HourlyLimitReached(
                f"Fitbit's hourly request budget is spent; run again after {iso_utc(resume_at)}", resume_at
            )
        log.info("hourly Fitbit budget spent; waiting until %s", iso_utc(resume_at))
        self.clock.sleep(wait)
        self._roll()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take `Remaining` and `Reset` (seconds) from the headers, or count the call."""
        now = self._roll()
        limit = _header(headers, "fitbit-rate-limit-limit")
        remaining = _header(headers, "fitbit-rate-limit-remaining")
        reset = _fitbit_reset_seconds(headers)
        if limit:
            self.limit = limit
        self.remaining = remaining if remaining is not None else self.remaining - 1
        if reset is not None:
            self.reset_at = now + timedelta(seconds=reset)

    def after_rate_limited(self, headers: Mapping[str, str]) -> None:
        """After a 429: nothing left until the reset the headers give (or the top of the hour)."""
        now = self._roll()
        reset = _fitbit_reset_seconds(headers)
        self.reset_at = now + timedelta(seconds=reset) if reset is not None else next_hour(now)
        self.remaining = 0

    def seconds_for_calls(self, calls: int) -> float:
        """Whole hours of budget ahead, after what is left in this one."""
        now = self._roll()
        left_now = max(self.remaining - self.reserve, 0)
        if calls <= left_now:
            return 0.0
        per_hour = max(self.limit - self.reserve, 1)
        extra_hours = -(-(calls - left_now) // per_hour) - 1
        return (self.reset_at - now).total_seconds() + extra_hours * 3600.0

    def describe(self) -> str:
        """`hour 37/150 left`."""
        self._roll()
        return f"hour {self.remaining}/{self.limit} left"

    def snapshot(self) -> dict[str, Any]:
        """What is left and when it resets."""
        return {"remaining": self.remaining, "limit": self.limit, "reset_at": iso_utc(self.reset_at)}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Reuse a previous run's count if its hour has not reset yet."""
        try:
            reset_at = parse_iso_utc(str(data["reset_at"]))
            if reset_at > self.clock.now():
                self.limit = int(data.get("limit") or self.limit)
                self.remaining = min(self.remaining, int(data["remaining"]))
                self.reset_at = reset_at
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring an unreadable rate-limit snapshot in the state file")


GOOGLE_HEALTH_PER_MINUTE_LIMIT = 300  # requests per minute per user (developers.google.com/health/rate-limits)
MINUTE_SECONDS = 60
MAX_RETRY_AFTER_WAIT_SECONDS = HOUR_SECONDS  # a longer Retry-After stops the run instead of sleeping through it
MAX_RESUME_DELAY = timedelta(days=1)  # the latest "run again after" a Retry-After can set


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> int | None:
    """`Retry-After` as seconds from `now`: delay-seconds or an HTTP-date (RFC 9110); None when absent or junk.

    Example: `Retry-After: 120` -> 120; `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` -> the seconds until then
    (0 once it has passed); `Retry-After: -5` or `soon` -> None.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    value = (lowered.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return _as_int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(math.ceil((when - now).total_seconds()), 0)


def _next_minute(when: datetime) -> datetime:
    seconds = int(when.timestamp())
    return from_epoch((seconds // MINUTE_SECONDS + 1) * MINUTE_SECONDS)


class PerMinuteRateLimiter:
    """Keeps a client under a per-minute request quota (the Google Health API: 300 a minute per user).

    Google sends no usage headers (documented: none), so the limiter counts its own calls per clock minute
    and, after a 429, waits for the next minute (or the `Retry-After` seconds when the answer has one).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = GOOGLE_HEALTH_PER_MINUTE_LIMIT,
        slack_seconds: float = WINDOW_SLACK_SECONDS,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.slack = timedelta(seconds=slack_seconds)
        self.used = 0
        self.window_end = _next_minute(clock.now())
        self.waits = 0

    def _roll(self) -> datetime:
        now = self.clock.now()
        if now >= self.window_end:
            self.used, self.window_end = 0, _next_minute(now)
        return now

    def before_request(self) -> None:
        """Sleep to the next minute when this minute's calls are spent."""
        now = self._roll()
        if self.used < self.limit:
            return
        wait = (self.window_end + self.slack - now).total_seconds()
        log.info("per-minute budget spent; waiting %.0f s", wait)
        self.waits += 1
        self.clock.sleep(wait)
        self._roll()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Count the call (the API sends no usage headers)."""
        self._roll()
        self.used += 1

    def after_rate_limited(self, headers: Mapping[str, str]) -> None:
        """After a 429: nothing left until `Retry-After` seconds pass, or until the next minute; a `Retry-After`
        longer than `MAX_RETRY_AFTER_WAIT_SECONDS` stops the run (`RateLimitedError`) instead of sleeping."""
        now = self._roll()
        retry_after = retry_after_seconds(headers, now)
        if retry_after is not None and retry_after > MAX_RETRY_AFTER_WAIT_SECONDS:
            resume_at = now + timedelta(seconds=min(retry_after, MAX_RESUME_DELAY.total_seconds()))
            raise RateLimitedError(
                f"the server asked to wait {retry_after} s (Retry-After), longer than the "
                f"{MAX_RETRY_AFTER_WAIT_SECONDS} s a run waits; run again after {iso_utc(resume_at)}",
                resume_at,
            )
        if retry_after is not None:
            self.window_end = now + timedelta(seconds=retry_after)
        self.used = self.limit

    def seconds_for_calls(self, calls: int) -> float:
        """Whole minutes of budget ahead, after what is left in this one."""
        now = self._roll()
        left_now = max(self.limit - self.used, 0)
        if calls <= left_now:
            return 0.0
        extra_minutes = -(-(calls - left_now) // max(self.limit, 1)) - 1
        return (self.window_end - now).total_seconds() + extra_minutes * MINUTE_SECONDS

    def describe(self) -> str:
        """`minute 37/300`."""
        self._roll()
        return f"minute {self.used}/{self.limit}"

    def snapshot(self) -> dict[str, Any]:
        """The count and the end of its minute."""
        return {"used": self.used, "limit": self.limit, "window_end": iso_utc(self.window_end)}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Reuse a previous run's count if its minute is still the current one."""
        try:
            window_end = parse_iso_utc(str(data["window_end"]))
            if window_end > self.clock.now():
                self.used = max(self.used, int(data["used"]))
                self.window_end = window_end
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring an unreadable rate-limit snapshot in the state file")
