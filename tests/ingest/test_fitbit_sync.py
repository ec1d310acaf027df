"""Fitbit sync against the stand-in: one day per request per resource, 150 an hour, token rules, faults."""

from __future__ import annotations

import json
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from ingest_support import TEST_HTTP, read_landed, realdata

from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.fitbit import FitbitSettings, plan_days, sync_fitbit
from lakehouse.sources.sync import load_state
from lakehouse.standins.fitbit import ALWAYS, FitbitFaults, FitbitStandin

SettingsFor = Callable[..., FitbitSettings]
RESOURCES = ("heart", "steps", "calories", "distance", "elevation", "floors")


def days_between(first: date, last: date) -> list[str]:
    """Every day from `first` to `last`, inclusive, as yyyy-MM-dd."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def landed_pairs(landing: LandingZone, resources: tuple[str, ...] = RESOURCES) -> Counter[tuple[str, str]]:
    """How many times each (resource, date) was landed."""
    return Counter(
        (record["resource"], record["date"])
        for r in resources
        for record in read_landed(landing, "fitbit", r)
    )


def test_real_bodies_land_raw_with_user_id_by_resource_and_month(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor
) -> None:
    heart = {
        d: json.loads(realdata("fitbit", f"{d}_datadumpHeart.json").read_text())
        for d in ("2017-05-01", "2017-05-02")
    }
    days = {d: {"heart": body} for d, body in heart.items()}
    with FitbitStandin(days, clock=clock, user_id="ABC123") as standin:
        settings = fitbit_settings(
            standin, resources=("heart", "steps"), heart_detail="1sec", start_date=date(2017, 4, 30)
        )
        report = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2017, 5, 2))

    assert report.completed, report.message
    assert report.landed == {"heart": 3, "steps": 3}
    keys = landing.list_files("fitbit", "heart")
    assert keys == [
        f"fitbit/heart/month=2017-04/{report.run_id}.json",
        f"fitbit/heart/month=2017-05/{report.run_id}.json",
    ]
    records = {r["date"]: r for r in read_landed(landing, "fitbit", "heart")}
    assert records["2017-05-01"] == {
        "user_id": "ABC123",
        "resource": "heart",
        "date": "2017-05-01",
        "detail_level": "1sec",
        "response": heart["2017-05-01"],
    }
    assert records["2017-04-30"]["response"]["activities-heart-intraday"]["dataset"] == []
    assert {r["detail_level"] for r in read_landed(landing, "fitbit", "steps")} == {"1min"}
    assert load_state(landing.store, "fitbit")["through"] == {"heart": "2017-05-02", "steps": "2017-05-02"}


def test_the_next_run_starts_at_the_watermark_day(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor
) -> None:
    with FitbitStandin({}, clock=clock) as standin:
        settings = fitbit_settings(standin, resources=("steps",), start_date=date(2024, 5, 1))
        sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2024, 5, 3))
        second = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2024, 5, 5))

    second_days = [
        record["date"]
        for key in landing.list_files("fitbit", "steps")
        if second.run_id in key
        for record in json.loads(landing.store.read_bytes(key))
    ]
    assert second_days == ["2024-05-03", "2024-05-04", "2024-05-05"]
    assert second.landed == {"steps": 3}  # 05-03 again (it was "today", maybe partial), then 05-04, 05-05


def test_150_an_hour_is_honoured_through_the_headers_without_a_429(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor
) -> None:
    start, today = date(2024, 4, 1), date(2024, 5, 10)  # 40 days x 6 resources = 240 calls
    with FitbitStandin({}, clock=clock) as standin:
        settings = fitbit_settings(standin, start_date=start)
        report = sync_fitbit(settings, landing, clock=clock, progress=None, today=today)

    assert report.completed, report.message
    assert 429 not in [status for *_, status in standin.requests]
    assert clock.now() >= datetime(2025, 3, 4, 10, 0, 2, tzinfo=UTC)  # waited for the 10:00 reset
    expected = {(r, d) for r in RESOURCES for d in days_between(start, today)}
    assert landed_pairs(landing) == Counter(expected)


def test_an_expired_token_is_refreshed_once(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor
) -> None:
    faults = FitbitFaults(expire_tokens_after_calls=4)
    with FitbitStandin({}, clock=clock, faults=faults) as standin:
        settings = fitbit_settings(standin, resources=("steps", "floors"), start_date=date(2024, 5, 1))
        report = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2024, 5, 5))
        current = standin.refresh_token

    assert report.completed, report.message
    assert [status for *_, status in standin.requests].count(401) == 1
    assert standin.token_refreshes == 2
    stored = json.loads(settings.token_file.read_text())
    assert stored["refresh_token"] == current and stored["user_id"] == "7QXKBZ"
    assert stat.S_IMODE(settings.token_file.stat().st_mode) == 0o600


def test_a_refused_refresh_token_stops_with_a_message_to_reauthorise(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor
) -> None:
    with FitbitStandin({}, clock=clock) as standin:
        settings = fitbit_settings(standin, refresh_token=Secret("an-old-refresh-token"))
        report = sync_fitbit(settings, landing, clock=clock, progress=None)

    assert report.stopped_reason == "reauthorization_required"
    assert "re-authorise" in report.message and "FITBIT_REFRESH_TOKEN" in report.message
    assert "an-old-refresh-token" not in report.message  # the server's answer echoes it; we do not
    assert report.calls == 1


@pytest.mark.parametrize(
    "faults",
    [
        FitbitFaults(rate_limit_storm_after_calls=3, rate_limit_storm_length=2),
        FitbitFaults(server_error_dates={"2024-05-02": 2}),
        FitbitFaults(slow_dates={"2024-05-03": 1}, slow_seconds=0.3),
        FitbitFaults(malformed_dates={"2024-05-02": 1}),
    ],
    ids=["429-storm", "500-twice", "timeout", "malformed"],
)
def test_transient_faults_end_in_a_completed_run(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor, faults: FitbitFaults
) -> None:
    http = replace(TEST_HTTP, read_timeout=0.1)
    with FitbitStandin({}, clock=clock, faults=faults) as standin:
        settings = fitbit_settings(
            standin, resources=("steps", "heart"), start_date=date(2024, 5, 1), http=http
        )
        report = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2024, 5, 4))

    assert report.completed, report.message
    expected = {(r, d) for r in ("steps", "heart") for d in days_between(date(2024, 5, 1), date(2024, 5, 4))}
    assert landed_pairs(landing, ("steps", "heart")) == Counter(expected)


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        (FitbitFaults(server_error_dates={"2024-05-03": ALWAYS}), "server_error"),
        (FitbitFaults(malformed_dates={"2024-05-03": ALWAYS}), "malformed_response"),
        (FitbitFaults(hourly_budget_ends_after_calls=5), "hourly_limit"),
    ],
    ids=["500-always", "malformed-always", "hour-spent"],
)
def test_persistent_faults_stop_cleanly_and_the_next_run_fills_the_gap_exactly(
    clock: ManualClock, landing: LandingZone, fitbit_settings: SettingsFor, faults: FitbitFaults, reason: str
) -> None:
    resources = ("steps", "heart")
    with FitbitStandin({}, clock=clock, faults=faults) as standin:
        settings = fitbit_settings(
            standin, resources=resources, start_date=date(2024, 5, 1), overlap_days=0, max_wait_seconds=60
        )
        first = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2024, 5, 6))
        assert first.stopped_reason == reason, first.message
        faults.server_error_dates.clear()
        faults.malformed_dates.clear()
        if first.resume_at:
            clock.set(first.resume_at)
        second = sync_fitbit(settings, landing, clock=clock, progress=None, today=date(2024, 5, 6))

    assert second.completed, second.message
    expected = {(r, d) for r in resources for d in days_between(date(2024, 5, 1), date(2024, 5, 6))}
    assert landed_pairs(landing, resources) == Counter(expected)


def test_plan_goes_day_by_day_from_each_watermark() -> None:
    settings = FitbitSettings(
        client_id="x", client_secret=Secret("y"), refresh_token=None, token_file=Path("/tmp/t"),
        resources=("heart", "steps"), start_date=date(2024, 5, 1),
    )  # fmt: skip
    state = {"through": {"heart": "2024-05-03"}}
    assert plan_days(state, settings, date(2024, 5, 4)) == [
        (date(2024, 5, 1), "steps"),
        (date(2024, 5, 2), "steps"),
        (date(2024, 5, 3), "heart"),
        (date(2024, 5, 3), "steps"),
        (date(2024, 5, 4), "heart"),
        (date(2024, 5, 4), "steps"),
    ]


def test_activity_resources_refuse_1sec() -> None:
    with pytest.raises(ValueError, match="no 1sec"):
        FitbitSettings(
            client_id="x", client_secret=Secret("y"), refresh_token=None,
            token_file=Path("/tmp/t"), activity_detail="1sec",
        )  # fmt: skip
