"""Strava archive -> bronze -> silver, and archive + API sync -> each activity once, the API copy winning.

Expected values are read off the real archive's CSV row by hand, or taken from the generated activities.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.entities import STRAVA_ACTIVITIES, STRAVA_ACTIVITY_STREAMS
from lakehouse.bronze.loader import QUARANTINE_TABLE, load_entity
from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.silver.run import SPECS, run_silver_table
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.sources.strava_archive import import_archive
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table
from lakehouse_demo.standins.strava import StravaStandin

ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "strava-archive"
pytestmark = pytest.mark.skipif(not ARCHIVE.is_dir(), reason="../shared/realdata is not beside the checkout")
ATHLETE = 26462176


def load_bronze_and_silver(spark: SparkSession, settings: Settings, run_id: str, streams: bool = True) -> None:
    """Bronze loads of activities (and streams), then their silver MERGEs."""
    entities = (STRAVA_ACTIVITIES, STRAVA_ACTIVITY_STREAMS) if streams else (STRAVA_ACTIVITIES,)
    for entity in entities:
        load_entity(spark, settings, entity, run_id=run_id)
    names = ("strava_activities", "strava_streams") if streams else ("strava_activities",)
    for spec in SPECS:
        if spec.name in names:
            run_silver_table(spark, settings, spec, run_id)


def silver(spark: SparkSession, settings: Settings, name: str) -> Any:
    return read_table(spark, Tables(settings).ref("silver", name))


def test_real_archive_reaches_silver_activities_and_streams(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    header, row = list(csv.reader((ARCHIVE / "activities.csv").open(encoding="utf-8", newline="")))[:2]
    bad = [*row]
    bad[0], bad[1] = "12070555080", "not a date"
    folder = tmp_path / "export"
    (folder / "activities").mkdir(parents=True)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, row, bad])
    (folder / "activities.csv").write_text(text.getvalue(), encoding="utf-8")
    (folder / "profile.csv").write_bytes((ARCHIVE / "profile.csv").read_bytes())
    fit = "12866632127.fit.gz"
    (folder / "activities" / fit).write_bytes((ARCHIVE / "activities" / fit).read_bytes())
    import_archive(folder, LandingZone(LocalStore(settings.landing_root)))

    load_bronze_and_silver(spark, settings, "archive")

    columns = "athlete_id long, activity_id long, sport_type string, start_time_utc timestamp, "
    columns += "start_time_local timestamp_ntz, activity_date date, distance_m double, moving_time_s long, "
    columns += "elapsed_time_s long, kudos_count int, source_route string"
    expected = spark.createDataFrame(
        [(144106043, 12070555079, "Run", datetime(2022, 5, 29, 15, 53, 35), datetime(2022, 5, 29, 17, 53, 35),
          date(2022, 5, 29), 3322.949951171875, 1411, 1428, 0, "archive")],
        columns,
    )  # fmt: skip
    actual = silver(spark, settings, "strava_activities").select(*[c.split()[0] for c in columns.split(", ")])
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    streams = silver(spark, settings, "strava_streams")
    assert streams.count() == 326  # record messages of the FIT file
    first = streams.where(F.col("point") == 0).select("time_s", "lat", "lng", "source_route").first()
    assert first is not None
    assert (first["time_s"], first["source_route"]) == (0, "archive")
    assert (first["lat"], first["lng"]) == pytest.approx((594193419 * 180 / 2**31, 82192814 * 180 / 2**31))
    assert streams.agg(F.max("time_s")).first()[0] == 1428
    reasons = [r["reason"] for r in read_table(spark, Tables(settings).ref(*QUARANTINE_TABLE)).collect()]
    assert reasons == [
        "rejected at import: activities.csv line 3: Activity Date 'not a date' is not a date Strava writes "
        "(e.g. 'May 29, 2022, 3:53:35 PM')"
    ]


def generated(count: int) -> list[dict[str, Any]]:
    """SummaryActivities two days apart from 2024-01-01, ids rising with time, kudos 1..count."""
    rng = random.Random(3)
    start = datetime(2024, 1, 1, 7, tzinfo=UTC)
    activities = []
    for index in range(count):
        started = start + timedelta(days=2 * index, minutes=rng.randint(0, 600))
        distance = round(rng.uniform(3000, 20000), 1)
        activities.append(
            {"id": 5_000 + index, "athlete": {"id": ATHLETE}, "name": f"Run {index}", "type": "Run",
             "sport_type": "Run", "start_date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "start_date_local": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "utc_offset": 0.0,
             "distance": distance, "moving_time": int(distance / 3), "elapsed_time": int(distance / 3) + 60,
             "kudos_count": index + 1, "comment_count": 0, "start_latlng": [], "end_latlng": []}
        )  # fmt: skip
    return activities


def archive_folder(activities: list[dict[str, Any]], root: Path) -> Path:
    """Today's 91-column activities.csv (the real header) holding `activities`, and a profile.csv."""
    header = next(csv.reader((ARCHIVE / "activities.csv").open(encoding="utf-8", newline="")))
    where = {name: header.index(name) for name in ("Activity ID", "Activity Date", "Activity Name", "Activity Type")}
    distances = [i for i, name in enumerate(header) if name == "Distance"]
    elapsed = [i for i, name in enumerate(header) if name == "Elapsed Time"]
    rows = []
    for activity in activities:
        row = [""] * len(header)
        started = datetime.strptime(activity["start_date"], "%Y-%m-%dT%H:%M:%SZ")
        row[where["Activity ID"]] = str(activity["id"])
        row[where["Activity Date"]] = started.strftime("%b %d, %Y, %I:%M:%S %p")
        row[where["Activity Name"]], row[where["Activity Type"]] = activity["name"], "Run"
        row[distances[0]], row[distances[1]] = f"{activity['distance'] / 1000:.2f}", str(activity["distance"])
        row[elapsed[0]] = row[elapsed[1]] = str(activity["elapsed_time"])
        row[header.index("Moving Time")] = str(activity["moving_time"])
        rows.append(row)
    root.mkdir(parents=True)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    (root / "activities.csv").write_text(text.getvalue(), encoding="utf-8")
    (root / "profile.csv").write_text(f"Athlete ID\n{ATHLETE}\n", encoding="utf-8")
    return root


