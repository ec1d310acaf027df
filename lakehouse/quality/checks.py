"""Staging-versus-production checks, in the manner of the Strava pipeline seed's validator.

A check is a pair of SQL queries, a comparison operator and an action. The first query (`staged_sql`)
gives the observed number; the second (`production_sql`) gives the number to compare it with, or a fixed
`threshold` stands in for it (the seed's `SELECT 1.645;`). Each query returns one number; in the SQL,
`{staged}` and `{production}` name temporary views of the staged rows (about to be merged) and of the
production table. The check passes when `observed <operator> reference`; `between` passes when the
observed value lies within plus or minus the reference (|z| <= 1.645). A null observed value (say, a z-score
with less than two weeks of history) cannot be judged: the result is `skipped` and never stops anything.

Actions: `warn` reports; `halt` makes `run_checks(..., raise_on_halt=True)` raise `ValidationHalted`
after every check has run, so the stage stops before the MERGE and production is left untouched.

The z-score checks follow the seed: this week's activity count, and this week's mean kudos, each against
the weekly history, at a 90 % two-sided interval (`Z_90` = 1.645); per athlete, each against their own
history, the athlete furthest from their usual being the observation (a tie in |z|: the positive one).
"""

from __future__ import annotations

import math
import operator as op
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lakehouse.quality.results import KIND_CHECK, CheckResult, QualityGateError

WARN = "warn"
HALT = "halt"
CHECK_ACTIONS = (WARN, HALT)

Z_90 = 1.645  # two-sided 90 % interval of the standard normal distribution
HISTORY_WEEKS = 52  # weeks of history a weekly z-score compares with: a year, seasons included

BETWEEN = "between"
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": op.lt,
    "<=": op.le,
    "=": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
    ">=": op.ge,
    ">": op.gt,
    BETWEEN: lambda a, b: -b <= a <= b,
}

STAGED = "{staged}"
PRODUCTION = "{production}"


class InvalidCheck(ValueError):
    """A check is malformed: unknown operator or action, or not one of reference query and threshold."""


class CheckQueryError(ValueError):
    """A check's SQL did not return a single number."""


class ValidationHalted(QualityGateError):
    """A `halt` check failed: the stage stops before merging, and production is left untouched."""


@dataclass(frozen=True)
class SqlCheck:
    """A staged-versus-production SQL check: `staged_sql <operator> (production_sql or threshold)`.

    Example: `SqlCheck("no_duplicate_keys", "silver.strava_activities",
    "SELECT count(*) FROM (SELECT activity_id FROM {staged} GROUP BY activity_id HAVING count(*) > 1)",
    None, "=", 0, "halt")`.
    """

    name: str
    table: str
    staged_sql: str
    production_sql: str | None
    operator: str
    threshold: float | None
    action: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise InvalidCheck(f"{self.name}: operator {self.operator!r} is not one of {tuple(OPERATORS)}")
        if self.action not in CHECK_ACTIONS:
            raise InvalidCheck(f"{self.name}: action {self.action!r} is not one of {CHECK_ACTIONS}")
        if (self.production_sql is None) == (self.threshold is None):
            raise InvalidCheck(f"{self.name}: give exactly one of production_sql and threshold")
        if self.operator == BETWEEN and self.threshold is not None and self.threshold < 0:
            raise InvalidCheck(
                f"{self.name}: `between` needs a non-negative half-width, got {self.threshold}"
            )


def compare(observed: float, operator: str, reference: float) -> bool:
    """Whether `observed <operator> reference` holds; `between` means -reference <= observed <= reference."""
    return OPERATORS[operator](observed, reference)


def _describe(operator: str, reference: float) -> str:
    return f"within ±{reference:g}" if operator == BETWEEN else f"{operator} {reference:g}"


def _bind(sql: str, views: dict[str, str]) -> str:
    """The check's SQL with `{staged}` and `{production}` replaced by the temporary view names."""
    for placeholder, view in views.items():
        sql = sql.replace(placeholder, view)
    return sql


