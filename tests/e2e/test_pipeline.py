"""The main job end to end on generated data: built twice, every table stays exactly as it was; the
analytics show the sample's story (the dog arrives: walks multiply, runs stay runs); and after a week of
new data, the incremental gold run equals a full recompute."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.pipeline import STAGES, SummaryRow, run
from lakehouse.config import Settings
from lakehouse.gold import activity_summary_monthly
from lakehouse.gold.run import run_gold
from lakehouse.landing import LandingZone
from lakehouse.silver.run import SPECS
from lakehouse.stages import format_summary
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table
from lakehouse_demo.sample import strava as sample_strava
from tests.conftest import DemoLakehouse

pytestmark = pytest.mark.e2e

BRONZE = ("strava_activities", "fitbit_intraday", "mapmyrun_workouts", "quarantine")
GOLD = {activity_summary_monthly.NAME: activity_summary_monthly.KEYS}


@dataclass
class Built:
    settings: Settings
    first_rows: list[SummaryRow]
    second_rows: list[SummaryRow]
    first: dict[str, list[tuple[object, ...]]]
    second: dict[str, list[tuple[object, ...]]]


def snapshot(spark: SparkSession, settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows."""
    tables = Tables(settings)
    refs = [tables.ref("bronze", n) for n in BRONZE]
    refs += [tables.ref("silver", s.name) for s in SPECS if s.name not in ("strava_streams", "api_calls")]
    refs += [tables.ref("silver", "workouts")] + [tables.ref("gold", n) for n in GOLD]
    return {ref.label: sorted((tuple(r) for r in read_table(spark, ref).collect()), key=repr) for ref in refs}


@pytest.fixture(scope="module")
def built(spark: SparkSession, demo_lakehouse: DemoLakehouse) -> Built:
    settings, first_rows = demo_lakehouse.settings, demo_lakehouse.rows  # the main job, run once per test run
    first = snapshot(spark, settings)
    second_rows = run(settings, STAGES, spark=spark)
    return Built(settings, first_rows, second_rows, first, snapshot(spark, settings))


def test_main_job_twice_gives_the_same_tables_without_duplicate_keys(spark: SparkSession, built: Built) -> None:
    assert built.first == built.second
    tables = Tables(built.settings)
    for spec in SPECS:
        if spec.name in ("strava_streams", "api_calls"):  # the sample lands no streams and makes no API calls
            continue
        df = read_table(spark, tables.ref("silver", spec.name))
        assert df.groupBy(*spec.keys).count().where(F.col("count") > 1).count() == 0, spec.name
    for name, keys in GOLD.items():
        df = read_table(spark, tables.ref("gold", name))
        assert df.groupBy(*keys).count().where(F.col("count") > 1).count() == 0
    by_table = {(r.stage, r.table): r for r in built.first_rows}
    landed_activities = by_table[("land", "strava/activities")].rows_in
    assert by_table[("bronze", "bronze.strava_activities")].rows_written == landed_activities
    assert len(built.first["silver.strava_activities"]) == landed_activities
    assert all(r.rows_written == 0 for r in built.second_rows if r.stage in ("land", "bronze", "silver"))
    fitness_gold = [r for r in built.second_rows if r.stage == "gold" and not r.table.startswith("gold.race_")]
    assert fitness_gold and all(r.note == "unchanged" for r in fitness_gold)
    summary = format_summary(built.second_rows)
    assert "bronze.strava_activities" in summary and "no new files" in summary


def test_the_same_session_in_two_apps_is_one_workout(spark: SparkSession, built: Built) -> None:
    workouts = read_table(spark, Tables(built.settings).ref("silver", "workouts"))
    both = workouts.where(F.size("sources") == 2).count()
    strava = workouts.where(F.array_contains("sources", "strava")).count()
    assert both > 0
    assert strava == len(built.first["silver.strava_activities"])


def test_the_dog_era_shows_in_classification_and_before_after(spark: SparkSession, built: Built) -> None:
    tables = Tables(built.settings)
    event = built.settings.people[0].event_date
    labels = read_table(spark, tables.ref("gold", "workout_classification"))
    share = (
        labels.withColumn("era", F.when(F.col("workout_date") < F.lit(event), "before").otherwise("after"))
        .groupBy("era")
        .agg(F.avg(F.when(F.col("label") == "pup_walk", 1.0).otherwise(0.0)).alias("pup_walk_share"))
        .collect()
    )
    by_era = {r["era"]: r["pup_walk_share"] for r in share}
    assert by_era["after"] > 0.5 > by_era["before"]
    before_after = read_table(spark, tables.ref("gold", "before_after"))
    walks = before_after.where((F.col("sport") == "walk") & (F.col("metric") == "workouts_per_month")).first()
    assert walks["after"] > 3 * walks["before"]
    runs = before_after.where((F.col("sport") == "run") & (F.col("metric") == "mean_pace_min_per_km")).first()
    assert runs["change_factor"] < 1.3  # runs stay runs: the pace of running barely moves


