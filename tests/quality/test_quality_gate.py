"""The gate on tiny Delta tables: the seed's quiet week warns and merges; fail and halt leave production untouched."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse.config import Settings
from lakehouse.quality.checks import ValidationHalted
from lakehouse.quality.expectations import FAIL, Expectation, ExpectationFailed
from lakehouse.quality.gate import (
    QUARANTINE_SCHEMA,
    GateOutcome,
    ensure_tables,
    gate,
    quarantine_ref,
    run_gate,
)
from lakehouse.quality.results import RESULTS_SCHEMA, RESULTS_TABLE, run_results, summarize
from lakehouse.silver.readable import PARSE_ERRORS
from lakehouse.silver.rules import checks_for, expectations_for
from lakehouse.tables import TableRef, Tables, delta_table, read_table, table_exists
from lakehouse.tables.merge import merge_upsert, with_row_hash

KEYS = ("athlete_id", "activity_id")
SCHEMA = (
    "athlete_id long, activity_id long, sport_type string, start_time_utc timestamp, activity_date date, "
    "distance_m double, moving_time_s long, elapsed_time_s long, average_speed_mps double, "
    "average_heartrate_bpm double, kudos_count int, _ingested_at timestamp"
)
MONDAY = date(2024, 1, 1)
INGESTED = datetime(2024, 3, 1)

Row = tuple[int, int, str, datetime | None, date, float, int, int, float, float, int, datetime]


def run(activity_id: int, day: date, kudos: int, distance: float = 5000.0) -> Row:
    """A plausible 25-minute run at 7 am: 5 km in 1500 s (3.33 m/s), 150 bpm."""
    start = datetime(day.year, day.month, day.day, 7)
    return (7, activity_id, "Run", start, day, distance, 1500, 1550, 3.333, 150.0, kudos, INGESTED)


def without_start_time(row: Row) -> Row:
    return (*row[:3], None, *row[4:])


def silver(spark: SparkSession, rows: list[Row]) -> DataFrame:
    """Silver-shaped rows, materialised once as the silver stage persists its staged rows."""
    return with_row_hash(spark.createDataFrame(rows, SCHEMA)).localCheckpoint()


def staged_rows(spark: SparkSession, rows: list[Row]) -> DataFrame:
    """Rows as the silver stage stages them: silver-shaped, plus `_parse_errors` (empty: every value read)."""
    return silver(spark, rows).withColumn(PARSE_ERRORS, F.array().cast("array<string>"))


def weeks_of_runs(counts: list[int], kudos: list[int], first_id: int = 1, first_week: int = 0) -> list[Row]:
    rows, next_id = [], first_id
    for k, (n, k_kudos) in enumerate(zip(counts, kudos, strict=True)):
        start = MONDAY + timedelta(weeks=first_week + k)
        for i in range(n):
            rows.append(run(next_id, start + timedelta(days=i % 7), k_kudos))
            next_id += 1
    return rows


def columns(schema: StructType) -> list[tuple[str, str]]:
    """Names and types (Delta reads every column back as nullable)."""
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def target(settings: Settings) -> TableRef:
    return Tables(settings).ref("silver", "strava_activities")


def stage_and_merge(spark: SparkSession, settings: Settings, staged: DataFrame, run_id: str) -> None:
    """What the silver stage does with the gate: read production, gate the staged rows, MERGE what passed."""
    ref = target(settings)
    production = read_table(spark, ref) if table_exists(spark, ref) else None
    label = "silver.strava_activities"
    to_merge = gate(spark, settings, "strava_activities", staged, production, run_id,
                    expectations=expectations_for(label), checks=checks_for(label))
    merge_upsert(spark, ref, to_merge.drop(PARSE_ERRORS), KEYS)


def test_seed_story_a_quiet_week_warns_and_still_merges(spark: SparkSession, settings: Settings) -> None:
    # History: 10, 12, 11, 9, 13 runs a week (mean 11, sample sd 1.58114), every run of week k with the same
    # kudos 4, 6, 5, 5, 6 (mean 5.2, sd sqrt(0.7) = 0.83666). Last week: only 3 runs, 5 kudos each.
    # Count z = (3 - 11) / 1.58114 = -5.0596: outside +-1.645, so it warns ("I didn't run anywhere near as
    # much last week"). Kudos z = (5 - 5.2) / 0.83666 = -0.2390: fine.
    merge_upsert(
        spark, target(settings), silver(spark, weeks_of_runs([10, 12, 11, 9, 13], [4, 6, 5, 5, 6])), KEYS
    )
    staged = staged_rows(spark, weeks_of_runs([3], [5], first_id=1000, first_week=5))

    stage_and_merge(spark, settings, staged, "run-quiet-week")

    recorded = run_results(spark, settings, "run-quiet-week")
    results = {r.rule: r for r in recorded}
    count, kudos = results.pop("weekly_activity_count_zscore"), results.pop("weekly_kudos_zscore")
    assert (count.passed, count.action, count.threshold) == (False, "warn", 1.645)
    assert count.observed == pytest.approx(-5.0596, abs=1e-4)
    assert (kudos.passed, kudos.observed) == (True, pytest.approx(-0.2390, abs=1e-4))
    assert all(r.passed for r in results.values()), results  # the 8 expectations and the duplicate check
    assert summarize(recorded, "run-quiet-week").splitlines() == [
        "data quality, run run-quiet-week: 11 rules, 10 ok, 1 warn",
        "WARN        silver.strava_activities  weekly_activity_count_zscore: observed -5.06, expected within "
        "±1.645 (warn): this week's activity count is unusual against the weekly history",
    ]
    assert read_table(spark, target(settings)).count() == 55 + 3  # a warning does not stop the merge


def production_snapshot(spark: SparkSession, ref: TableRef) -> tuple[int, DataFrame]:
    """The table's Delta version and its rows, materialised (so later commits cannot change them)."""
    version = delta_table(spark, ref).history(1).collect()[0]["version"]
    current = read_table(spark, ref)
    return version, spark.createDataFrame(current.collect(), current.schema)