@contextmanager
def _bound_views(
    spark: SparkSession, staged: DataFrame, production: DataFrame | None
) -> Iterator[dict[str, str]]:
    """Register `staged` and `production` (an empty view with the staged schema when None) for the checks."""
    suffix = uuid.uuid4().hex[:12]
    views = {STAGED: f"dq_staged_{suffix}", PRODUCTION: f"dq_production_{suffix}"}
    staged.createOrReplaceTempView(views[STAGED])
    (production if production is not None else staged.limit(0)).createOrReplaceTempView(views[PRODUCTION])
    try:
        yield views
    finally:
        for view in views.values():
            spark.catalog.dropTempView(view)


def _scalar(spark: SparkSession, sql: str, views: dict[str, str], name: str) -> float | None:
    """Run one check query; its single value as a float, or None."""
    bound = _bind(sql, views)
    rows = spark.sql(bound).take(2)
    if len(rows) > 1 or (rows and len(rows[0]) != 1):
        raise CheckQueryError(f"{name}: a check query must return one row with one column: {bound}")
    return _number(rows[0][0], name) if rows else None


def _number(value: object, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]  # ints, doubles, decimals (and booleans as 1 / 0)
    except (TypeError, ValueError) as exc:
        raise CheckQueryError(f"{name}: a check query must return a number, got {value!r}") from exc


def _scalars(spark: SparkSession, queries: Sequence[tuple[str, str]], views: dict[str, str]) -> list[float | None]:
    """Every check query's value, in order: one Spark query holding each as a scalar subquery (planned once,
    the subqueries run side by side), instead of one query after another. A query that is not a scalar (more
    than one row or column) fails the combined query: then each runs alone, and the one at fault raises
    `CheckQueryError` saying why. A trailing `;` or line comment, as people write SQL by hand, is allowed."""
    if len(queries) < 2:
        return [_scalar(spark, sql, views, name) for name, sql in queries]
    parts = [_bind(sql, views).rstrip().removesuffix(";") for _, sql in queries]
    columns = ", ".join(f"(\n{sql}\n) AS q{i}" for i, sql in enumerate(parts))
    try:
        row = spark.sql(f"SELECT {columns}").first()
    except Exception:  # ParseException, AnalysisException, a subquery with several rows
        return [_scalar(spark, sql, views, name) for name, sql in queries]
    assert row is not None  # a SELECT without FROM returns one row
    return [_number(value, name) for (name, _), value in zip(queries, row, strict=True)]


def validate_checks(
    spark: SparkSession, checks: Sequence[SqlCheck], staged: DataFrame, production: DataFrame | None
) -> None:
    """Raise `CheckQueryError` unless every check's SQL resolves to one column on these views (no Spark job)."""
    with _bound_views(spark, staged, production) as views:
        for check in checks:
            for sql in (check.staged_sql, check.production_sql):
                if sql is None:
                    continue
                try:
                    columns = spark.sql(_bind(sql, views)).columns  # analysis only
                except Exception as exc:  # ParseException, AnalysisException
                    raise CheckQueryError(f"{check.name}: the SQL does not compile: {exc}") from exc
                if len(columns) != 1:
                    raise CheckQueryError(
                        f"{check.name}: a check query must return one column, got {columns}"
                    )


def evaluate(
    check: SqlCheck, observed: float | None, reference: float | None, rows_checked: int | None = None
) -> CheckResult:
    """The result of `check` given its observed and reference values (pure: no Spark)."""
    if observed is None or reference is None:
        what = "observed value" if observed is None else "reference value"
        return CheckResult(
            check.table,
            check.name,
            KIND_CHECK,
            check.action,
            None,
            rows_checked,
            observed=observed,
            threshold=reference,
            message=f"skipped: no {what} (not enough history, or nothing to compare)",
        )
    if check.operator == BETWEEN and reference < 0:
        raise CheckQueryError(f"{check.name}: `between` needs a non-negative half-width, got {reference}")
    passed = compare(observed, check.operator, reference)
    expected = _describe(check.operator, reference)
    message = f"observed {observed:.4g}, expected {expected}" + ("" if passed else f" ({check.action})")
    if check.description and not passed:
        message += f": {check.description}"
    return CheckResult(
        check.table,
        check.name,
        KIND_CHECK,
        check.action,
        passed,
        rows_checked,
        observed=observed,
        threshold=reference,
        message=message,
    )


