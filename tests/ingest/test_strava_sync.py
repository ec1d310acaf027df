"""Strava sync against the stand-in: happy path, incremental overlap, and every fault ending in a completed
run or a clean stop with a resume point, after which the next run leaves no gap and no duplicate.

Expected ids always come from the generated data set (or the cassette), never from the code under test.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from ingest_support import (
    TEST_HTTP,
    assert_each_exactly_once,
    epoch,
    generate_activities,
    id_counts,
    landed_files,
    month_of,
    read_landed,
)

from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.sources.sync import SyncReport, load_state
from lakehouse.standins.strava import ALWAYS, StravaFaults, StravaStandin
from lakehouse.storage import LocalStore, StorageError

SettingsFor = Callable[..., StravaSettings]
HISTORY_START = datetime(2023, 1, 1, tzinfo=UTC)
HISTORY_END = datetime(2025, 3, 1, tzinfo=UTC)


def activities(count: int = 450, **kwargs: object) -> list[dict]:
    """A generated history between 2023-01 and 2025-03."""
    return generate_activities(count, HISTORY_START, HISTORY_END, **kwargs)  # type: ignore[arg-type]


def run_until_complete(
    settings: StravaSettings, landing: LandingZone, clock: ManualClock, max_runs: int = 20
) -> list[SyncReport]:
    """Run, and after each clean stop wait (on the manual clock) until the report's `resume_at`."""
    reports: list[SyncReport] = []
    for _ in range(max_runs):
        report = sync_strava(settings, landing, clock=clock, progress=None)
        reports.append(report)
        if report.completed:
            return reports
        assert report.message, "a stop must say why"
        if report.resume_at is not None:
            clock.set(max(clock.now(), report.resume_at))
    raise AssertionError(f"not complete after {max_runs} runs: {[r.stopped_reason for r in reports]}")


def list_requests(standin: StravaStandin, page: int | None = None) -> list[tuple[dict[str, str], int]]:
    """The stand-in's list requests (query, status), optionally only one page number."""
    return [
        (query, status)
        for method, path, query, status in standin.requests
        if path == "/api/v3/athlete/activities" and (page is None or query.get("page") == str(page))
    ]


def statuses(standin: StravaStandin) -> list[int]:
    """Every status the stand-in answered."""
    return [status for *_, status in standin.requests]


def ids_of(data: list[dict]) -> set[int]:
    """The ids of a generated data set."""
    return {a["id"] for a in data}


# ---- the happy path -------------------------------------------------------------------------------------
def test_first_sync_lands_every_activity_once_in_its_month(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    with StravaStandin(data, clock=clock) as standin:
        report = sync_strava(strava_settings(standin), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert report.activities_landed == 450
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))
    for key in landing.list_files("strava", "activities"):
        month = key.split("month=")[1][:7]
        assert {month_of(a["start_date"]) for a in json.loads(landing.store.read_bytes(key))} == {month}
        assert key.endswith(f"/{report.run_id}.json")
    state = load_state(landing.store, "strava")
    assert state["watermark"] == max(a["start_date"] for a in data)
    assert state["pass"] is None
    # 450 activities at 200 a page: pages 1-3, then the empty page 4
    assert [q["page"] for q, _ in list_requests(standin)] == ["1", "2", "3", "4"]
    assert {q["per_page"] for q, _ in list_requests(standin)} == {"200"}


