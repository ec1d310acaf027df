"""A lakehouse holding only race files: every stage runs, the race tables are built, the rest is skipped."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.race import stream
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


def test_the_stream_on_a_lakehouse_without_race_routes_says_where_they_go(
    spark: SparkSession, settings: Settings
) -> None:
    """A person with no race data who starts the race stream: a clear error naming the folder, nothing started."""
    with pytest.raises(stream.StreamError) as error:
        stream.run_available_now(spark, settings)
    message = str(error.value)
    assert "silver.race_stages is missing" in message
    assert f"{settings.landing_root}/race/stages/stage=NN/" in message
    assert "jobs.race --step land" in message
    assert not spark.streams.active