def run_checks(
    spark: SparkSession,
    checks: Sequence[SqlCheck],
    staged: DataFrame,
    production: DataFrame | None,
    *,
    rows_checked: int | None = None,
    raise_on_halt: bool = True,
) -> list[CheckResult]:
    """Run every check with `{staged}` and `{production}` bound to temporary views; halt after all have run.

    `production=None` (the table does not exist yet) binds `{production}` to an empty view with the staged
    schema. With `raise_on_halt`, a failed `halt` check raises `ValidationHalted` carrying every result.
    """
    if not checks:
        return []
    # In check order, a reference query right after its observed one: the loop below reads them back so.
    queries = [(c.name, sql) for c in checks for sql in (c.staged_sql, c.production_sql) if sql is not None]
    with _bound_views(spark, staged, production) as views:
        values = iter(_scalars(spark, queries, views))
    results = []
    for check in checks:
        observed = next(values)
        reference = check.threshold if check.production_sql is None else next(values)
        results.append(evaluate(check, observed, reference, rows_checked))
    halted = [r for r in results if r.action == HALT and r.passed is False]
    if raise_on_halt and halted:
        detail = "; ".join(f"{r.table} {r.rule}: {r.message}" for r in halted)
        raise ValidationHalted(f"validation halted before merge: {detail}", results)
    return results


def duplicate_keys_check(table: str, keys: Sequence[str], action: str = HALT) -> SqlCheck:
    """Staged rows must be unique on the table's keys (the MERGE needs one source row per key)."""
    key_list = ", ".join(f"`{k}`" for k in keys)
    return SqlCheck(
        name="no_duplicate_keys_in_staged",
        table=table,
        staged_sql=(
            f"SELECT count(*) FROM (SELECT {key_list} FROM {STAGED} GROUP BY {key_list} HAVING count(*) > 1)"
        ),
        production_sql=None,
        operator="=",
        threshold=0,
        action=action,
        description=f"keys ({', '.join(keys)}) repeat within the staged rows",
    )


STRAVA_KEYS = ("athlete_id", "activity_id")


def _current_rows(columns: Sequence[str], keys: Sequence[str] = STRAVA_KEYS) -> str:
    """SQL for the rows as they will be after the MERGE, `is_staged` marking the staged ones.

    Staged rows, plus the production rows whose key is not restaged (a re-pulled activity counts once).
    """
    on = " AND ".join(f"p.`{k}` <=> s.`{k}`" for k in keys)
    return f"""
        SELECT {", ".join(f"`{c}`" for c in columns)}, TRUE AS is_staged FROM {STAGED}
        UNION ALL
        SELECT {", ".join(f"p.`{c}`" for c in columns)}, FALSE AS is_staged
        FROM {PRODUCTION} AS p LEFT ANTI JOIN {STAGED} AS s ON {on}
    """


MOST_UNUSUAL_Z = "max_by(z, struct(abs(z), z))"
"""SQL aggregate over per-athlete scores `z`: the one furthest from 0 (a tie in |z|: the positive one)."""


def _zscore_of_target_week(value: str, history_weeks: int) -> str:
    """SQL over `marked(athlete_id, week, <value>, target)`: each athlete's z of their target week's value against
    their weeks before it; the athlete furthest from their usual (largest |z|; a tie: the positive z) is the
    observation."""
    return f"""
        SELECT {MOST_UNUSUAL_Z} FROM (
            SELECT try_divide(
                max({value}) FILTER (WHERE week = target) - avg({value}) FILTER (WHERE in_history),
                stddev_samp({value}) FILTER (WHERE in_history)
            ) AS z
            FROM (
                SELECT *, week < target AND week >= date_sub(target, 7 * {history_weeks}) AS in_history
                FROM marked
            )
            GROUP BY athlete_id
        ) WHERE z IS NOT NULL
    """


