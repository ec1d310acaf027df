"""Row-level expectations: a SQL boolean expression per rule, and what to do with the rows that break it.

A row meets an expectation only when the expression is TRUE: FALSE and NULL both count as a failure, so a
rule that tolerates missing values says so (`distance_m IS NULL OR distance_m >= 0`). Actions:

- `warn`: count the failing rows and report them; the rows are kept.
- `drop`: remove the failing rows (counted, not kept anywhere).
- `quarantine`: remove the failing rows from the stage and hand them back, with the rule's name, for the
  quarantine table. A row breaking a quarantine rule is quarantined even if it also breaks a drop rule.
- `fail`: raise `ExpectationFailed`; the stage stops and nothing is written to production.

`apply_expectations` evaluates every rule as a flag column and counts all flags in one aggregate (one
Spark job), whatever the number of rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.quality.results import KIND_EXPECTATION, CheckResult, QualityGateError

WARN = "warn"
DROP = "drop"
QUARANTINE = "quarantine"
FAIL = "fail"
ACTIONS = (WARN, DROP, QUARANTINE, FAIL)

FLAG_PREFIX = "__dq_fails_"  # the flag columns, removed again before rows leave this module
QUARANTINE_COLUMNS = ("table_name", "rule", "rule_sql", "row_json")


class InvalidExpectation(ValueError):
    """An expectation is malformed: unknown action, empty name, or SQL that is not a boolean expression."""


class ExpectationFailed(QualityGateError):
    """Rows broke an expectation whose action is `fail`: the stage must stop before writing anything."""


@dataclass(frozen=True)
class Expectation:
    """A named SQL boolean rule on a table's rows, TRUE for a good row, with the action for the bad ones.

    Example: `Expectation("distance_non_negative", "silver.strava_activities",
    "distance_m IS NULL OR distance_m >= 0", "warn")`.
    """

    name: str
    table: str
    sql: str
    action: str
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidExpectation("an expectation needs a name")
        if self.action not in ACTIONS:
            raise InvalidExpectation(f"{self.name}: action {self.action!r} is not one of {ACTIONS}")
        if not self.sql.strip():
            raise InvalidExpectation(f"{self.name}: empty SQL expression")


@dataclass(frozen=True)
class ExpectationOutcome:
    """What `apply_expectations` decided: the rows to keep, the rows to quarantine, one result per rule."""

    kept: DataFrame
    quarantined: DataFrame  # columns QUARANTINE_COLUMNS: one row per quarantined row per rule it broke
    results: list[CheckResult]
    rows_in: int | None = None  # None when there were no rules (nothing was counted)
    rows_kept: int | None = None
    rows_quarantined: int = 0  # distinct rows breaking at least one quarantine rule (a row breaking two counts once)


def _quarantine_rows(
    flagged: DataFrame, columns: Sequence[str], rules: Sequence[tuple[int, Expectation]]
) -> DataFrame:
    """One row per (row, quarantine rule it broke): the rule, its table and SQL, and the row as JSON."""
    broken = F.array_compact(
        F.array(
            *[
                F.when(
                    F.col(f"{FLAG_PREFIX}{i}"),
                    F.struct(
                        F.lit(e.table).alias("table_name"),
                        F.lit(e.name).alias("rule"),
                        F.lit(e.sql).alias("rule_sql"),
                    ),
                )
                for i, e in rules
            ]
        )
    )
    # Nulls are written out: a missing value is often the very reason the row is here.
    row_json = F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns]), {"ignoreNullFields": "false"})
    return flagged.select(F.explode(broken).alias("q"), row_json.alias("row_json")).select(
        "q.table_name", "q.rule", "q.rule_sql", "row_json"
    )


def _empty_quarantine(df: DataFrame) -> DataFrame:
    """An empty DataFrame with the quarantine columns, on `df`'s session."""
    return df.where(F.lit(False)).select(*[F.lit(None).cast("string").alias(c) for c in QUARANTINE_COLUMNS])


