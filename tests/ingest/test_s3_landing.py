"""The same sync lands in an S3 bucket (moto's in-process S3): the landing zone is only an ObjectStore."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from ingest_support import assert_each_exactly_once, generate_activities, id_counts, read_landed

from lakehouse.config import S3Settings
from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.mapmyrun import import_csv
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.sources.sync import load_state
from lakehouse.storage import S3Store
from lakehouse_demo.standins.strava import StravaFaults, StravaStandin

BUCKET = "lake"


@pytest.fixture
def s3_landing(monkeypatch: pytest.MonkeyPatch) -> Iterator[LandingZone]:
    """A landing zone at s3://lake/landing in moto's in-process S3."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield LandingZone(S3Store(f"s3://{BUCKET}/landing", S3Settings(), client=client))


def test_strava_sync_with_a_stop_and_resume_lands_in_s3(
    clock: ManualClock, s3_landing: LandingZone, strava_settings: Callable[..., StravaSettings]
) -> None:
    data = generate_activities(300, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    with StravaStandin(data, clock=clock, faults=StravaFaults(daily_budget_ends_after_calls=3)) as standin:
        settings = strava_settings(standin, per_page=50)
        first = sync_strava(settings, s3_landing, clock=clock, progress=None)
        assert first.stopped_reason == "daily_limit"
        assert load_state(s3_landing.store, "strava")["pass"] is not None
        assert first.resume_at is not None
        clock.set(first.resume_at)
        second = sync_strava(settings, s3_landing, clock=clock, progress=None)

    assert second.completed, second.message
    assert_each_exactly_once(
        id_counts(read_landed(s3_landing, "strava", "activities")), {a["id"] for a in data}
    )
    assert all(
        f.uri.startswith("s3://lake/landing/strava/activities/month=") for f in first.files + second.files
    )
    keys = s3_landing.store.list_keys("_ledger/strava/")
    assert keys and all(json.loads(s3_landing.store.read_bytes(k)) for k in keys)


def test_mapmyrun_import_lands_in_s3(s3_landing: LandingZone) -> None:
    header = (
        "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (mi),"
        "Workout Time (seconds),Avg Pace (min/mi),Max Pace,Avg Speed (mi/h),Max Speed,"
        "Avg Heart Rate,Steps,Notes,Source,Link"
    )
    row = '"June 11, 2017","June 11, 2017",Run,315,3.08999,1215,6.55,0,9.16031,0,,3626,,,http://x/2255711738'
    landed = import_csv(f"{header}\n{row}\n".encode(), s3_landing, "run-s3")
    assert [f.uri for f in landed] == ["s3://lake/landing/mapmyrun/workouts/month=2017-06/run-s3--export.csv"]


def test_the_first_bytes_of_an_object_and_of_an_empty_one(s3_landing: LandingZone) -> None:
    store = s3_landing.store
    store.write_bytes("race/telemetry/date=2024-07-01/a.csv", b"rider_id,timestamp\n11,2024\n")
    store.write_bytes("race/telemetry/date=2024-07-01/empty.csv", b"")
    assert store.read_head("race/telemetry/date=2024-07-01/a.csv", 8) == b"rider_id"
    assert store.read_head("race/telemetry/date=2024-07-01/a.csv", 1000) == b"rider_id,timestamp\n11,2024\n"
    assert store.read_head("race/telemetry/date=2024-07-01/empty.csv", 8) == b""
    with pytest.raises(FileNotFoundError):
        store.read_head("race/telemetry/date=2024-07-01/missing.csv", 8)
