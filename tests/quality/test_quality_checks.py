"""Staged-versus-production SQL checks: each operator, halt and skip, and the weekly z-scores worked by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse.quality.checks import (
    HALT,
    WARN,
    Z_90,
    CheckQueryError,
    InvalidCheck,
    SqlCheck,
    ValidationHalted,
    compare,
    duplicate_keys_check,
    run_checks,
    validate_checks,
    weekly_activity_count_zscore_check,
    weekly_kudos_zscore_check,
)

TABLE = "silver.strava_activities"
ACTIVITY_SCHEMA = "athlete_id long, activity_id long, activity_date date, kudos_count int"
MONDAY = date(2024, 1, 1)  # week 0; week k starts on MONDAY + 7k


def week(k: int) -> date:
    return MONDAY + timedelta(weeks=k)


def activities(
    weekly: list[tuple[date, list[int]]], first_id: int = 1, athlete: int = 7
) -> list[tuple[int, int, date, int]]:
    """Rows for each (week start, kudos of each activity that week), spread over the week's days."""
    rows, next_id = [], first_id
    for start, kudos in weekly:
        for i, k in enumerate(kudos):
            rows.append((athlete, next_id, start + timedelta(days=i % 7), k))
            next_id += 1
    return rows


def frame(spark: SparkSession, rows: list[tuple[int, int, date, int]]) -> DataFrame:
    """The rows as a DataFrame, materialised once (a check query reads its views several times)."""
    return spark.createDataFrame(rows, ACTIVITY_SCHEMA).localCheckpoint()


def constant(observed: float, operator: str, threshold: float, action: str = WARN) -> SqlCheck:
    return SqlCheck("c", TABLE, f"SELECT {observed}", None, operator, threshold, action)


@pytest.mark.parametrize(
    ("observed", "operator", "reference", "passed"),
    [
        (3, "<", 4, True),
        (3, "<", 3, False),
        (3, "<=", 3, True),
        (3, "<=", 2, False),
        (3, "=", 3, True),
        (3, "=", 2, False),
        (3, ">=", 3, True),
        (3, ">=", 4, False),
        (3, ">", 2, True),
        (3, ">", 3, False),
        (-1.645, "between", Z_90, True),
        (1.2, "between", Z_90, True),
        (-1.7, "between", Z_90, False),
        (1.65, "between", Z_90, False),
    ],
)
def test_each_operator(observed: float, operator: str, reference: float, passed: bool) -> None:
    assert compare(observed, operator, reference) is passed


def test_each_operator_through_spark(spark: SparkSession) -> None:
    checks = [
        constant(3, "<", 3),
        constant(3, "<=", 3),
        constant(3, "=", 3),
        constant(2.5, ">=", 3),
        constant(3, ">", 2),
        constant(-1.7, "between", Z_90),
    ]
    results = run_checks(spark, checks, spark.range(1), None)

    assert [(r.observed, r.threshold, r.passed) for r in results] == [
        (3, 3, False),
        (3, 3, True),
        (3, 3, True),
        (2.5, 3, False),
        (3, 2, True),
        (-1.7, 1.645, False),
    ]
    assert [r.message for r in results[4:]] == [
        "observed 3, expected > 2",
        "observed -1.7, expected within ±1.645 (warn)",
    ]


def test_the_reference_can_come_from_production(spark: SparkSession) -> None:
    staged = frame(spark, activities([(week(0), [1, 2, 3])]))
    production = frame(spark, activities([(week(0), [1, 2])], first_id=10))
    check = SqlCheck(
        "not_shrinking",
        TABLE,
        "SELECT count(*) FROM {staged}",
        "SELECT count(*) FROM {production}",
        ">=",
        None,
        HALT,
    )
    [with_production] = run_checks(spark, [check], staged, production)
    [first_load] = run_checks(spark, [check], staged, None)  # no production table yet: an empty view

    assert (with_production.passed, with_production.observed, with_production.threshold) == (True, 3, 2)
    assert (first_load.passed, first_load.threshold) == (True, 0)


def test_halt_raises_after_every_check_has_run(spark: SparkSession) -> None:
    staged = frame(spark, [(7, 1, week(0), 0), (7, 1, week(0), 2), (7, 2, week(0), 1)])
    checks = [duplicate_keys_check(TABLE, ("athlete_id", "activity_id")), constant(5, "<", 3, WARN)]

    with pytest.raises(
        ValidationHalted, match=r"no_duplicate_keys_in_staged: observed 1, expected = 0"
    ) as info:
        run_checks(spark, checks, staged, None)

    assert [(r.rule, r.action, r.passed) for r in info.value.results] == [
        ("no_duplicate_keys_in_staged", HALT, False),
        ("c", WARN, False),
    ]
    assert run_checks(spark, checks, staged, None, raise_on_halt=False)[0].passed is False


