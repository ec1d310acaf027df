"""ops.check_results: every expectation and check result, appended per run; and the end-of-run summary.

Grain: one row per run, stage, table and rule. Keys: (`run_id`, `stage`, `table_name`, `rule`).
`kind` is `expectation` (a row-level SQL boolean rule) or `check` (a staging-versus-production SQL check);
`passed` is null when a check could not be evaluated (for example a z-score with too little history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.tables import Tables, append_rows, read_table, table_exists

RESULTS_TABLE = ("ops", "check_results")
RESULTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("checked_at", T.TimestampType(), False),
        T.StructField("stage", T.StringType(), False),
        T.StructField("table_name", T.StringType(), False),
        T.StructField("rule", T.StringType(), False),
        T.StructField("kind", T.StringType(), False),
        T.StructField("action", T.StringType(), False),
        T.StructField("passed", T.BooleanType()),
        T.StructField("rows_checked", T.LongType()),
        T.StructField("rows_failed", T.LongType()),
        T.StructField("observed_value", T.DoubleType()),
        T.StructField("threshold", T.DoubleType()),
        T.StructField("message", T.StringType()),
    ]
)

KIND_EXPECTATION = "expectation"
KIND_CHECK = "check"


class QualityGateError(RuntimeError):
    """A quality gate stopped a stage; `results` holds every result of that gate, passed or not."""

    def __init__(self, message: str, results: Sequence[CheckResult]) -> None:
        super().__init__(message)
        self.results: tuple[CheckResult, ...] = tuple(results)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation or check on one table."""

    table: str
    rule: str
    kind: str
    action: str
    passed: bool | None
    rows_checked: int | None = None
    rows_failed: int | None = None
    observed: float | None = None
    threshold: float | None = None
    message: str = ""

    @property
    def status(self) -> str:
        """`ok`, `skipped`, or the action taken on failure in upper case (`WARN`, `QUARANTINE`, `HALT`...)."""
        if self.passed is None:
            return "skipped"
        return "ok" if self.passed else self.action.upper()


def record_results(
    spark: SparkSession,
    settings: Settings,
    results: Sequence[CheckResult],
    *,
    run_id: str,
    stage: str,
    checked_at: datetime | None = None,
) -> None:
    """Append `results` to ops.check_results, creating it on first use (one Delta commit; none for no results)."""
    if not results:
        return
    ref = Tables(settings).ref(*RESULTS_TABLE)
    at = checked_at or datetime.now(UTC)
    rows = [
        (
            run_id,
            at,
            stage,
            r.table,
            r.rule,
            r.kind,
            r.action,
            r.passed,
            r.rows_checked,
            r.rows_failed,
            None if r.observed is None else float(r.observed),
            None if r.threshold is None else float(r.threshold),
            r.message,
        )
        for r in results
    ]
    append_rows(spark, rows, RESULTS_SCHEMA, ref)


def summarize(results: Sequence[CheckResult], run_id: str | None = None) -> str:
    """A short text block for the end of a run: counts by status, then one line per rule that did not pass.

    Example: `summarize(results, "20240107-0600")` ->
    "data quality, run 20240107-0600: 9 rules, 8 ok, 1 warn\\nWARN  silver.strava_activities  ...".
    """
    title = "data quality" + (f", run {run_id}" if run_id else "")
    if not results:
        return f"{title}: no rules ran"
    statuses = [r.status for r in results]
    order = ["ok", "skipped", *sorted({s for s in statuses if s not in ("ok", "skipped")})]
    counts = ", ".join(f"{statuses.count(s)} {s.lower()}" for s in order if s in statuses)
    lines = [f"{title}: {len(results)} rules, {counts}"]
    for r in results:
        if r.passed is not True:
            lines.append(f"{r.status:<10}  {r.table}  {r.rule}: {r.message}")
    return "\n".join(lines)


def run_results(spark: SparkSession, settings: Settings, run_id: str) -> list[CheckResult]:
    """The results recorded in ops.check_results for one run, in the order they were checked."""
    ref = Tables(settings).ref(*RESULTS_TABLE)
    if not table_exists(spark, ref):
        return []
    rows = (
        read_table(spark, ref)
        .where(F.col("run_id") == run_id)
        .orderBy("checked_at", "stage", "table_name", "kind", "rule")
        .collect()
    )
    return [
        CheckResult(
            table=r["table_name"],
            rule=r["rule"],
            kind=r["kind"],
            action=r["action"],
            passed=r["passed"],
            rows_checked=r["rows_checked"],
            rows_failed=r["rows_failed"],
            observed=r["observed_value"],
            threshold=r["threshold"],
            message=r["message"] or "",
        )
        for r in rows
    ]


def run_summary(spark: SparkSession, settings: Settings, run_id: str) -> str:
    """`summarize` over everything ops.check_results recorded for `run_id`."""
    return summarize(run_results(spark, settings, run_id), run_id)