def test_archive_then_api_sync_gives_each_activity_once_and_the_api_copy_wins(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    history = generated(30)  # 2024-01-01 .. 2024-03-0x, two days apart
    archived = history[:20]
    landing = LandingZone(LocalStore(settings.landing_root))
    import_archive(archive_folder(archived, tmp_path / "export"), landing)
    clock = ManualClock(datetime(2024, 4, 1, tzinfo=UTC))
    with StravaStandin(history, clock=clock) as strava:
        api = StravaSettings(
            client_id=strava.client_id, client_secret=Secret(strava.client_secret),
            refresh_token=Secret(strava.refresh_token), token_file=tmp_path / "token.json", base_url=strava.base_url,
        )  # fmt: skip
        assert sync_strava(api, landing, clock=clock, progress=None).completed
    load_bronze_and_silver(spark, settings, "first", streams=False)

    # The sync listed from the newest archived start (#19, day 38 + under 10 h) minus 7 days (day 31 + ...):
    # #16 (day 32), #17, #18 and #19 came by both routes.
    overlap = {a["id"] for a in archived[16:]}
    expected_rows = [
        (a["id"], "api" if a["id"] in overlap or a not in archived else "archive",
         a["kudos_count"] if a["id"] in overlap or a not in archived else 0)
        for a in history
    ]  # fmt: skip
    expected = spark.createDataFrame(expected_rows, "activity_id long, source_route string, kudos_count int")
    actual = silver(spark, settings, "strava_activities").select("activity_id", "source_route", "kudos_count")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)

    # The archive imported again, so its copies are now the latest ingestion: the API copies still win.
    import_archive(archive_folder(archived, tmp_path / "export-again"), landing)
    load_bronze_and_silver(spark, settings, "second", streams=False)

    actual = silver(spark, settings, "strava_activities").select("activity_id", "source_route", "kudos_count")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
