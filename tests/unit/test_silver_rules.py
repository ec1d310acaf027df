"""The declared rules compile against the real silver tables, and say what they should on a literal row."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakehouse.quality.checks import validate_checks
from lakehouse.quality.expectations import apply_expectations, validate_expectations
from lakehouse.silver import api_calls, fitbit, mapmyrun_workouts, strava_activities, strava_streams
from lakehouse.silver.rules import CHECKS, EXPECTATIONS, checks_for, expectations_for
from lakehouse.silver.run import SPECS

BRONZE_SCHEMA = T.StructType(
    [
        T.StructField("record", T.StringType()),
        T.StructField("_source_file", T.StringType()),
        T.StructField("_batch_id", T.LongType()),
        T.StructField("_record_index", T.IntegerType()),
        T.StructField("_ingested_at", T.TimestampType()),
    ]
)
TRANSFORMS: dict[str, Callable[[DataFrame], DataFrame]] = {
    "silver.strava_activities": strava_activities.to_silver,
    "silver.fitbit_intraday": lambda df: fitbit.intraday_to_silver(df, "UTC"),
    "silver.fitbit_daily": lambda df: fitbit.daily_to_silver(df, "UTC"),
    "silver.mapmyrun_workouts": mapmyrun_workouts.to_silver,
    "silver.strava_streams": strava_streams.to_silver,
    "silver.api_calls": api_calls.to_silver,
}


def bronze(spark: SparkSession, records: list[dict[str, object]]) -> DataFrame:
    rows = [(json.dumps(r), "f.json", 1, i, datetime(2024, 7, 2)) for i, r in enumerate(records)]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def test_every_staged_silver_table_has_rules() -> None:
    assert set(EXPECTATIONS) == set(TRANSFORMS) == set(CHECKS) == {f"silver.{spec.name}" for spec in SPECS}
    assert all(e.table == table for table, rules in EXPECTATIONS.items() for e in rules)
    assert all(c.table == table for table, checks in CHECKS.items() for c in checks)


@pytest.mark.parametrize("table", sorted(TRANSFORMS))
def test_rules_compile_against_the_silver_schema(spark: SparkSession, table: str) -> None:
    staged = TRANSFORMS[table](bronze(spark, []))

    validate_expectations(staged, expectations_for(table))  # analysis only: raises if a rule does not compile
    validate_checks(spark, checks_for(table), staged, None)


def test_strava_rules_on_literal_activities(spark: SparkSession) -> None:
    run = {
        "id": 1,
        "athlete": {"id": 7},
        "sport_type": "Run",
        "type": "Run",
        "start_date": "2024-07-01T10:00:00Z",
        "start_date_local": "2024-07-01T12:00:00Z",
        "distance": 10000.0,
        "moving_time": 3000,
        "elapsed_time": 3100,
        "average_speed": 3.333,
        "kudos_count": 3,
    }
    records = [
        run,
        {**run, "id": 2, "average_speed": 9.5},  # a 9.5 m/s "run": implausible, warned
        {**run, "id": 3, "moving_time": 3200, "elapsed_time": 3100},  # 100 s over: warned (60 s tolerance)
        {**run, "id": 4, "start_date": None},  # no start time: quarantined
        {**run, "id": 5, "sport_type": "Ride", "type": "Ride", "average_speed": 9.5},  # a fine ride
    ]
    outcome = apply_expectations(
        strava_activities.to_silver(bronze(spark, records)), expectations_for("silver.strava_activities")
    )

    failed = {r.rule: r.rows_failed for r in outcome.results if r.rows_failed}
    assert failed == {
        "plausible_speed_for_sport": 1,
        "moving_time_within_elapsed": 1,
        "start_time_present": 1,
    }
    assert sorted(r["activity_id"] for r in outcome.kept.collect()) == [1, 2, 3, 5]


def test_fitbit_heart_rate_outside_20_to_250_is_quarantined(spark: SparkSession) -> None:
    def point(time: str, bpm: float | None) -> dict[str, object]:
        return {"time": time, "value": bpm}

    envelope = {
        "user_id": "U1",
        "resource": "heart",
        "date": "2024-07-01",
        "detail_level": "1min",
        "response": {
            "activities-heart-intraday": json.dumps(
                {
                    "dataset": [point("08:00:00", 19.0), point("08:01:00", 20.0), point("08:02:00", 250.0),
                                point("08:03:00", 251.0), point("08:04:00", None)],
                    "datasetInterval": 1,
                    "datasetType": "minute",
                }
            )
        },
    }  # fmt: skip
    staged = fitbit.intraday_to_silver(bronze(spark, [envelope]), "UTC")

    outcome = apply_expectations(staged, expectations_for("silver.fitbit_intraday"))

    failed = {r.rule: r.rows_failed for r in outcome.results if r.rows_failed}
    assert failed == {"heart_rate_in_range": 2, "value_present": 1}  # 19 and 251 bpm; the point without value
    assert sorted(r["value"] for r in outcome.kept.collect()) == [20.0, 250.0]
    assert outcome.quarantined.count() == 2
