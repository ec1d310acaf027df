"""Google Health stand-in (pages, 429 at the per-minute limit, an expired token) -> landing -> bronze -> silver:
every point exactly once in silver.fitbit_intraday / fitbit_daily, next to the legacy Fitbit route."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.entities import FITBIT_INTRADAY, GOOGLE_HEALTH_DATAPOINTS
from lakehouse.bronze.loader import load_entity
from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.silver.run import SPECS, run_silver_table
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.google_health import GoogleHealthSettings, sync_google_health
from lakehouse.sources.http import HttpSettings
from lakehouse.sources.sync import MonthlyBatches
from lakehouse.sources.takeout import import_takeout
from lakehouse.tables import Tables, read_table
from lakehouse_demo.standins.google_health import GoogleHealthFaults, GoogleHealthStandin, demo_points

FAST_HTTP = HttpSettings(connect_timeout=1.0, read_timeout=2.0, max_retries=3, backoff_factor=0.001, trust_env=False)
FIRST_DAY = date(2025, 3, 1)
VALUE_FIELDS = {  # data type -> (silver metric, value field, factor): from the proto field definitions
    "heart-rate": ("heart_rate_bpm", "beatsPerMinute", 1.0),
    "steps": ("steps", "count", 1.0),
    "distance": ("distance_m", "millimeters", 0.001),
    "altitude": ("elevation_m", "gainMillimeters", 0.001),
    "floors": ("floors", "count", 1.0),
}


def expected_intraday(points: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str, float]]:
    """(metric, UTC instant, value) of every served point, read straight from the JSON."""
    out = set()
    for data_type, (metric, field, factor) in VALUE_FIELDS.items():
        for point in points[data_type]:
            body = next(v for k, v in point.items() if k != "dataSource")
            instant = body["sampleTime"]["physicalTime"] if "sampleTime" in body else body["interval"]["startTime"]
            out.add((metric, instant, round(int(body[field]) * factor, 6)))
    return out


def silver_spec(table: str, bronze: str) -> Any:
    return next(s for s in SPECS if s.name == table and s.bronze_table == bronze)


def run_silver(spark: SparkSession, settings: Settings, run_id: str) -> None:
    for table in ("fitbit_intraday", "fitbit_daily"):
        run_silver_table(spark, settings, silver_spec(table, "google_health_datapoints"), run_id)


def intraday_rows(spark: SparkSession, settings: Settings) -> list[Any]:
    table = read_table(spark, Tables(settings).ref("silver", "fitbit_intraday"))
    return table.select("metric", F.date_format("ts_utc", "yyyy-MM-dd'T'HH:mm:ss'Z'"), "value", "source").collect()


def test_stand_in_with_faults_ends_with_every_point_once_in_silver(
    spark: SparkSession, settings: Settings, landing: LandingZone, tmp_path: Path
) -> None:
    points = demo_points(FIRST_DAY, 2)
    clock = ManualClock(datetime(2025, 3, 2, 20, 0, tzinfo=UTC))
    faults = GoogleHealthFaults(expire_tokens_after_calls=4)
    with GoogleHealthStandin(points, clock=clock, faults=faults, per_minute_limit=5) as standin:
        google = GoogleHealthSettings(
            client_id=standin.client_id, client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token), token_file=tmp_path / "config" / "google-token.json",
            user_id="ana", base_url=standin.base_url, token_url=standin.token_url, start_date=FIRST_DAY,
            page_size=50, http=FAST_HTTP,
        )  # fmt: skip
        first = sync_google_health(google, landing, clock=clock, progress=None, today=date(2025, 3, 2))
        # A second run the next morning re-pulls the overlap day: the same points land again.
        clock.set(datetime(2025, 3, 3, 7, 0, tzinfo=UTC))
        second = sync_google_health(google, landing, clock=clock, progress=None, today=date(2025, 3, 3))
    assert first.completed and second.completed, (first.message, second.message)
    # The faults really happened: 429s at the per-minute limit and one 401 for the expired token.
    assert standin.rate_limited > 0 and [status for _, _, status in standin.requests].count(401) == 1
    assert load_entity(spark, settings, GOOGLE_HEALTH_DATAPOINTS, run_id="r1").records_quarantined == 0
    run_silver(spark, settings, "r1")
    run_silver(spark, settings, "r2")  # nothing new: changes nothing

    rows = intraday_rows(spark, settings)
    assert len(rows) == len({(r[0], r[1]) for r in rows})  # each (metric, instant) once
    assert {(r[0], r[1], round(r[2], 6)) for r in rows} == expected_intraday(points)
    assert {r[3] for r in rows} == {"google-health-api"}
    daily = read_table(spark, Tables(settings).ref("silver", "fitbit_daily"))
    resting = {(r["date"], r["resting_heart_rate_bpm"]) for r in daily.where("metric = 'heart_rate_bpm'").collect()}
    assert resting == {(date(2025, 3, 1), 52), (date(2025, 3, 2), 53)}  # demo: 52 + day index
    assert daily.where("metric = 'heart_rate_zone_bounds'").count() == 2


def test_api_and_takeout_overlap_and_the_legacy_route_share_the_tables(
    spark: SparkSession, settings: Settings, landing: LandingZone, tmp_path: Path
) -> None:
    points = {"steps": demo_points(FIRST_DAY, 1)["steps"][:8]}  # 00:00-02:00 local (+01:00): 8 quarter hours
    clock = ManualClock(datetime(2025, 3, 1, 20, 0, tzinfo=UTC))
    with GoogleHealthStandin(points, clock=clock) as standin:
        google = GoogleHealthSettings(
            client_id=standin.client_id, client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token), token_file=tmp_path / "config" / "google-token.json",
            user_id="ana", base_url=standin.base_url, token_url=standin.token_url, start_date=FIRST_DAY,
            data_types=("steps",), http=FAST_HTTP,
        )  # fmt: skip
        assert sync_google_health(google, landing, clock=clock, progress=None, today=FIRST_DAY).completed
    # A later Takeout CSV holds two of the same instants (counts + 1) and one quarter hour the API lacks.
    takeout = MonthlyBatches(landing, "google_health", "20250310T000000Z-takeout")
    for start, steps in (("2025-02-28T23:00:00Z", 1), ("2025-02-28T23:15:00Z", 101), ("2025-03-01T01:00:00Z", 556)):
        point = {"steps": {"interval": {"startTime": start, "endTime": start}, "count": str(steps)}}
        record = {"user_id": "ana", "data_type": "steps", "route": "takeout-csv", "point_id": f"csv-{start}",
                  "data_point": point}  # fmt: skip
        takeout.add("steps", start[:7], record)
    takeout.flush()
    # The legacy route: one Fitbit Web API day of the same user key, at 03:00 local (02:00 UTC).
    legacy = {"user_id": "ana", "resource": "steps", "date": "2025-03-01", "detail_level": "1min",
              "response": {"activities-steps": [{"dateTime": "2025-03-01", "value": "42"}],
                           "activities-steps-intraday": {"dataset": [{"time": "03:00:00", "value": 42}],
                                                         "datasetInterval": 1, "datasetType": "minute"}}}  # fmt: skip
    landing.write_json_month("fitbit", "steps", "2025-03", "20250301T000000Z-legacy", [legacy])
    load_entity(spark, settings, GOOGLE_HEALTH_DATAPOINTS, run_id="r1")
    load_entity(spark, settings, FITBIT_INTRADAY, run_id="r1")
    run_silver(spark, settings, "r1")
    run_silver_table(spark, settings, silver_spec("fitbit_intraday", "fitbit_intraday"), "r1")

    rows = {(r[1], r[3]): r[2] for r in intraday_rows(spark, settings)}
    assert len(rows) == 10, rows  # 8 API quarter hours + the one only the Takeout has + the legacy minute
    # Same instant by both routes: the API's point stays (its count, not the CSV's count + 1).
    assert rows[("2025-02-28T23:15:00Z", "google-health-api")] == 100.0
    assert ("2025-02-28T23:15:00Z", "takeout-csv") not in rows
    assert rows[("2025-03-01T01:00:00Z", "takeout-csv")] == 556.0
    assert rows[("2025-03-01T02:00:00Z", "fitbit-web-api")] == 42.0


REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "takeout"


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not beside the checkout")
def test_takeout_zip_lands_in_silver_with_hand_computed_instants_and_units(
    spark: SparkSession, settings: Settings, landing: LandingZone, tmp_path: Path
) -> None:
    json_dir, csv_dir = "Takeout/Fitbit/Global Export Data/", "Takeout/Fitbit/Physical Activity_GoogleData/"
    members = {
        json_dir + "distance-2017-12-31.json": (REALDATA / "distance.json").read_bytes(),  # real, centimetres
        json_dir + "resting_heart_rate-2018-12-30.json": (REALDATA / "resting_heart_rate.json").read_bytes(),
        json_dir + "time_in_heart_rate_zones-2018-01-02.json": (REALDATA / "heart_rate_zones.json").read_bytes(),
        json_dir + "heart_rate-2024-10-26.json": b'[{"dateTime": "10/26/24 12:00:00", "value": {"bpm": 71, '
        b'"confidence": 3}}]',
        csv_dir + "heart_rate_2024-10-27.csv": b"timestamp,beats per minute,data source\n2024-10-27T00:00:04Z,65.0,W\n",
        csv_dir + "distance_2024-10-01.csv": b"timestamp,distance,data source\n2024-10-27T07:00:00Z,1500.0,W\n",
    }
    path = tmp_path / "takeout.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    import_takeout(path, landing, user_id="ana")
    load_entity(spark, settings, GOOGLE_HEALTH_DATAPOINTS, run_id="t1")
    run_silver(spark, settings, "t1")

    table = read_table(spark, Tables(settings).ref("silver", "fitbit_intraday"))
    rows = {
        (r["metric"], r["ts_utc"]): (r["ts_local"], round(r["value"], 6), r["source"])
        for r in table.collect()
    }
    # Amsterdam (the test settings' zone): CET = UTC+1 in December, CEST = UTC+2 until 27 Oct 2024 01:00 UTC.
    assert rows[("distance_m", datetime(2017, 12, 31, 15, 42))] == (datetime(2017, 12, 31, 16, 42), 41.1,
                                                                    "takeout-json")  # fmt: skip
    assert rows[("distance_m", datetime(2024, 10, 27, 7, 0))] == (datetime(2024, 10, 27, 8, 0), 1500.0, "takeout-csv")
    assert rows[("heart_rate_bpm", datetime(2024, 10, 26, 10, 0))] == (datetime(2024, 10, 26, 12, 0), 71.0,
                                                                       "takeout-json")  # fmt: skip
    assert rows[("heart_rate_bpm", datetime(2024, 10, 27, 0, 0, 4))] == (datetime(2024, 10, 27, 2, 0, 4), 65.0,
                                                                         "takeout-csv")  # fmt: skip
    assert len(rows) == 5 + 1 + 2  # five real distance minutes, one CSV distance, two heart-rate samples
    daily = read_table(spark, Tables(settings).ref("silver", "fitbit_daily"))
    resting = {(r["date"], r["resting_heart_rate_bpm"]) for r in daily.where("metric = 'heart_rate_bpm'").collect()}
    assert resting == {(date(2018, 12, 30), 59), (date(2018, 12, 31), 58)}  # 59.42 and 58.30 rounded
    zones = daily.where("metric = 'heart_rate_zone_minutes' AND date = '2018-01-02'").first()["heart_rate_zones"]
    assert {z["zone"]: z["minutes"] for z in zones} == {"Out of Range": 1037, "Fat Burn": 154, "Cardio": 20, "Peak": 10}
