"""The end-of-run summary (pure), and results round-tripping through ops.check_results."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.quality.results import (
    RESULTS_SCHEMA,
    RESULTS_TABLE,
    CheckResult,
    record_results,
    run_results,
    run_summary,
    summarize,
)
from lakehouse.tables import Tables, read_table

T = "silver.strava_activities"
RESULTS = [
    CheckResult(
        T, "distance_non_negative", "expectation", "warn", True, 58, 0, 0.0, None, "all 58 rows meet"
    ),
    CheckResult(
        T, "start_time_present", "expectation", "quarantine", False, 58, 2, 2 / 58, None, "2 of 58 rows"
    ),
    CheckResult(T, "no_duplicate_keys_in_staged", "check", "halt", True, 56, None, 0.0, 0.0, "observed 0"),
    CheckResult(
        T, "weekly_activity_count_zscore", "check", "warn", False, 56, None, -5.06, 1.645, "observed -5.06"
    ),
    CheckResult(
        T, "weekly_kudos_zscore", "check", "warn", None, 56, None, None, 1.645, "skipped: no history"
    ),
]


def test_summary_counts_statuses_and_lists_what_did_not_pass() -> None:
    assert summarize(RESULTS, "run-7").splitlines() == [
        "data quality, run run-7: 5 rules, 2 ok, 1 skipped, 1 quarantine, 1 warn",
        f"QUARANTINE  {T}  start_time_present: 2 of 58 rows",
        f"WARN        {T}  weekly_activity_count_zscore: observed -5.06",
        f"skipped     {T}  weekly_kudos_zscore: skipped: no history",
    ]
    assert summarize([]) == "data quality: no rules ran"


def test_results_round_trip_through_the_delta_table(spark: SparkSession, settings: Settings) -> None:
    at = datetime(2024, 2, 11, 23, 0)
    record_results(spark, settings, RESULTS[:2], run_id="run-7", stage="silver", checked_at=at)
    record_results(spark, settings, RESULTS[3:4], run_id="run-8", stage="silver", checked_at=at)

    expected = spark.createDataFrame(
        [
            ("run-7", at, "silver", T, "distance_non_negative", "expectation", "warn", True, 58, 0, 0.0, None,
             "all 58 rows meet"),
            ("run-7", at, "silver", T, "start_time_present", "expectation", "quarantine", False, 58, 2, 2 / 58,
             None, "2 of 58 rows"),
            ("run-8", at, "silver", T, "weekly_activity_count_zscore", "check", "warn", False, 56, None, -5.06,
             1.645, "observed -5.06"),
        ],
        RESULTS_SCHEMA,
    )  # fmt: skip
    table = read_table(spark, Tables(settings).ref(*RESULTS_TABLE))
    assert_df_equality(table, expected, ignore_row_order=True, ignore_nullable=True)
    assert sorted(run_results(spark, settings, "run-7"), key=lambda r: r.rule) == RESULTS[:2]
    assert run_summary(spark, settings, "run-8") == summarize(RESULTS[3:4], "run-8")
