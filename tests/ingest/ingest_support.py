"""Helpers for the ingestion tests: an activity generator, landed-file readers, the exactly-once check.

The generator is deliberately independent of `lakehouse.sample`: expectations here never come from the
code under test.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lakehouse.landing import LandingZone
from lakehouse.sources.http import HttpSettings

REALDATA = Path(
    os.environ.get("LAKEHOUSE_REALDATA") or Path(__file__).resolve().parents[3] / "shared" / "realdata"
)
START_OF_TESTS = datetime(2025, 3, 4, 9, 7, 30, tzinfo=UTC)  # a Tuesday, 7.5 minutes into a window
ATHLETE_ID = 26462176
TEST_HTTP = HttpSettings(
    connect_timeout=1.0, read_timeout=2.0, max_retries=3, backoff_factor=0.001, trust_env=False
)
SPORTS = (("Run", "Run"), ("Ride", "Ride"), ("Run", "TrailRun"), ("Walk", "Walk"), ("Swim", "Swim"))


def realdata(*parts: str) -> Path:
    """A file under `../shared/realdata`, or skip when this checkout has none."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


def generate_activities(
    count: int,
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    first_id: int = 1_000_000_000,
    same_second_every: int = 40,
) -> list[dict[str, Any]]:
    """SummaryActivity dicts spread over [start, end), ids rising with time, some sharing a start second."""
    rng = random.Random(seed)
    step = (end - start) / count
    activities: list[dict[str, Any]] = []
    for index in range(count):
        if index and same_second_every and index % same_second_every == 0:
            started = datetime.fromisoformat(activities[-1]["start_date"].replace("Z", "+00:00"))
        else:
            started = (
                start
                + step * index
                + timedelta(seconds=rng.randint(0, max(int(step.total_seconds()) // 2, 1)))
            )
        activity_type, sport = SPORTS[rng.randrange(len(SPORTS))]
        distance = round(rng.uniform(1500, 42000), 1)
        moving = int(distance / rng.uniform(2.2, 7.5))
        gps = sport != "Swim"
        latlng = [round(52.37 + rng.uniform(-0.05, 0.05), 6), round(4.89 + rng.uniform(-0.05, 0.05), 6)]
        activity: dict[str, Any] = {
            "resource_state": 2,
            "athlete": {"id": ATHLETE_ID, "resource_state": 1},
            "name": f"{sport} #{index}",
            "distance": distance,
            "moving_time": moving,
            "elapsed_time": moving + rng.randint(0, 600),
            "total_elevation_gain": rng.choice([0, round(rng.uniform(0, 400), 1)]),
            "type": activity_type,
            "sport_type": sport,
            "id": first_id + index,
            "start_date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_date_local": (started + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timezone": "(GMT+01:00) Europe/Amsterdam",
            "utc_offset": 3600.0,
            "kudos_count": rng.randint(0, 30),
            "start_latlng": latlng if gps else [],
            "end_latlng": latlng if gps else [],
            "map": {"id": f"a{first_id + index}", "summary_polyline": "", "resource_state": 2},
            "average_speed": round(distance / max(moving, 1), 3),
            "max_speed": rng.choice([0, round(rng.uniform(3, 15), 3)]),
            "has_heartrate": rng.random() < 0.8,
        }
        if activity["has_heartrate"]:
            activity.update(average_heartrate=round(rng.uniform(110, 170), 1), max_heartrate=180.0)
        activities.append(activity)
    return activities


def read_landed(landing: LandingZone, source: str, entity: str) -> list[dict[str, Any]]:
    """Every record of every landed JSON file of one entity (read straight from the files)."""
    records: list[dict[str, Any]] = []
    for key in landing.list_files(source, entity):
        records += json.loads(landing.store.read_bytes(key))
    return records


def id_counts(records: list[dict[str, Any]], key: str = "id") -> Counter[int]:
    """How many times each id was landed."""
    return Counter(int(record[key]) for record in records)


def assert_each_exactly_once(landed: Counter[int], expected: set[int]) -> None:
    """No gap (every expected id landed) and no duplicate (none landed twice), with readable diffs."""
    missing = expected - set(landed)
    extra = set(landed) - expected
    doubled = {key: n for key, n in landed.items() if n > 1}
    assert not missing, f"{len(missing)} activities never landed, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} unexpected ids landed, e.g. {sorted(extra)[:5]}"
    assert not doubled, f"{len(doubled)} ids landed more than once, e.g. {sorted(doubled.items())[:5]}"


def month_of(start_date: str) -> str:
    """`2025-10` from `2025-10-19T20:00:00Z` (start dates are UTC with a Z)."""
    return start_date[:7]


def epoch(start_date: str) -> int:
    """Epoch seconds of a Strava `start_date`."""
    return int(datetime.strptime(start_date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def landed_files(landing: LandingZone, prefix: str) -> dict[str, bytes]:
    """Every landed file under `prefix`, by key."""
    return {key: landing.store.read_bytes(key) for key in landing.store.list_keys(prefix)}
