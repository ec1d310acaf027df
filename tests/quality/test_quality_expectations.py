"""Expectations on literal rows: each action with hand-counted failures, precedence, and one pass for all rules."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakehouse.quality.expectations import (
    DROP,
    FAIL,
    QUARANTINE,
    WARN,
    Expectation,
    ExpectationFailed,
    InvalidExpectation,
    apply_expectations,
)

TABLE = "silver.t"
SCHEMA = "activity_id long, distance_m double, moving_time_s long, elapsed_time_s long"
ROWS = [
    (1, 5000.0, 1500, 1600),
    (2, -10.0, 600, 620),  # negative distance
    (3, None, 900, 900),  # no distance
    (4, 3000.0, 2000, 1000),  # moving time far beyond elapsed time, and over 30 minutes
    (5, 0.0, 60, 60),  # a one-minute blip
]
NON_NEGATIVE_OR_NULL = "distance_m IS NULL OR distance_m >= 0"


@pytest.fixture
def activities(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(ROWS, SCHEMA)


def ids(df: DataFrame) -> list[int]:
    return sorted(r["activity_id"] for r in df.select("activity_id").collect())


def test_warn_counts_and_keeps_every_row(activities: DataFrame) -> None:
    outcome = apply_expectations(activities, [Expectation("distance_ok", TABLE, NON_NEGATIVE_OR_NULL, WARN)])

    assert_df_equality(outcome.kept, activities, ignore_row_order=True)
    [result] = outcome.results
    assert (result.passed, result.rows_checked, result.rows_failed) == (False, 5, 1)
    assert result.observed == pytest.approx(1 / 5)
    assert result.message == f"1 of 5 rows fail `{NON_NEGATIVE_OR_NULL}` (kept)"
    assert outcome.quarantined.count() == 0


def test_null_counts_as_a_failure(activities: DataFrame) -> None:
    outcome = apply_expectations(activities, [Expectation("distance_ok", TABLE, "distance_m >= 0", WARN)])

    assert outcome.results[0].rows_failed == 2  # row 2 (negative) and row 3 (null)


def test_drop_removes_the_failing_rows(activities: DataFrame) -> None:
    outcome = apply_expectations(activities, [Expectation("distance_ok", TABLE, NON_NEGATIVE_OR_NULL, DROP)])

    assert ids(outcome.kept) == [1, 3, 4, 5]
    assert (outcome.rows_in, outcome.rows_kept, outcome.results[0].rows_failed) == (5, 4, 1)
    assert outcome.quarantined.count() == 0


def test_quarantine_hands_back_the_rule_and_the_row_as_json(
    spark: SparkSession, activities: DataFrame
) -> None:
    rule = "moving_time_s <= elapsed_time_s + 60"
    outcome = apply_expectations(activities, [Expectation("moving_le_elapsed", TABLE, rule, QUARANTINE)])

    assert ids(outcome.kept) == [1, 2, 3, 5]
    expected = spark.createDataFrame(
        [
            (
                TABLE,
                "moving_le_elapsed",
                rule,
                '{"activity_id":4,"distance_m":3000.0,"moving_time_s":2000,"elapsed_time_s":1000}',
            )
        ],
        "table_name string, rule string, rule_sql string, row_json string",
    )
    assert_df_equality(outcome.quarantined, expected, ignore_row_order=True, ignore_nullable=True)


def test_fail_raises_with_every_result_attached(activities: DataFrame) -> None:
    rules = [
        Expectation("distance_ok", TABLE, "distance_m >= 0", FAIL),
        Expectation("has_time", TABLE, "moving_time_s > 0", WARN),
    ]
    with pytest.raises(ExpectationFailed, match=r"distance_ok: 2 of 5 rows fail `distance_m >= 0`") as info:
        apply_expectations(activities, rules)

    assert [(r.rule, r.passed, r.rows_failed) for r in info.value.results] == [
        ("distance_ok", False, 2),
        ("has_time", True, 0),
    ]


def test_fail_rule_that_holds_lets_every_row_through(activities: DataFrame) -> None:
    outcome = apply_expectations(activities, [Expectation("has_id", TABLE, "activity_id IS NOT NULL", FAIL)])

    assert outcome.results[0].passed is True
    assert outcome.kept is activities  # no drop or quarantine rule: the input itself, nothing recomputed


def test_rules_combine_and_quarantine_wins_over_drop(spark: SparkSession, activities: DataFrame) -> None:
    rules = [
        Expectation("distance_ok", TABLE, NON_NEGATIVE_OR_NULL, WARN),  # fails row 2
        Expectation("long_enough", TABLE, "moving_time_s >= 100", DROP),  # fails row 5
        Expectation("moving_le_elapsed", TABLE, "moving_time_s <= elapsed_time_s + 60", QUARANTINE),  # row 4
        Expectation("elapsed_long_enough", TABLE, "elapsed_time_s >= 100", QUARANTINE),  # row 5
        Expectation("under_half_an_hour", TABLE, "moving_time_s <= 1800", QUARANTINE),  # row 4
    ]
    outcome = apply_expectations(activities, rules)

    assert ids(outcome.kept) == [1, 2, 3]  # row 2 only warned
    assert [(r.rule, r.rows_failed) for r in outcome.results] == [
        ("distance_ok", 1),
        ("long_enough", 1),
        ("moving_le_elapsed", 1),
        ("elapsed_long_enough", 1),
        ("under_half_an_hour", 1),
    ]
    assert (outcome.rows_in, outcome.rows_kept) == (5, 3)
    # Row 5 broke a drop and a quarantine rule: it is quarantined. Row 4 broke two quarantine rules: twice.
    quarantined = sorted((r["rule"], r["row_json"][:16]) for r in outcome.quarantined.collect())
    assert quarantined == [
        ("elapsed_long_enough", '{"activity_id":5'),
        ("moving_le_elapsed", '{"activity_id":4'),
        ("under_half_an_hour", '{"activity_id":4'),
    ]
    assert outcome.rows_quarantined == 2  # rows 4 and 5: the summary counts rows, not rule hits


def test_all_rules_are_counted_in_one_pass(spark: SparkSession, activities: DataFrame) -> None:
    """The number of Spark jobs does not grow with the number of rules (one aggregate for all flags)."""
    context = spark.sparkContext

    def jobs_for(rule_count: int) -> int:
        group = f"dq-one-pass-{rule_count}"
        context.setJobGroup(group, "apply_expectations")
        try:
            rules = [Expectation(f"r{i}", TABLE, f"moving_time_s >= {i}", WARN) for i in range(rule_count)]
            apply_expectations(activities, rules)
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        return len(context.statusTracker().getJobIdsForGroup(group))

    assert jobs_for(12) == jobs_for(1)


def test_no_rules_pass_the_rows_through(activities: DataFrame) -> None:
    outcome = apply_expectations(activities, [])

    assert outcome.kept is activities
    assert outcome.results == []
    assert outcome.quarantined.columns == ["table_name", "rule", "rule_sql", "row_json"]


def test_malformed_expectations_are_named(activities: DataFrame) -> None:
    with pytest.raises(InvalidExpectation, match="action 'explode'"):
        Expectation("r", TABLE, "true", "explode")
    with pytest.raises(InvalidExpectation, match="needs a name"):
        Expectation(" ", TABLE, "true", WARN)
    with pytest.raises(InvalidExpectation, match="speed_ok: `no_such_column > 0` does not compile"):
        apply_expectations(activities, [Expectation("speed_ok", TABLE, "no_such_column > 0", WARN)])
    with pytest.raises(InvalidExpectation, match="distance: `distance_m` is double, not a boolean"):
        apply_expectations(activities, [Expectation("distance", TABLE, "distance_m", WARN)])