def test_halt_leaves_production_untouched(spark: SparkSession, settings: Settings) -> None:
    ref = target(settings)
    merge_upsert(spark, ref, silver(spark, [run(1, MONDAY, 2), run(2, MONDAY, 3)]), KEYS)
    version, rows = production_snapshot(spark, ref)
    staged = staged_rows(
        spark,
        [
            run(2, MONDAY, 9),
            run(2, MONDAY, 11),  # activity 2 twice: the MERGE would not know which row wins
            run(3, MONDAY + timedelta(days=1), 1),
            without_start_time(run(4, MONDAY, 0)),  # to be quarantined, if the batch went ahead
        ],
    )

    with pytest.raises(
        ValidationHalted, match=r"no_duplicate_keys_in_staged: observed 1, expected = 0 \(halt\)"
    ):
        stage_and_merge(spark, settings, staged, "run-halted")

    assert delta_table(spark, ref).history(1).collect()[0]["version"] == version
    assert_df_equality(read_table(spark, ref), rows, ignore_row_order=True)
    assert not table_exists(spark, quarantine_ref(settings))  # nothing is quarantined on a halted batch
    recorded = {r.rule: (r.action, r.passed) for r in run_results(spark, settings, "run-halted")}
    assert recorded["no_duplicate_keys_in_staged"] == ("halt", False)
    assert recorded["start_time_present"] == ("quarantine", False)


def test_fail_expectation_leaves_production_untouched(spark: SparkSession, settings: Settings) -> None:
    ref = target(settings)
    merge_upsert(spark, ref, silver(spark, [run(1, MONDAY, 2)]), KEYS)
    version, rows = production_snapshot(spark, ref)
    staged = staged_rows(spark, [run(2, MONDAY, 0, distance=-1.0), run(3, MONDAY, 0)])
    rules = [Expectation("distance_non_negative", "silver.strava_activities", "distance_m >= 0", FAIL)]

    with pytest.raises(ExpectationFailed, match=r"distance_non_negative: 1 of 2 rows fail"):
        production = read_table(spark, ref)
        outcome = run_gate(
            spark, settings, "strava_activities", staged, production, "run-failed", expectations=rules
        )
        merge_upsert(spark, ref, outcome.rows, KEYS)

    assert delta_table(spark, ref).history(1).collect()[0]["version"] == version
    assert_df_equality(read_table(spark, ref), rows, ignore_row_order=True)
    [recorded] = run_results(spark, settings, "run-failed")
    assert (recorded.action, recorded.passed, recorded.rows_failed) == ("fail", False, 1)


def test_quarantined_rows_land_once_with_their_rule(spark: SparkSession, settings: Settings) -> None:
    staged = staged_rows(
        spark,
        [run(1, MONDAY, 1), run(2, MONDAY, 2), run(3, MONDAY, 3), without_start_time(run(4, MONDAY, 0))],
    )

    ensure_tables(spark, settings)  # the declared schemas first: the quarantine append must fit them

    def gate_batch_7(run_id: str) -> GateOutcome:
        return run_gate(spark, settings, "strava_activities", staged, None, run_id,
                        expectations=expectations_for("silver.strava_activities"), txn_version=7)

    first, again = gate_batch_7("run-1"), gate_batch_7("run-2")  # the same bronze batch, staged twice

    assert (first.quarantined, again.quarantined) == (1, 1)
    assert sorted(r["activity_id"] for r in first.rows.collect()) == [1, 2, 3]
    quarantine = read_table(spark, quarantine_ref(settings))
    assert columns(quarantine.schema) == columns(QUARANTINE_SCHEMA)
    assert columns(read_table(spark, Tables(settings).ref(*RESULTS_TABLE)).schema) == columns(RESULTS_SCHEMA)
    landed = quarantine.collect()
    assert [(r["run_id"], r["table_name"], r["rule"], r["rule_sql"]) for r in landed] == [
        ("run-1", "silver.strava_activities", "start_time_present", "start_time_utc IS NOT NULL")
    ]
    assert landed[0]["row_json"].startswith(
        '{"athlete_id":7,"activity_id":4,"sport_type":"Run","start_time_utc":null,"activity_date":"2024-01-01"'
    )
