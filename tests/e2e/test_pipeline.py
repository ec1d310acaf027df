"""The main job end to end on generated data: twice in a row leaves every table exactly as it was."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.pipeline import STAGES, format_summary, run
from lakehouse.config import Settings
from lakehouse.gold import activity_summary_monthly
from lakehouse.silver.run import SPECS
from lakehouse.tables import Tables, read_table

pytestmark = pytest.mark.e2e

BRONZE = ("strava_activities", "fitbit_intraday", "mapmyrun_workouts", "quarantine")
GOLD = {activity_summary_monthly.NAME: activity_summary_monthly.KEYS}


def snapshot(spark: SparkSession, settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, minus the columns that record *when* (which legitimately differ)."""
    tables = Tables(settings)
    refs = [tables.ref("bronze", n) for n in BRONZE]
    refs += [tables.ref("silver", s.name) for s in SPECS] + [tables.ref("gold", n) for n in GOLD]
    out = {}
    for ref in refs:
        df = read_table(spark, ref)
        out[ref.label] = sorted(tuple(r) for r in df.collect())
    return out


def test_main_job_twice_gives_the_same_tables_without_duplicate_keys(
    spark: SparkSession, settings: Settings
) -> None:
    first_rows = run(settings, STAGES, spark=spark)
    first = snapshot(spark, settings)
    second_rows = run(settings, STAGES, spark=spark)
    second = snapshot(spark, settings)

    assert first == second
    tables = Tables(settings)
    for spec in SPECS:
        df = read_table(spark, tables.ref("silver", spec.name))
        dupes = df.groupBy(*spec.keys).count().where(F.col("count") > 1).count()
        assert dupes == 0, f"silver.{spec.name} has duplicate keys"
        assert df.count() > 0, f"silver.{spec.name} is empty"
    for name, keys in GOLD.items():
        df = read_table(spark, tables.ref("gold", name))
        assert df.groupBy(*keys).count().where(F.col("count") > 1).count() == 0
    # The first run loaded every landed record; the second found nothing new.
    by_table = {(r.stage, r.table): r for r in first_rows}
    landed_activities = by_table[("land", "strava/activities")].rows_in
    assert by_table[("bronze", "bronze.strava_activities")].rows_written == landed_activities
    assert len(first["silver.strava_activities"]) == landed_activities
    assert all(r.rows_written == 0 for r in second_rows if r.stage in ("land", "bronze", "silver"))
    summary = format_summary(second_rows)
    assert "bronze.strava_activities" in summary and "no new files" in summary