def test_a_check_query_with_several_rows_among_others_is_named(spark: SparkSession) -> None:
    """The checks run as one query; when one of them is not a scalar, each runs alone and it is named."""
    checks = [
        constant(1, "=", 1),
        SqlCheck("many_rows", TABLE, "SELECT id FROM {staged}", None, "=", 1, WARN),
        SqlCheck("semicolon", TABLE, "SELECT 1.645;", None, "=", 1, WARN),
    ]
    with pytest.raises(CheckQueryError, match="many_rows: a check query must return one row with one column"):
        run_checks(spark, checks, spark.range(3), None)
    [first, last] = run_checks(spark, [checks[0], checks[2]], spark.range(3), None)  # `;` alone is fine
    assert (first.observed, last.observed, last.passed) == (1, 1.645, False)


def test_a_null_observation_is_skipped_and_never_halts(spark: SparkSession) -> None:
    check = SqlCheck("z", TABLE, "SELECT CAST(NULL AS DOUBLE)", None, "between", Z_90, HALT)
    [result] = run_checks(spark, [check], spark.range(1), None)

    assert result.passed is None
    assert result.status == "skipped"


def test_malformed_checks_are_refused(spark: SparkSession) -> None:
    with pytest.raises(InvalidCheck, match="operator 'greater_equals'"):
        SqlCheck("c", TABLE, "SELECT 1", None, "greater_equals", 1, WARN)
    with pytest.raises(InvalidCheck, match="action 'stop'"):
        SqlCheck("c", TABLE, "SELECT 1", None, "=", 1, "stop")
    with pytest.raises(InvalidCheck, match="exactly one of production_sql and threshold"):
        SqlCheck("c", TABLE, "SELECT 1", "SELECT 1", "=", 1, WARN)
    with pytest.raises(CheckQueryError, match="one row with one column"):
        run_checks(spark, [SqlCheck("c", TABLE, "SELECT 1, 2", None, "=", 1, WARN)], spark.range(1), None)
    with pytest.raises(CheckQueryError, match="c: the SQL does not compile"):
        validate_checks(
            spark,
            [SqlCheck("c", TABLE, "SELECT max(nope) FROM {staged}", None, "=", 1, WARN)],
            spark.range(1),
            None,
        )


# History: five weeks with 10, 12, 11, 9 and 13 activities. Mean 55 / 5 = 11; squared deviations
# 1 + 1 + 0 + 4 + 4 = 10; sample variance 10 / 4 = 2.5; standard deviation sqrt(2.5) = 1.58114.
HISTORY_COUNTS = [10, 12, 11, 9, 13]
Z_THREE_ACTIVITIES = (3 - 11) / 1.58114  # = -5.0596


def history(kudos_per_week: list[int] | None = None) -> list[tuple[date, list[int]]]:
    kudos = kudos_per_week or [1] * len(HISTORY_COUNTS)
    return [(week(k), [kudos[k]] * n) for k, n in enumerate(HISTORY_COUNTS)]


def test_weekly_count_zscore_of_a_quiet_week_warns(spark: SparkSession) -> None:
    production = frame(spark, activities(history(), first_id=1))
    staged = frame(spark, activities([(week(5), [1, 1, 1])], first_id=1000))

    [result] = run_checks(spark, [weekly_activity_count_zscore_check(TABLE)], staged, production)

    assert result.observed == pytest.approx(-5.0596, abs=1e-4)
    assert result.observed == pytest.approx(Z_THREE_ACTIVITIES, abs=1e-4)
    assert (result.passed, result.action, result.threshold) == (False, WARN, 1.645)
    assert "expected within ±1.645 (warn)" in result.message


def test_weekly_count_counts_a_repulled_activity_once(spark: SparkSession) -> None:
    # Production already holds two activities of week 5 (ids 100, 101); staged re-pulls 101 and adds 102.
    production = frame(spark, [*activities(history()), (7, 100, week(5), 1), (7, 101, week(5), 1)])
    staged = frame(spark, [(7, 101, week(5), 4), (7, 102, week(5) + timedelta(days=1), 0)])

    [result] = run_checks(spark, [weekly_activity_count_zscore_check(TABLE)], staged, production)

    assert result.observed == pytest.approx(Z_THREE_ACTIVITIES, abs=1e-4)  # 3 activities in week 5