def _compile(df: DataFrame, e: Expectation) -> Column:
    """The rule as a Column, checked against `df`'s columns (analysis only, no Spark job)."""
    try:
        column = F.expr(e.sql)
        data_type = df.select(column.alias("check")).schema["check"].dataType
    except Exception as exc:  # ParseException, AnalysisException: say which rule does not compile
        raise InvalidExpectation(f"{e.name}: `{e.sql}` does not compile on {df.columns}: {exc}") from exc
    if data_type != T.BooleanType():
        raise InvalidExpectation(f"{e.name}: `{e.sql}` is {data_type.simpleString()}, not a boolean")
    return column


def validate_expectations(df: DataFrame, expectations: Sequence[Expectation]) -> None:
    """Raise `InvalidExpectation` unless every rule is a boolean expression on `df`'s columns (no Spark job)."""
    for e in expectations:
        _compile(df, e)


def _any(flags: Sequence[Column]) -> Column:
    return reduce(lambda a, b: a | b, flags, F.lit(False))


def _message(e: Expectation, failed: int, checked: int) -> str:
    consequence = {WARN: "kept", DROP: "dropped", QUARANTINE: "quarantined", FAIL: "stage stopped"}[e.action]
    if not failed:
        return f"all {checked} rows meet `{e.sql}`"
    return f"{failed} of {checked} rows fail `{e.sql}` ({consequence})"


def apply_expectations(df: DataFrame, expectations: Sequence[Expectation]) -> ExpectationOutcome:
    """Evaluate every expectation on `df` in one aggregate; drop, quarantine or fail as each rule says.

    Raises `ExpectationFailed` (with every rule's result attached) when a `fail` rule has failing rows.
    `df` is read a few times (the aggregate, then the kept and quarantined rows): persist it if it is costly.
    """
    if not expectations:
        return ExpectationOutcome(df, _empty_quarantine(df), [])
    columns = df.columns
    clash = [c for c in columns if c.startswith(FLAG_PREFIX)]
    if clash:
        raise InvalidExpectation(f"columns {clash} clash with the expectation flags ({FLAG_PREFIX}*)")
    flag_names = [f"{FLAG_PREFIX}{i}" for i in range(len(expectations))]
    flagged = df.select(
        "*",
        *[
            (~F.coalesce(_compile(df, e), F.lit(False))).alias(name)
            for e, name in zip(expectations, flag_names, strict=True)
        ],
    )

    removes_rows = (DROP, QUARANTINE)
    removing = [F.col(n) for e, n in zip(expectations, flag_names, strict=True) if e.action in removes_rows]
    quarantining = [F.col(n) for e, n in zip(expectations, flag_names, strict=True) if e.action == QUARANTINE]
    counts = flagged.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(_any(removing).cast("long")).alias("removed"),
        F.sum(_any(quarantining).cast("long")).alias("quarantined_rows"),
        *[F.sum(F.col(name).cast("long")).alias(name) for name in flag_names],
    ).first()
    assert counts is not None  # an aggregate without grouping always returns one row
    rows_in = int(counts["rows"])
    rows_removed = int(counts["removed"] or 0)
    results = []
    for e, name in zip(expectations, flag_names, strict=True):
        failed = int(counts[name] or 0)
        results.append(
            CheckResult(
                table=e.table,
                rule=e.name,
                kind=KIND_EXPECTATION,
                action=e.action,
                passed=failed == 0,
                rows_checked=rows_in,
                rows_failed=failed,
                observed=failed / rows_in if rows_in else 0.0,  # the share of rows failing
                message=_message(e, failed, rows_in),
            )
        )
    fatal = [r for r in results if r.action == FAIL and not r.passed]
    if fatal:
        detail = "; ".join(f"{r.table} {r.rule}: {r.message}" for r in fatal)
        raise ExpectationFailed(f"expectations failed, stage stopped: {detail}", results)

    quarantine_rules = [(i, e) for i, e in enumerate(expectations) if e.action == QUARANTINE]
    kept = flagged.where(~_any(removing)).select(*[F.col(f"`{c}`") for c in columns]) if removing else df
    quarantined = (
        _quarantine_rows(flagged, columns, quarantine_rules) if quarantine_rules else _empty_quarantine(df)
    )
    return ExpectationOutcome(
        kept, quarantined, results, rows_in, rows_in - rows_removed, int(counts["quarantined_rows"] or 0)
    )
