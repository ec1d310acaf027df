"""Google Health sync against the stand-in: pages, the per-minute limit, expired tokens, resume; legacy 410."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_support import TEST_HTTP, read_landed

from jobs.ingest import report_exit
from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.fitbit import FitbitSettings, sync_fitbit
from lakehouse.sources.google_health import DATA_TYPES, GoogleHealthSettings, point_id, sync_google_health
from lakehouse.sources.sync import load_state
from lakehouse_demo.standins.fitbit import FitbitFaults, FitbitStandin
from lakehouse_demo.standins.google_health import (
    ALWAYS,
    GoogleHealthFaults,
    GoogleHealthStandin,
    demo_points,
    heart_rate_point,
    parse_filter,
)

FIRST_DAY = date(2025, 3, 1)
TODAY = date(2025, 3, 3)  # three local days, 1 to 3 March


def make_settings(standin: GoogleHealthStandin, token_dir: Path, **overrides: Any) -> GoogleHealthSettings:
    """Settings pointing at the stand-in (API and token endpoint), fast retries."""
    settings = GoogleHealthSettings(
        client_id=standin.client_id,
        client_secret=Secret(standin.client_secret),
        refresh_token=Secret(standin.refresh_token),
        token_file=token_dir / "google-health-token.json",
        user_id="ana",
        base_url=standin.base_url,
        token_url=standin.token_url,
        start_date=FIRST_DAY,
        page_size=100,
        http=TEST_HTTP,
    )
    return replace(settings, **overrides)


def landed_ids(landing: LandingZone) -> Counter[tuple[str, str]]:
    """How many times each (data type, point id) landed, over every file."""
    return Counter(
        (record["data_type"], record["point_id"])
        for name in DATA_TYPES
        for record in read_landed(landing, "google_health", name)
    )


def expected_ids(points: dict[str, list[dict[str, Any]]]) -> Counter[tuple[str, str]]:
    """Each served point once."""
    return Counter((name, point_id(p)) for name, values in points.items() for p in values)


def test_every_point_lands_once_over_several_pages(clock: ManualClock, landing: LandingZone, token_dir: Path) -> None:
    points = demo_points(FIRST_DAY, 3)
    with GoogleHealthStandin(points, clock=clock) as standin:
        report = sync_google_health(make_settings(standin, token_dir), landing, clock=clock, progress=None, today=TODAY)
    assert report.completed, report.message
    assert landed_ids(landing) == expected_ids(points)
    # 432 heart-rate points at 100 a page: 5 pages; 288 steps: 3 pages; the daily types 1 page each.
    heart_calls = [r for r in standin.requests if r[1].endswith("/heart-rate/dataPoints")]
    assert len(heart_calls) == 5
    assert load_state(landing.store, "google_health")["through"]["heart-rate"] == "2025-03-03"
    assert load_state(landing.store, "google_health")["cursor"] == {}
    record = read_landed(landing, "google_health", "steps")[0]
    assert record["user_id"] == "ana" and record["route"] == "google-health-api"
    assert isinstance(record["data_point"]["steps"]["count"], str)  # int64 as a JSON string, kept as returned
    # One month folder per month of the points' UTC time: 1 March 00:00 local is 28 Feb 23:00 UTC.
    months = {key.split("/")[2] for key in landing.list_files("google_health", "heart-rate")}
    assert months == {"month=2025-02", "month=2025-03"}


def test_ledger_and_token_file_hold_no_secret(clock: ManualClock, landing: LandingZone, token_dir: Path) -> None:
    points = {"steps": demo_points(FIRST_DAY, 1)["steps"]}
    with GoogleHealthStandin(points, clock=clock) as standin:
        settings = make_settings(standin, token_dir, data_types=("steps",))
        report = sync_google_health(settings, landing, clock=clock, progress=None, today=FIRST_DAY)
    ledger = [json.loads(landing.store.read_bytes(f.key)) for f in report.ledger_files]
    text = json.dumps(ledger) + json.dumps(read_landed(landing, "google_health", "steps"))
    assert standin.client_secret not in text and standin.refresh_token not in text and "ya29." not in text
    calls = [r for batch in ledger for r in batch if r["method"] == "GET"]
    assert {c["params"]["pageSize"] for c in calls} == {"100"}
    assert calls[0]["params"]["filter"] == (
        'steps.interval.start_time >= "2025-02-28T00:00:00Z" AND steps.interval.start_time < "2025-03-03T00:00:00Z"'
    )
    assert oct((token_dir / "google-health-token.json").stat().st_mode & 0o777) == "0o600"


def test_429_at_the_per_minute_limit_waits_for_the_next_minute(
    clock: ManualClock, landing: LandingZone, token_dir: Path
) -> None:
    points = demo_points(FIRST_DAY, 3)
    # The server allows 4 calls a minute while the client believes 300: every fifth call in a minute is a 429.
    with GoogleHealthStandin(points, clock=clock, per_minute_limit=4) as standin:
        report = sync_google_health(make_settings(standin, token_dir), landing, clock=clock, progress=None, today=TODAY)
    assert report.completed, report.message
    assert standin.rate_limited >= 3
    assert clock.slept_seconds >= 60 * standin.rate_limited - 60  # each 429 waited for a fresh minute
    assert landed_ids(landing) == expected_ids(points)


def test_client_stays_under_the_per_minute_limit(clock: ManualClock, landing: LandingZone, token_dir: Path) -> None:
    points = {"heart-rate": demo_points(FIRST_DAY, 1)["heart-rate"]}
    # The same quota on both sides (50 a minute instead of 300, to keep the test small): the client waits.
    with GoogleHealthStandin(points, clock=clock, per_minute_limit=50) as standin:
        settings = make_settings(standin, token_dir, data_types=("heart-rate",), page_size=1, per_minute_limit=50)
        report = sync_google_health(settings, landing, clock=clock, progress=None, today=FIRST_DAY)
    assert report.completed, report.message
    assert standin.rate_limited == 0  # 144 one-point pages over three minutes, never a 429
    assert standin.api_calls == 144 and clock.slept_seconds >= 60


def test_expired_token_is_refreshed_once_and_the_run_goes_on(
    clock: ManualClock, landing: LandingZone, token_dir: Path
) -> None:
    points = demo_points(FIRST_DAY, 3)
    faults = GoogleHealthFaults(expire_tokens_after_calls=3)
    with GoogleHealthStandin(points, clock=clock, faults=faults) as standin:
        report = sync_google_health(make_settings(standin, token_dir), landing, clock=clock, progress=None, today=TODAY)
    assert report.completed, report.message
    assert standin.token_refreshes == 2
    assert [status for _, _, status in standin.requests].count(401) == 1
    assert landed_ids(landing) == expected_ids(points)


def test_stopped_run_resumes_at_the_saved_page(clock: ManualClock, landing: LandingZone, token_dir: Path) -> None:
    points = demo_points(FIRST_DAY, 3)
    faults = GoogleHealthFaults(server_error_pages={("heart-rate", 3): ALWAYS})
    with GoogleHealthStandin(points, clock=clock, faults=faults) as standin:
        settings = make_settings(standin, token_dir, checkpoint_pages=1)
        first = sync_google_health(settings, landing, clock=clock, progress=None, today=TODAY)
        assert first.stopped_reason == "server_error"
        cursor = load_state(landing.store, "google_health")["cursor"]["heart-rate"]
        assert cursor["start"] == "2025-03-01" and cursor["page_token"]
        assert sum(n for (t, _), n in landed_ids(landing).items() if t == "heart-rate") == 300  # pages 0-2
        faults.server_error_pages.clear()
        second = sync_google_health(settings, landing, clock=clock, progress=None, today=TODAY)
    assert second.completed, second.message
    ledger = [r for f in second.ledger_files for r in json.loads(landing.store.read_bytes(f.key))]
    heart_calls = [r for r in ledger if r["method"] == "GET" and r["params"]["data_type"] == "heart-rate"]
    assert len(heart_calls) == 2  # pages 3 and 4 only: the resume token, not the window again
    assert heart_calls[0]["params"]["pageToken"] == cursor["page_token"]
    assert landed_ids(landing) == expected_ids(points)


def test_next_run_starts_at_the_watermark_minus_one_day(
    clock: ManualClock, landing: LandingZone, token_dir: Path
) -> None:
    points = {"steps": demo_points(FIRST_DAY, 5)["steps"]}
    with GoogleHealthStandin(points, clock=clock) as standin:
        settings = make_settings(standin, token_dir, data_types=("steps",))
        sync_google_health(settings, landing, clock=clock, progress=None, today=date(2025, 3, 2))
        second = sync_google_health(settings, landing, clock=clock, progress=None, today=date(2025, 3, 5))
    filters = [json.loads(landing.store.read_bytes(f.key)) for f in second.ledger_files]
    first_filter = next(r for batch in filters for r in batch if r["method"] == "GET")["params"]["filter"]
    assert first_filter.startswith('steps.interval.start_time >= "2025-03-01T00:00:00Z"')
    # The overlap day came twice (two files); every point of the five days is there at least once.
    assert set(landed_ids(landing)) == set(expected_ids(points))


def test_stand_in_filter_follows_aip_160() -> None:
    assert parse_filter("heart-rate", 'heart_rate.sample_time.physical_time >= "2025-03-01T00:00:00+01:00"') == [
        ("physical", ">=", "2025-02-28T23:00:00Z")
    ]
    with pytest.raises(ValueError, match="Invalid filter"):
        parse_filter("heart-rate", 'steps.interval.start_time >= "2025-03-01T00:00:00Z"')


def test_stand_in_pages_newest_first_and_truncates_page_size(clock: ManualClock) -> None:
    from datetime import UTC, datetime, timedelta

    import requests

    start = datetime(2025, 3, 1, tzinfo=UTC)
    points = [heart_rate_point(start + timedelta(seconds=5 * n), 3600, 60 + n % 30) for n in range(10_050)]
    with GoogleHealthStandin({"heart-rate": points}, clock=clock) as standin:
        token = requests.post(standin.token_url, data={"grant_type": "refresh_token", "client_id": standin.client_id,
                              "client_secret": standin.client_secret, "refresh_token": standin.refresh_token},
                              timeout=5).json()["access_token"]  # fmt: skip
        url = standin.base_url + "/v4/users/me/dataTypes/heart-rate/dataPoints"
        headers = {"Authorization": f"Bearer {token}"}
        default = requests.get(url, headers=headers, timeout=5).json()
        biggest = requests.get(url, headers=headers, params={"pageSize": 20_000}, timeout=5).json()
    assert len(default["dataPoints"]) == 1440 and "nextPageToken" in default
    assert len(biggest["dataPoints"]) == 10_000
    times = [p["heartRate"]["sampleTime"]["physicalTime"] for p in default["dataPoints"]]
    assert times == sorted(times, reverse=True)


# ---- the legacy Fitbit Web API is gone ---------------------------------------------------------------------
def test_legacy_fitbit_410_says_where_to_go_and_lands_nothing(
    clock: ManualClock, landing: LandingZone, token_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FitbitStandin({}, clock=clock, faults=FitbitFaults(gone=True)) as standin:
        settings = FitbitSettings(
            client_id=standin.client_id, client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token), token_file=token_dir / "fitbit-token.json",
            base_url=standin.base_url, start_date=date(2025, 3, 1), http=TEST_HTTP,
        )  # fmt: skip
        report = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2025, 3, 2))
    assert report.stopped_reason == "gone"
    assert "ingest google-health" in report.message and "ingest takeout" in report.message
    assert "\n" not in report.message
    assert report_exit(report) == 1
    assert "410" in capsys.readouterr().out
    assert all(not landing.list_files("fitbit", r) for r in ("heart", "steps", "calories"))


def test_legacy_fitbit_410_after_a_token_mid_run(clock: ManualClock, landing: LandingZone, token_dir: Path) -> None:
    faults = FitbitFaults()
    days = {"2025-03-01": {}}
    with FitbitStandin(days, clock=clock, faults=faults) as standin:
        settings = FitbitSettings(
            client_id=standin.client_id, client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token), token_file=token_dir / "fitbit-token.json",
            base_url=standin.base_url, start_date=date(2025, 3, 1), resources=("steps",), http=TEST_HTTP,
        )  # fmt: skip
        first = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2025, 3, 1))
        faults.gone = True
        second = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2025, 3, 3))
    assert first.completed and second.stopped_reason == "gone"
    # The day landed before the switch-off stays; the watermark did not move past it.
    assert [r["date"] for r in read_landed(landing, "fitbit", "steps")] == ["2025-03-01"]
    assert load_state(landing.store, "fitbit")["through"]["steps"] == "2025-03-01"


def test_cli_google_health_against_the_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jobs.ingest import main

    points = {name: values for name, values in demo_points(FIRST_DAY, 1).items() if name == "steps"}
    with GoogleHealthStandin(points) as standin:
        env = {
            "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
            "GOOGLE_HEALTH_CLIENT_ID": standin.client_id,
            "GOOGLE_HEALTH_CLIENT_SECRET": standin.client_secret,
            "GOOGLE_HEALTH_REFRESH_TOKEN": standin.refresh_token,
            "GOOGLE_HEALTH_TOKEN_FILE": str(tmp_path / "config" / "google.json"),
            "GOOGLE_HEALTH_BASE_URL": standin.base_url,
            "GOOGLE_HEALTH_TOKEN_URL": standin.token_url,
            "GOOGLE_HEALTH_DATA_TYPES": "steps",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(["--env", "test", "google-health", "--user", "ana", "--start-date", "2025-03-01"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "96 records landed" in out  # one local day of quarter hours
    assert standin.client_secret not in out + err and standin.refresh_token not in out + err


def test_cli_google_health_without_credentials_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from jobs.ingest import main

    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    for name in ("GOOGLE_HEALTH_CLIENT_ID", "GOOGLE_HEALTH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--env", "test", "google-health"]) == 1
    assert "GOOGLE_HEALTH_CLIENT_ID" in capsys.readouterr().err


def test_demo_syncs_the_sample_fitbit_days_from_the_google_health_stand_in(tmp_path: Path) -> None:
    from jobs.ingest import _demo_google_health
    from lakehouse.config import load_settings
    from lakehouse.sources.clock import ManualClock
    from lakehouse.storage import LocalStore

    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": str(tmp_path / "lake")})
    landing = LandingZone(LocalStore(settings.landing_root))
    clock = ManualClock(datetime(2025, 1, 1, 6, tzinfo=UTC))
    report = _demo_google_health(settings, landing, clock, tmp_path / "tokens", None, quiet=True)
    assert report.completed, report.message
    days = settings.sample.fitbit_days
    assert report.landed["heart-rate"] == 144 * days and report.landed["daily-resting-heart-rate"] == days