def weekly_activity_count_zscore_check(
    table: str = "silver.strava_activities",
    *,
    history_weeks: int = HISTORY_WEEKS,
    z: float = Z_90,
    action: str = WARN,
) -> SqlCheck:
    """z-score of an athlete's latest staged week's activity count against their weekly counts before it.

    Per athlete (a lakehouse of several people: each against their own history, and one person's sync
    arriving before another's is not a quiet week); the athlete furthest from their usual (largest |z|) is
    the observation. Weeks are Monday-based on `activity_date` (the athlete's local date). The history is
    every week from the athlete's first week with an activity (at most `history_weeks` back) to the week
    before their staged one; a week without activities counts 0. Counts are over the data as it will be
    after the merge (staged rows, plus production rows not restaged), so a re-pulled activity is counted
    once. Athletes with nothing staged, or with fewer than two weeks of history, are not scored.
    """
    sql = f"""
        WITH current_rows AS ({_current_rows(("athlete_id", "activity_date"))}),
        weeks AS (
            SELECT athlete_id, CAST(date_trunc('WEEK', activity_date) AS DATE) AS week,
                   count(*) AS activities,
                   bool_or(is_staged) AS staged
            FROM current_rows WHERE activity_date IS NOT NULL GROUP BY 1, 2
        ),
        marked AS (
            SELECT athlete_id, week, activities,
                   max(CASE WHEN staged THEN week END) OVER (PARTITION BY athlete_id) AS target,
                   min(week) OVER (PARTITION BY athlete_id) AS first_week
            FROM weeks
        ),
        history AS (
            -- The history is every week in [since, target), empty weeks included: they count 0, so they
            -- add to the number of weeks but not to the sums.
            SELECT athlete_id, week, activities, target,
                   greatest(first_week, date_sub(target, 7 * {history_weeks})) AS since
            FROM marked WHERE target IS NOT NULL
        ),
        sums AS (
            SELECT max(activities) FILTER (WHERE week = target) AS this_week,
                   coalesce(sum(activities) FILTER (WHERE week >= since AND week < target), 0) AS s1,
                   coalesce(sum(activities * activities) FILTER (WHERE week >= since AND week < target), 0) AS s2,
                   max(datediff(target, since) DIV 7) AS n
            FROM history GROUP BY athlete_id
        ),
        -- mean = s1 / n; sample variance = (s2 - s1^2 / n) / (n - 1); null with fewer than two weeks
        scores AS (
            SELECT try_divide(
                this_week - try_divide(s1, n),
                sqrt(greatest(try_divide(s2 - try_divide(s1 * s1, n), n - 1), 0))
            ) AS z
            FROM sums
        )
        SELECT {MOST_UNUSUAL_Z} FROM scores WHERE z IS NOT NULL
    """
    return SqlCheck(
        name="weekly_activity_count_zscore",
        table=table,
        staged_sql=sql,
        production_sql=None,
        operator=BETWEEN,
        threshold=z,
        action=action,
        description="this week's activity count is unusual against the weekly history",
    )


def weekly_kudos_zscore_check(
    table: str = "silver.strava_activities",
    *,
    history_weeks: int = HISTORY_WEEKS,
    z: float = Z_90,
    action: str = WARN,
) -> SqlCheck:
    """z-score of an athlete's latest staged week's mean kudos per activity against their weekly means before it.

    As in the seed: each history week's mean kudos is one observation (weeks without activities have none);
    the staged week's mean is compared with their mean and sample standard deviation. Per athlete, as for the
    activity count: the athlete furthest from their usual (largest |z|) is the observation. Recent activities
    have had less time to collect kudos, so a low value is expected now and then: this check warns.
    """
    sql = f"""
        WITH current_rows AS ({_current_rows(("athlete_id", "activity_date", "kudos_count"))}),
        weeks AS (
            SELECT athlete_id, CAST(date_trunc('WEEK', activity_date) AS DATE) AS week,
                   avg(kudos_count) AS mean_kudos,
                   bool_or(is_staged) AS staged
            FROM current_rows WHERE activity_date IS NOT NULL GROUP BY 1, 2
        ),
        marked AS (
            SELECT *, max(CASE WHEN staged THEN week END) OVER (PARTITION BY athlete_id) AS target FROM weeks
        )
        {_zscore_of_target_week("mean_kudos", history_weeks)}
    """
    return SqlCheck(
        name="weekly_kudos_zscore",
        table=table,
        staged_sql=sql,
        production_sql=None,
        operator=BETWEEN,
        threshold=z,
        action=action,
        description="this week's kudos per activity are unusual against the weekly history",
    )
