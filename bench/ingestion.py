"""Ingestion rates through the real clients against the stand-ins, and what a backfill costs under real limits.

- Strava: a ten-year history (the 1x person's activities) served by the Strava stand-in with its rate limits
  off (huge windows); `sync_strava` pulls it, with activity details and streams when asked (two more calls per
  activity: what a full backfill needs). Activities per second = activities landed / wall time.
- Google Health: `days` of the stand-in's demo points (heart rate every 10 minutes, steps and distance every 15,
  altitude and floors hourly, the daily types) with the per-minute limit off; datapoints per second.
- The backfill time under the real limits is computed from the call ledger the run landed (its request count
  per endpoint), not from the client's own limiter: Strava's read limits are 100 requests per 15 minutes and
  1,000 per day (windows at :00/:15/:30/:45 and midnight UTC), Google's 300 requests per minute per user.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from lakehouse.config import SampleSettings
from lakehouse.landing import LandingZone
from lakehouse.sources.credentials import Secret
from lakehouse.sources.google_health import GoogleHealthSettings, sync_google_health
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.storage import LocalStore
from lakehouse_demo.sample import strava as sample_strava
from lakehouse_demo.standins.google_health import GoogleHealthStandin, demo_points
from lakehouse_demo.standins.strava import StravaLimits, StravaStandin

STRAVA_READS_PER_15_MIN = 100
STRAVA_READS_PER_DAY = 1000
GOOGLE_PER_MINUTE = 300
NO_LIMIT = 10**9


@dataclass(frozen=True)
class IngestionFigures:
    """One client's run: what it landed, its calls (from the ledger), its rate, the backfill under real limits."""

    source: str
    records: int
    record_kind: str
    api_calls: int
    wall_seconds: float
    records_per_second: float
    backfill_hours_real_limits: float


def strava_backfill_seconds(calls: int) -> float:
    """Seconds until `calls` reads are allowed, starting at a fresh day: 100 per 15-minute window, 1,000 a day."""
    if calls <= 0:
        return 0.0
    full_days, rest = divmod(calls, STRAVA_READS_PER_DAY)
    if rest == 0:  # the last day's budget ends in its last window that has calls
        full_days, rest = full_days - 1, STRAVA_READS_PER_DAY
    windows = math.ceil(rest / STRAVA_READS_PER_15_MIN)
    return full_days * 86400 + (windows - 1) * 900


def google_backfill_seconds(calls: int) -> float:
    """Seconds until `calls` requests are allowed at 300 a minute (starting at a fresh minute)."""
    return max(math.ceil(calls / GOOGLE_PER_MINUTE) - 1, 0) * 60.0


def ledger_calls(landing: LandingZone, source: str) -> int:
    """API requests the run's call ledger recorded (token refreshes excluded: they do not count against limits)."""
    calls = 0
    for key in landing.store.list_keys(f"_ledger/{source}/"):
        calls += sum(1 for call in json.loads(landing.store.read_bytes(key)) if "token" not in call["endpoint"])
    return calls


def strava_rate(sample: SampleSettings, root: Path, details_and_streams: bool) -> IngestionFigures:
    """Pull the sample's history from the Strava stand-in with its limits off."""
    activities = sample_strava.generate_activities(sample)
    landing = LandingZone(LocalStore(str(root / "landing")))
    unlimited = StravaLimits(short=NO_LIMIT, daily=NO_LIMIT, read_short=NO_LIMIT, read_daily=NO_LIMIT)
    with StravaStandin(activities, limits=unlimited) as standin:
        settings = StravaSettings(
            client_id=standin.client_id,
            client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token),
            token_file=root / "config" / "strava-token.json",
            base_url=standin.base_url,
            fetch_details=details_and_streams,
            fetch_streams=details_and_streams,
        )
        started = time.monotonic()
        report = sync_strava(settings, landing, progress=None)
        wall = time.monotonic() - started
    if not report.completed:
        raise RuntimeError(f"the Strava pull did not complete: {report.message}")
    calls = ledger_calls(landing, "strava")
    label = "strava (list + details + streams)" if details_and_streams else "strava (list)"
    hours = strava_backfill_seconds(calls) / 3600
    return IngestionFigures(label, report.activities_landed, "activities", calls, round(wall, 2),
                            round(report.activities_landed / wall, 1), round(hours, 2))  # fmt: skip


def google_rate(days: int, root: Path, last_day: date = date(2024, 12, 31)) -> IngestionFigures:
    """Pull `days` of the Google Health stand-in's demo points with the per-minute limit off."""
    first_day = last_day - timedelta(days=days - 1)
    points = demo_points(first_day, days)
    landing = LandingZone(LocalStore(str(root / "landing")))
    with GoogleHealthStandin(points, per_minute_limit=NO_LIMIT) as standin:
        settings = GoogleHealthSettings(
            client_id=standin.client_id,
            client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token),
            token_file=root / "config" / "google-health-token.json",
            user_id="bench",
            base_url=standin.base_url,
            token_url=standin.token_url,
            start_date=first_day,
            per_minute_limit=NO_LIMIT,
        )
        started = time.monotonic()
        report = sync_google_health(settings, landing, progress=None, today=last_day)
        wall = time.monotonic() - started
    if not report.completed:
        raise RuntimeError(f"the Google Health pull did not complete: {report.message}")
    calls = ledger_calls(landing, "google_health")
    hours = google_backfill_seconds(calls) / 3600
    return IngestionFigures("google health", report.records_landed, "datapoints", calls, round(wall, 2),
                            round(report.records_landed / wall, 1), round(hours, 2))  # fmt: skip


def measure(sample: SampleSettings, google_days: int, with_extras: bool = True) -> list[IngestionFigures]:
    """Every ingestion figure, each pull in its own temporary landing zone."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-ingest-") as tmp:
        figures.append(strava_rate(sample, Path(tmp) / "list", details_and_streams=False))
        if with_extras:
            figures.append(strava_rate(sample, Path(tmp) / "full", details_and_streams=True))
        figures.append(google_rate(google_days, Path(tmp) / "google"))
    return figures