GOLD_TABLES = (
    "activity_summary_monthly", "kudos_weekly", "fitbit_daily_summary", "hr_zone_minutes_daily",
    "workout_classification", "consistency_weekly", "consistency_monthly", "workout_anomalies", "trends_monthly",
    "trend_fits", "before_after", "activity_training_load", "training_load_daily", "streaks", "eddington",
    "kudos_predictions", "forecast_monthly", "race_stage_results", "race_general_classification",
    "race_checkpoint_times", "race_climb_times", "race_rider_profiles",
)  # fmt: skip


def gold_snapshot(spark: SparkSession, settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    tables = Tables(settings)
    out = {}
    for name in GOLD_TABLES:
        df = read_table(spark, tables.ref("gold", name))
        columns = sorted(c for c in df.columns if c not in ("_row_hash", "built_at", "run_id"))
        rows = [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in df.select(*columns).collect()]
        out[name] = sorted(rows, key=repr)
    return out


def _land_more_fitbit_and_mapmyrun(settings: Settings) -> None:
    """A new Fitbit day and a changed one (a re-pull), and a new MapMyRun export with one new workout."""
    store = LocalStore(settings.landing_root)
    landing = LandingZone(store)
    heart_key = sorted(k for k in store.list_keys("fitbit/heart/") if k.endswith(".json"))[-1]
    envelopes = json.loads(store.read_bytes(heart_key))
    last = max(envelopes, key=lambda e: e["date"])
    new_day = (date.fromisoformat(last["date"]) + timedelta(days=1)).isoformat()
    moved = json.loads(json.dumps(last).replace(last["date"], new_day))
    changed = json.loads(json.dumps(envelopes[0]))
    changed["response"]["activities-heart-intraday"]["dataset"][0]["value"] += 7
    landing.write_json_month("fitbit", "heart", new_day[:7], "weekly-2", [moved, changed])
    csv_key = sorted(k for k in store.list_keys("mapmyrun/workouts/") if k.endswith(".csv"))[-1]
    header, first, *_ = store.read_bytes(csv_key).decode("utf-8").splitlines()
    row = re.sub(r"/workout/(\d+)", lambda m: f"/workout/{int(m.group(1)) + 7_000_000}", first)
    landing.write_bytes(csv_key.rsplit("/", 1)[0] + "/weekly-2--mapmyrun_export.csv", f"{header}\n{row}\n".encode(), 1)


def test_incremental_gold_equals_full_recompute(spark: SparkSession, built: Built) -> None:
    """Runs last in this module: it adds a week of data to the lakehouse the tests above built (new and
    re-pulled Strava activities, a new and a changed Fitbit day, a new MapMyRun export): the incremental run
    equals a full recompute."""
    settings = built.settings

    activities = sorted(sample_strava.generate_activities(settings.sample), key=lambda a: str(a["start_date"]))
    newest, older = activities[-1], activities[len(activities) // 2]
    extra = [
        sample_strava.shifted(newest, 9, int(newest["id"]) + 1_000_001),  # a new month
        sample_strava.shifted(newest, 10, int(newest["id"]) + 1_000_002),
        {**older, "kudos_count": int(older["kudos_count"]) + 5},  # re-pulled with more kudos, months ago
    ]
    landing = LandingZone(LocalStore(settings.landing_root))
    landing.write_json_month("strava", "activities", str(newest["start_date"])[:7], "weekly-2", extra)
    _land_more_fitbit_and_mapmyrun(settings)
    before = gold_snapshot(spark, settings)
    rows = run(settings, ("bronze", "silver", "gold"), spark=spark)
    by_table = {r.table: r for r in rows}
    incremental = gold_snapshot(spark, settings)

    assert "incremental" in by_table["gold.activity_summary_monthly"].note
    assert "incremental" in by_table["gold.training_load_daily"].note
    assert "incremental" in by_table["gold.fitbit_daily_summary"].note
    assert incremental["kudos_predictions"] != before["kudos_predictions"]  # retrained on the re-pulled kudos
    # No race file landed: the race's gold is left as the build made it (from scratch, so it is its own recompute).
    assert by_table["gold.race_*"].note == "unchanged"
    run_gold(spark, settings, "full", full=True)
    assert gold_snapshot(spark, settings) == incremental


@pytest.mark.slow  # two more gold runs (~150 s): `pytest -m slow` (outside the default suite's time budget)
def test_changed_settings_incremental_gold_equals_full_recompute(spark: SparkSession, built: Built) -> None:
    """Every setting gold reads, changed (event date, physiology, weekly target, k): the tables that read
    them change, and the incremental run equals a full recompute."""
    settings = built.settings
    incremental = gold_snapshot(spark, settings)
    (sam,) = settings.people
    changed = replace(
        settings,
        people=(replace(sam, event_date=date(2023, 1, 1), hr_max=200.0, hr_rest=50.0, threshold_hr=175.0,
                        trimp_k=1.67, weekly_target=2.0),),
        analytics=replace(settings.analytics, kmeans_k=4),
    )  # fmt: skip
    run(changed, ("gold",), spark=spark)
    after_settings = gold_snapshot(spark, changed)
    for name in ("before_after", "consistency_weekly", "activity_training_load", "training_load_daily",
                 "workout_classification"):  # fmt: skip
        assert after_settings[name] != incremental[name], name
    run_gold(spark, changed, "full", full=True)
    assert gold_snapshot(spark, changed) == after_settings