def test_weekly_count_history_has_zero_weeks_and_a_window(spark: SparkSession) -> None:
    # Weeks 0..2 hold 4, 0 and 5 activities: mean 3, variance (1 + 9 + 4) / 2 = 7, sd 2.64575.
    # Staged week 3 holds 8: z = (8 - 3) / 2.64575 = 1.8898. Without the empty week it would be 4.95.
    production = frame(spark, activities([(week(0), [0] * 4), (week(2), [0] * 5)]))
    staged = frame(spark, activities([(week(3), [0] * 8)], first_id=100))
    [gap] = run_checks(spark, [weekly_activity_count_zscore_check(TABLE)], staged, production)

    # With a 3-week window, week 0 (100 activities) is out: history 10, 12, 11 -> mean 11, sd 1.
    # Staged week 4 holds 14: z = (14 - 11) / 1 = 3. Over all four weeks it would be -0.43 (passing).
    production = frame(
        spark,
        activities([(week(0), [0] * 100)] + [(week(k + 1), [0] * n) for k, n in enumerate([10, 12, 11])]),
    )
    staged = frame(spark, activities([(week(4), [0] * 14)], first_id=1000))
    [windowed] = run_checks(
        spark, [weekly_activity_count_zscore_check(TABLE, history_weeks=3)], staged, production
    )

    assert (gap.observed, gap.passed) == (pytest.approx(1.8898, abs=1e-4), False)
    assert (windowed.observed, windowed.passed) == (pytest.approx(3.0), False)


def test_weekly_count_is_per_athlete_so_one_sync_before_another_is_not_a_quiet_week(spark: SparkSession) -> None:
    # Athletes 7 and 8 each did 10, 12, 11, 9 and 13 activities in weeks 0-4. Only 7's week 5 is synced
    # (11 activities): against 7's own history z = (11 - 11) / 1.58114 = 0. Counted together, the week would
    # hold 11 against 20, 24, 22, 18, 26 (mean 22, sd sqrt(40 / 4) = 3.16228): z = -3.4785, a false warning.
    production = frame(spark, activities(history(), first_id=1) + activities(history(), first_id=1, athlete=8))
    staged = frame(spark, activities([(week(5), [1] * 11)], first_id=1000))

    [result] = run_checks(spark, [weekly_activity_count_zscore_check(TABLE)], staged, production)

    assert (result.observed, result.passed) == (pytest.approx(0.0, abs=1e-9), True)


def test_weekly_count_reports_the_athlete_furthest_from_their_usual(spark: SparkSession) -> None:
    # Same histories; week 5 brings 3 activities for athlete 7 (z = (3 - 11) / 1.58114 = -5.0596) and 12 for
    # athlete 8 (z = 1 / 1.58114 = 0.6325): the observation is 7's. Together it would be (15 - 22) / 3.16228.
    production = frame(spark, activities(history(), first_id=1) + activities(history(), first_id=1, athlete=8))
    staged = frame(
        spark,
        activities([(week(5), [1] * 3)], first_id=1000) + activities([(week(5), [1] * 12)], first_id=1000, athlete=8),
    )

    [result] = run_checks(spark, [weekly_activity_count_zscore_check(TABLE)], staged, production)

    assert (result.observed, result.passed) == (pytest.approx(Z_THREE_ACTIVITIES, abs=1e-4), False)


def test_kudos_zscore_is_per_athlete(spark: SparkSession) -> None:
    # Athlete 7: weekly means 3, 5, 5, 3 (mean 4, sd 1.15470); week 4 brings kudos 4 and 5 (mean 4.5):
    # z = 0.5 / 1.1547 = 0.4330. Athlete 8: a famous athlete, 100 kudos every week (sd 0: no z), 100 again.
    # Pooled, every week's mean would mix 8's hundreds with 7's few (week 0: (2 + 4 + 100) / 3 = 35.33).
    production = frame(
        spark,
        activities([(week(0), [2, 4]), (week(1), [5]), (week(2), [3, 5, 7]), (week(3), [3])])
        + activities([(week(k), [100]) for k in range(4)], first_id=50, athlete=8),
    )
    staged = frame(
        spark, activities([(week(4), [4, 5])], first_id=100) + activities([(week(4), [100])], first_id=200, athlete=8)
    )

    [result] = run_checks(spark, [weekly_kudos_zscore_check(TABLE)], staged, production)

    assert (result.observed, result.passed) == (pytest.approx(0.4330, abs=1e-4), True)


