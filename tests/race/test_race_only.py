"""A lakehouse holding only race files: every stage runs, the race tables are built, the rest is skipped."""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.stages import STAGES, failed, run_stages
from lakehouse.tables import Tables, read_table, table_exists


def test_race_files_alone_build_the_race_tables(spark: SparkSession, race_lake: Settings) -> None:
    rows = run_stages(race_lake, STAGES, "race-only", spark=spark)
    assert not failed(rows)
    notes = {r.table: r.note for r in rows}
    assert notes["bronze.strava_activities"].startswith("skipped")
    assert notes["silver.strava_activities"].startswith("skipped")
    assert notes["gold.workout_classification"].startswith("skipped")
    tables = Tables(race_lake)
    assert not table_exists(spark, tables.ref("silver", "workouts"))
    results = read_table(spark, tables.ref("gold", "race_stage_results"))
    assert sorted(r[0] for r in results.select("stage").distinct().collect()) == [3, 6]
    assert table_exists(spark, tables.ref("gold", "race_general_classification"))
