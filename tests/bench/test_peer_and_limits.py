"""The DuckDB peer on literal landing files (latest landed copy wins; the gold sums), and the backfill arithmetic
under Strava's and Google's limits. Expected values worked out by hand. No Spark."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench import peer
from bench.ingestion import google_backfill_seconds, strava_backfill_seconds


def _land(root: Path, key: str, records: list[dict]) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records))


def _activity(activity_id: int, local: str, metres: float, seconds: int, kudos: int, sport: str = "Run") -> dict:
    return {"id": activity_id, "athlete": {"id": 7}, "type": sport, "sport_type": sport, "start_date_local": local,
            "distance": metres, "moving_time": seconds, "total_elevation_gain": 10.0, "kudos_count": kudos}  # fmt: skip


def _steps(day: str, points: list[tuple[str, float]]) -> dict:
    dataset = [{"time": t, "value": v} for t, v in points]
    return {"user_id": "U1", "resource": "steps", "date": day, "response": {
        "activities-steps": [{"dateTime": day, "value": str(sum(v for _, v in points))}],
        "activities-steps-intraday": {"dataset": dataset, "datasetInterval": 1, "datasetType": "minute"}}}  # fmt: skip


def test_peer_keeps_the_latest_landed_copy_and_sums_like_gold(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _land(landing, "strava/activities/month=2024-05/20250101T000000Z-a.json", [
        _activity(1, "2024-05-02T07:00:00Z", 10_000.0, 3_000, kudos=3),
        _activity(2, "2024-05-20T18:00:00Z", 5_000.0, 1_500, kudos=1),
    ])  # fmt: skip
    # Pulled again later: activity 1 now has 5 kudos; activity 3 is a ride in June.
    _land(landing, "strava/activities/month=2024-05/20250108T000000Z-b.json", [
        _activity(1, "2024-05-02T07:00:00Z", 10_000.0, 3_000, kudos=5),
        _activity(3, "2024-06-01T09:00:00Z", 30_000.0, 3_600, kudos=2, sport="Ride"),
    ])  # fmt: skip
    _land(landing, "fitbit/steps/month=2024-05/20250101T000000Z-a.json",
          [_steps("2024-05-02", [("00:00:00", 10.0), ("08:30", 40.0), ("23:59:00", 5.0)])])  # fmt: skip
    con = peer.connect(tmp_path / "peer.duckdb")

    counts = peer.build(con, landing, {"U1": "Asia/Tokyo"})

    assert counts == {"silver_strava_activities": 3, "silver_fitbit_intraday": 3,
                      "gold_activity_summary_monthly": 2, "gold_fitbit_daily_summary": 1}  # fmt: skip
    assert con.execute("SELECT kudos_count FROM silver_strava_activities WHERE activity_id = 1").fetchall() == [(5,)]
    may, june = con.execute(
        "SELECT month, sport_type, activities, distance_km, moving_time_h, kudos, kudos_per_activity, mean_speed_kmh"
        " FROM gold_activity_summary_monthly ORDER BY month"
    ).fetchall()
    # May: 15 km in 4,500 s (1.25 h) -> 12 km/h; kudos 5 + 1 over 2 runs. June: 30 km in 1 h.
    assert may == (date(2024, 5, 1), "Run", 2, 15.0, 1.25, 6, 3.0, 12.0)
    assert june == (date(2024, 6, 1), "Ride", 1, 30.0, 1.0, 2, 2.0, 30.0)
    # Tokyo is UTC+9 all year: local midnight on 2 May is 15:00 UTC on 1 May.
    first = con.execute("SELECT min(ts_utc) FROM silver_fitbit_intraday").fetchone()[0]
    assert first.astimezone(UTC) == datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    daily = con.execute("SELECT metric, total, mean, min, max, samples, minutes_covered "
                        "FROM gold_fitbit_daily_summary").fetchall()  # fmt: skip
    assert daily == [("steps", 55.0, 18.333, 5.0, 40.0, 3, 3.0)]


@pytest.mark.parametrize(
    ("calls", "seconds"),
    [
        (0, 0),
        (100, 0),  # all in the first 15-minute window
        (101, 900),  # one call waits for the second window
        (1000, 9 * 900),  # ten windows: the tenth starts 2 h 15 min in
        (1001, 86400),  # the day's 1,000 are spent: the next call waits for the next day
        (2500, 2 * 86400 + 4 * 900),  # two full days, then 500 calls in five windows
    ],
)
def test_strava_backfill_time_under_the_read_limits(calls: int, seconds: int) -> None:
    assert strava_backfill_seconds(calls) == seconds


@pytest.mark.parametrize(("calls", "seconds"), [(0, 0), (300, 0), (301, 60), (900, 120), (901, 180)])
def test_google_backfill_time_at_300_a_minute(calls: int, seconds: int) -> None:
    assert google_backfill_seconds(calls) == seconds