def test_kudos_zscore(spark: SparkSession) -> None:
    # Weekly mean kudos in history: week 0 (2, 4) -> 3, week 1 (5) -> 5, week 2 (3, 5, 7) -> 5, week 3 (3) -> 3.
    # Mean 4; squared deviations 1 + 1 + 1 + 1 = 4; variance 4 / 3; sd 1.15470.
    production = frame(
        spark, activities([(week(0), [2, 4]), (week(1), [5]), (week(2), [3, 5, 7]), (week(3), [3])])
    )
    usual = frame(spark, activities([(week(4), [4, 5])], first_id=100))  # mean 4.5: z = 0.5 / 1.1547 = 0.4330
    famous = frame(spark, activities([(week(4), [10, 12])], first_id=100))  # mean 11: z = 7 / 1.1547 = 6.0622

    [ok] = run_checks(spark, [weekly_kudos_zscore_check(TABLE)], usual, production)
    [warned] = run_checks(spark, [weekly_kudos_zscore_check(TABLE)], famous, production)

    assert (ok.observed, ok.passed) == (pytest.approx(0.4330, abs=1e-4), True)
    assert (warned.observed, warned.passed, warned.action) == (pytest.approx(6.0622, abs=1e-4), False, WARN)


def test_zscores_without_history_are_skipped(spark: SparkSession) -> None:
    staged = frame(spark, activities([(week(0), [1, 2, 3])]))
    checks = [weekly_activity_count_zscore_check(TABLE), weekly_kudos_zscore_check(TABLE)]

    assert [r.passed for r in run_checks(spark, checks, staged, None)] == [None, None]


def test_many_checks_run_together_each_with_its_own_value(spark: SparkSession) -> None:
    # Staged: activities 1..4 with kudos 1, 2, 3, 4 (sum 10); production: activity 1 with kudos 5 and 9 with 2.
    staged = frame(spark, [(7, i, week(0), i) for i in range(1, 5)])
    production = frame(spark, [(7, 1, week(-1), 5), (7, 9, week(-1), 2)])
    checks = [
        SqlCheck("staged_rows", TABLE, "SELECT count(*) FROM {staged}", None, "=", 4, WARN),
        SqlCheck("kudos_vs_production", TABLE, "SELECT sum(kudos_count) FROM {staged}",
                 "SELECT sum(kudos_count) FROM {production}", ">", None, HALT),
        # A trailing semicolon and a trailing line comment, as people write SQL by hand.
        SqlCheck("max_id", TABLE, "SELECT max(activity_id) FROM {staged};", None, "<=", 4, WARN),
        SqlCheck("new_ids", TABLE, "SELECT count(*) FROM {staged} s LEFT ANTI JOIN {production} p "
                 "ON s.activity_id = p.activity_id -- ids not yet stored", None, "=", 3, WARN),
        SqlCheck("no_row", TABLE, "SELECT kudos_count FROM {staged} WHERE activity_id = 99", None, "=", 0, WARN),
    ]
    results = run_checks(spark, checks, staged, production)
    assert [(r.rule, r.observed, r.threshold, r.passed) for r in results] == [
        ("staged_rows", 4.0, 4, True),
        ("kudos_vs_production", 10.0, 7.0, True),  # 1+2+3+4 = 10 against 5+2 = 7
        ("max_id", 4.0, 4, True),
        ("new_ids", 3.0, 3, True),  # 2, 3 and 4 are not in production
        ("no_row", None, 0, None),  # no row: nothing to judge, skipped
    ]


def test_a_query_with_several_rows_among_others_still_names_its_check(spark: SparkSession) -> None:
    staged = frame(spark, [(7, i, week(0), i) for i in range(1, 4)])
    checks = [
        SqlCheck("fine", TABLE, "SELECT count(*) FROM {staged}", None, "=", 3, WARN),
        SqlCheck("rows_not_a_number", TABLE, "SELECT activity_id FROM {staged}", None, "=", 1, WARN),
    ]
    with pytest.raises(CheckQueryError, match="rows_not_a_number: a check query must return one row"):
        run_checks(spark, checks, staged, None)
    text = SqlCheck("text", TABLE, "SELECT 'many'", None, "=", 1, WARN)
    with pytest.raises(CheckQueryError, match="text: a check query must return a number, got 'many'"):
        run_checks(spark, [checks[0], text], staged, None)