def test_ledger_lands_every_call_with_its_endpoint_template_and_rate_headers(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    with StravaStandin(activities(250), clock=clock) as standin:
        report = sync_strava(strava_settings(standin), landing, clock=clock, progress=None)

    ledger = [r for f in report.ledger_files for r in json.loads(landing.store.read_bytes(f.key))]
    assert [f.key for f in report.ledger_files] == [f"_ledger/strava/month=2025-03/{report.run_id}.json"]
    assert [(r["method"], r["endpoint"], r["status"]) for r in ledger] == [
        ("POST", "/oauth/token", 200),
        ("GET", "/api/v3/athlete/activities", 200),
        ("GET", "/api/v3/athlete/activities", 200),
        ("GET", "/api/v3/athlete/activities", 200),
    ]
    assert report.calls == 4
    first_page = ledger[1]
    assert first_page["params"]["page"] == "1"
    assert first_page["rate_limit"]["x-readratelimit-limit"] == "100,1000"
    assert first_page["rate_limit"]["x-readratelimit-usage"] == "1,1"
    assert first_page["started_at"] == "2025-03-04T09:07:30Z"


def test_incremental_sync_asks_from_the_watermark_minus_the_overlap(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(300)
    watermark = max(a["start_date"] for a in data)
    new = generate_activities(5, HISTORY_END, HISTORY_END + timedelta(days=2), first_id=2_000_000_000)
    with StravaStandin(data, clock=clock) as standin:
        settings = strava_settings(standin)
        sync_strava(settings, landing, clock=clock, progress=None)
        clock.advance(timedelta(days=3))
        standin.add_activities(new)
        second = sync_strava(settings, landing, clock=clock, progress=None)

    after = epoch(watermark) - 7 * 86400
    assert list_requests(standin)[-1][0]["after"] == str(after)
    landed_second = {
        a["id"]
        for key in landing.list_files("strava", "activities")
        if second.run_id in key
        for a in json.loads(landing.store.read_bytes(key))
    }
    overlap = {a["id"] for a in data if epoch(a["start_date"]) > after}
    assert landed_second == overlap | ids_of(new)
    assert load_state(landing.store, "strava")["watermark"] == max(a["start_date"] for a in new)


# ---- faults ---------------------------------------------------------------------------------------------
def test_a_429_storm_waits_for_fresh_windows_then_completes(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    faults = StravaFaults(rate_limit_storm_after_calls=1, rate_limit_storm_length=3)
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        report = sync_strava(strava_settings(standin), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert statuses(standin).count(429) == 3
    # each 429 waits for the next :00/:15/:30/:45 boundary: 09:15, 09:30, 09:45 (+2 s slack)
    assert clock.now() >= datetime(2025, 3, 4, 9, 45, 2, tzinfo=UTC)
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_429_storm_longer_than_the_patience_stops_cleanly_then_resumes(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    faults = StravaFaults(rate_limit_storm_after_calls=2, rate_limit_storm_length=6)
    http = replace(TEST_HTTP, max_rate_limit_waits=2)
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        settings = strava_settings(standin, per_page=100, http=http)
        first = sync_strava(settings, landing, clock=clock, progress=None)
        assert first.stopped_reason == "rate_limited"
        assert first.resume_at is not None and "resume point" in first.message
        reports = run_until_complete(settings, landing, clock)

    assert reports[-1].completed
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_500_on_page_7_is_retried_with_backoff_within_the_run(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    with StravaStandin(data, clock=clock, faults=StravaFaults(server_error_pages={7: 2})) as standin:
        report = sync_strava(strava_settings(standin, per_page=50), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert [status for _, status in list_requests(standin, page=7)] == [500, 500, 200]
    ledger = [r for f in report.ledger_files for r in json.loads(landing.store.read_bytes(f.key))]
    assert [r["retries"] for r in ledger if r["params"].get("page") == "7"] == [2]
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_persistent_500_on_page_7_stops_with_a_resume_point_and_the_next_run_completes(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    faults = StravaFaults(server_error_pages={7: ALWAYS})
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        settings = strava_settings(standin, per_page=50)
        first = sync_strava(settings, landing, clock=clock, progress=None)
        assert first.stopped_reason == "server_error"
        assert first.activities_landed == 300  # pages 1-6 landed before stopping
        cursor = load_state(landing.store, "strava")["pass"]
        oldest_landed = min(epoch(a["start_date"]) for a in read_landed(landing, "strava", "activities"))
        assert cursor["before"] == oldest_landed + 1
        faults.server_error_pages.clear()
        second = sync_strava(settings, landing, clock=clock, progress=None)

    assert second.completed, second.message
    assert second.activities_landed == 150
    assert list_requests(standin)[-1][0]["before"] == str(oldest_landed + 1)
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_timeout_is_retried(clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor) -> None:
    data = activities(450)
    http = replace(TEST_HTTP, read_timeout=0.1)
    faults = StravaFaults(slow_pages={2: 1}, slow_seconds=0.3)
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        report = sync_strava(strava_settings(standin, http=http), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert len(list_requests(standin, page=2)) == 2  # the slow answer, then the retry
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_persistent_timeouts_stop_with_a_resume_point(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    http = replace(TEST_HTTP, read_timeout=0.1, max_retries=1)
    faults = StravaFaults(slow_pages={3: 2}, slow_seconds=0.3)
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        settings = strava_settings(standin, per_page=100, http=http)
        first = sync_strava(settings, landing, clock=clock, progress=None)
        assert first.stopped_reason == "network_error"
        assert first.activities_landed == 200
        reports = run_until_complete(settings, landing, clock)

    assert reports[-1].completed
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_token_expiring_mid_run_is_refreshed_once_and_the_run_completes(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    with StravaStandin(data, clock=clock, faults=StravaFaults(expire_tokens_after_calls=3)) as standin:
        settings = strava_settings(standin, per_page=50)
        report = sync_strava(settings, landing, clock=clock, progress=None)
        current_refresh_token = standin.refresh_token

    assert report.completed, report.message
    assert statuses(standin).count(401) == 1
    assert standin.token_refreshes == 2  # at the start, and once after the 401
    token_file = settings.token_file
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert json.loads(token_file.read_text())["refresh_token"] == current_refresh_token
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_the_daily_budget_ending_at_80_percent_stops_cleanly_and_a_later_run_completes(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(1000)  # 20 pages of 50, then the empty page
    faults = StravaFaults(daily_budget_ends_after_calls=16)
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        settings = strava_settings(standin, per_page=50)
        first = sync_strava(settings, landing, clock=clock, progress=None)

        assert first.stopped_reason == "daily_limit"
        assert first.activities_landed == 800
        assert first.resume_at == datetime(2025, 3, 5, 0, 0, 2, tzinfo=UTC)
        assert "2025-03-05T00:00:02Z" in first.message
        state = load_state(landing.store, "strava")
        assert state["resume_at"] == "2025-03-05T00:00:02Z"
        oldest_landed = sorted(epoch(a["start_date"]) for a in data)[200]
        assert state["pass"]["before"] == oldest_landed + 1
        resume_point = datetime.fromtimestamp(oldest_landed + 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert f"resume point: activities before {resume_point}" in first.message

        too_early = sync_strava(settings, landing, clock=clock, progress=None)
        assert too_early.stopped_reason == "not_yet" and too_early.calls == 0

        clock.set(first.resume_at)
        second = sync_strava(settings, landing, clock=clock, progress=None)

    assert second.completed, second.message
    assert second.activities_landed == 200
    assert 429 not in statuses(standin)
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_activities_sharing_a_second_across_the_stop_are_neither_lost_nor_doubled(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(120, same_second_every=0)
    newest_first = sorted(data, key=lambda a: a["start_date"], reverse=True)
    shared = newest_first[48]["start_date"]  # positions 48, 49 (page 1) and 50 (page 2) share one second
    for activity in newest_first[49:51]:
        activity["start_date"] = shared
    with StravaStandin(data, clock=clock, faults=StravaFaults(daily_budget_ends_after_calls=1)) as standin:
        settings = strava_settings(standin, per_page=50)
        first = sync_strava(settings, landing, clock=clock, progress=None)
        assert first.stopped_reason == "daily_limit" and first.activities_landed == 50
        assert set(load_state(landing.store, "strava")["pass"]["skip_ids"]) == {
            newest_first[48]["id"],
            newest_first[49]["id"],
        }
        reports = run_until_complete(settings, landing, clock)

    assert reports[-1].completed
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_malformed_page_is_asked_for_again(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    with StravaStandin(data, clock=clock, faults=StravaFaults(malformed_pages={3: 1})) as standin:
        report = sync_strava(strava_settings(standin, per_page=50), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert len(list_requests(standin, page=3)) == 2
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_persistently_malformed_page_stops_cleanly_and_the_next_run_completes(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    faults = StravaFaults(malformed_pages={3: ALWAYS})
    with StravaStandin(data, clock=clock, faults=faults) as standin:
        settings = strava_settings(standin, per_page=50)
        first = sync_strava(settings, landing, clock=clock, progress=None)
        assert first.stopped_reason == "malformed_response"
        assert "not valid JSON" in first.message and first.activities_landed == 100
        faults.malformed_pages.clear()
        second = sync_strava(settings, landing, clock=clock, progress=None)

    assert second.completed, second.message
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_the_same_activity_on_two_pages_lands_once(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    with StravaStandin(data, clock=clock, faults=StravaFaults(duplicate_after_page=2)) as standin:
        report = sync_strava(strava_settings(standin, per_page=50), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert report.duplicates_skipped == 1
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_checkpoints_land_parts_and_move_the_cursor_within_a_run(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(450)
    with StravaStandin(data, clock=clock, faults=StravaFaults(server_error_pages={8: ALWAYS})) as standin:
        settings = strava_settings(standin, per_page=50, checkpoint_pages=3)
        report = sync_strava(settings, landing, clock=clock, progress=None)

    assert report.stopped_reason == "server_error"
    stems = {
        key.rsplit("/", 1)[1].removesuffix(".json") for key in landing.list_files("strava", "activities")
    }
    assert stems == {report.run_id, f"{report.run_id}-p002", f"{report.run_id}-p003"}
    assert_each_exactly_once(
        id_counts(read_landed(landing, "strava", "activities")),
        {a["id"] for a in sorted(data, key=lambda a: a["start_date"], reverse=True)[:350]},
    )


# ---- details and streams, the 10-year backfill ------------------------------------------------------------
def test_details_and_streams_land_for_new_activities(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = activities(40)
    with StravaStandin(data, clock=clock) as standin:
        settings = strava_settings(standin, fetch_details=True, fetch_streams=True)
        report = sync_strava(settings, landing, clock=clock, progress=None)
        clock.advance(timedelta(days=1))
        again = sync_strava(settings, landing, clock=clock, progress=None)

    assert report.completed and again.completed
    assert again.landed.get("activity_details", 0) == 0  # the overlap re-pull is not new
    details = read_landed(landing, "strava", "activity_details")
    assert_each_exactly_once(id_counts(details), ids_of(data))
    assert {d["resource_state"] for d in details} == {3}
    streams = read_landed(landing, "strava", "activity_streams")
    assert_each_exactly_once(id_counts(streams, key="activity_id"), ids_of(data))
    for record in streams:
        assert set(record) == {"activity_id", "streams"}
        assert {"time", "distance"} <= set(record["streams"])
        assert set(record["streams"]["time"]) == {"data", "series_type", "original_size", "resolution"}
    swims = {a["id"] for a in data if a["sport_type"] == "Swim"}
    assert all("latlng" not in r["streams"] for r in streams if r["activity_id"] in swims)


def test_a_ten_year_backfill_with_real_limits_completes_over_several_runs_without_a_429(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    data = generate_activities(3000, datetime(2015, 3, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC))
    progress = StringIO()
    with StravaStandin(data, clock=clock) as standin:  # default limits: 100 per 15 min, 1000 a day (read)
        settings = strava_settings(standin, fetch_details=True, fetch_streams=True)
        reports: list[SyncReport] = []
        while not (reports and reports[-1].completed):
            assert len(reports) < 12, [r.message for r in reports]
            report = sync_strava(settings, landing, clock=clock, progress=progress)
            reports.append(report)
            if report.resume_at:
                clock.set(report.resume_at)
        final_refresh_token = standin.refresh_token

    assert len(reports) >= 5
    assert {r.stopped_reason for r in reports[:-1]} == {"daily_limit"}
    assert 429 not in statuses(standin)
    summaries = id_counts(read_landed(landing, "strava", "activities"))
    assert set(summaries) == ids_of(data)
    watermark = max(epoch(a["start_date"]) for a in data)
    overlap = {a["id"] for a in data if epoch(a["start_date"]) > watermark - 7 * 86400}
    assert {i for i, n in summaries.items() if n > 1} <= overlap  # only the overlap is pulled again
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activity_details")), ids_of(data))
    assert_each_exactly_once(
        id_counts(read_landed(landing, "strava", "activity_streams"), key="activity_id"), ids_of(data)
    )
    assert standin.token_refreshes >= 5  # 6-hour tokens over a week of runs, each refresh rotated
    assert json.loads(settings.token_file.read_text())["refresh_token"] == final_refresh_token
    assert stat.S_IMODE(settings.token_file.stat().st_mode) == 0o600
    assert "left ~" in progress.getvalue()


# ---- the recorded real pages ----------------------------------------------------------------------------
def test_the_recorded_real_pages_land_all_1132_activities_once(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor
) -> None:
    import yaml
    from ingest_support import realdata

    cassette_path = realdata("strava", "all_athlete_activities.yml")
    cassette = yaml.load(cassette_path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    expected = {
        activity["id"]
        for interaction in cassette["http_interactions"]
        for activity in json.loads(interaction["response"]["body"]["string"])
    }
    assert len(expected) == 1132

    with StravaStandin.from_recording(cassette_path, clock=clock) as standin:
        report = sync_strava(strava_settings(standin), landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), expected)
    ledger = [r for f in report.ledger_files for r in json.loads(landing.store.read_bytes(f.key))]
    pages = [r for r in ledger if r["endpoint"] == "/api/v3/athlete/activities"]
    assert len(pages) == 39
    assert pages[0]["rate_limit"]["x-readratelimit-usage"] == "70,303"
    # page 31 answered with usage 100 of 100: page 32 waited for the next window (09:15 + slack)
    assert pages[30]["rate_limit"]["x-readratelimit-usage"] == "100,333"
    assert pages[31]["started_at"] >= "2025-03-04T09:15:00Z" > pages[30]["started_at"]
    months = {key.split("month=")[1][:7] for key in landed_files(landing, "strava/activities/")}
    assert min(months) == "2017-10" and max(months) == "2025-10"


# ---- crashes ----------------------------------------------------------------------------------------------
class FailingStore(LocalStore):
    """A local store whose writes under `fail_prefix` raise, until told otherwise."""

    fail_prefix = "strava/activities/"
    failing = True

    def write_bytes(self, key: str, data: bytes) -> None:
        if self.failing and key.startswith(self.fail_prefix):
            raise StorageError(f"disk full writing {key}")
        super().write_bytes(key, data)


def test_the_state_does_not_move_when_landing_fails(
    clock: ManualClock, tmp_path: Path, strava_settings: SettingsFor
) -> None:
    store = FailingStore(str(tmp_path / "failing-landing"))
    landing = LandingZone(store)
    data = activities(250)
    with StravaStandin(data, clock=clock) as standin:
        settings = strava_settings(standin)
        with pytest.raises(StorageError):
            sync_strava(settings, landing, clock=clock, progress=None)
        assert not store.exists("_state/strava.json")
        store.failing = False
        report = sync_strava(settings, landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))


def test_a_crash_mid_page_lands_what_was_fetched_and_the_next_run_continues(
    clock: ManualClock, landing: LandingZone, strava_settings: SettingsFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lakehouse.sources.strava as strava_module

    data = activities(450)
    calls = {"n": 0}
    real_month = strava_module.activity_month

    def crash_on_the_130th(activity: dict) -> str:
        calls["n"] += 1
        if calls["n"] == 130:
            raise RuntimeError("a bug")
        return real_month(activity)

    with StravaStandin(data, clock=clock) as standin:
        settings = strava_settings(standin, per_page=50)
        monkeypatch.setattr(strava_module, "activity_month", crash_on_the_130th)
        with pytest.raises(RuntimeError, match="a bug"):
            sync_strava(settings, landing, clock=clock, progress=None)
        assert len(read_landed(landing, "strava", "activities")) == 129
        assert load_state(landing.store, "strava")["stopped_reason"] == "crashed"
        monkeypatch.setattr(strava_module, "activity_month", real_month)
        report = sync_strava(settings, landing, clock=clock, progress=None)

    assert report.completed, report.message
    assert_each_exactly_once(id_counts(read_landed(landing, "strava", "activities")), ids_of(data))
