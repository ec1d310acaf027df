"""Gold is incremental: after new data, a weekly run recomputes only what changed and equals a full recompute."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pyspark.sql import SparkSession

from jobs.pipeline import STAGES, run
from lakehouse.config import Settings
from lakehouse.gold.run import run_gold
from lakehouse.landing import LandingZone
from lakehouse.sample import strava as sample_strava
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table

pytestmark = pytest.mark.e2e

GOLD_TABLES = (
    "activity_summary_monthly", "kudos_weekly", "fitbit_daily_summary", "workout_classification",
    "consistency_weekly", "consistency_monthly", "workout_anomalies", "trends_monthly", "trend_fits",
    "before_after", "activity_training_load", "training_load_daily", "streaks", "eddington",
)  # fmt: skip


def snapshot(spark: SparkSession, settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    tables = Tables(settings)
    out = {}
    for name in GOLD_TABLES:
        df = read_table(spark, tables.ref("gold", name))
        columns = sorted(c for c in df.columns if c != "_row_hash")
        rows = [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in df.select(*columns).collect()]
        out[name] = sorted(rows, key=repr)
    return out


def shifted(activity: dict[str, object], days: int, new_id: int) -> dict[str, object]:
    moved = dict(activity)
    for key in ("start_date", "start_date_local"):
        when = datetime.strptime(str(activity[key]), "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=days)
        moved[key] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    moved["id"] = new_id
    return moved


def test_incremental_gold_equals_full_recompute(spark: SparkSession, settings: Settings) -> None:
    run(settings, STAGES, spark=spark)

    activities = sorted(sample_strava.generate_activities(settings.sample), key=lambda a: str(a["start_date"]))
    newest, older = activities[-1], activities[len(activities) // 2]
    extra = [
        shifted(newest, 9, int(newest["id"]) + 1_000_001),  # a new month
        shifted(newest, 10, int(newest["id"]) + 1_000_002),
        {**older, "kudos_count": int(older["kudos_count"]) + 5},  # re-pulled with more kudos, months ago
    ]
    landing = LandingZone(LocalStore(settings.landing_root))
    landing.write_json_month("strava", "activities", str(newest["start_date"])[:7], "weekly-2", extra)
    rows = run(settings, ("bronze", "silver", "gold"), spark=spark)
    by_table = {r.table: r for r in rows}
    incremental = snapshot(spark, settings)

    assert "incremental" in by_table["gold.activity_summary_monthly"].note
    assert "incremental" in by_table["gold.training_load_daily"].note
    run_gold(spark, settings, "full", full=True)
    assert snapshot(spark, settings) == incremental
