"""The quality gate between staging and production: expectations, then checks, then the rows to merge.

`gate` runs after a stage has built its staged rows and before it MERGEs them: the table's expectations
(drop, quarantine, warn, fail) and then its staging-versus-production checks on the rows that survive.
Every result is appended to `ops.check_results`. On a `fail` expectation or a `halt` check it raises
(`ExpectationFailed`, `ValidationHalted`, both `QualityGateError`) before anything is quarantined or merged,
so production is left untouched and the next run sees the same batch again.

ops.silver_quarantine (or `ops.<layer>_quarantine`)
    Grain: one row per quarantined row per rule it broke. Keys: (`run_id`, `table_name`, `rule`, `row_json`).
    Columns (`QUARANTINE_SCHEMA`): `run_id`, `quarantined_at`, `table_name`, `rule`, `rule_sql` (the
    expectation) and `row_json`, the row kept whole as JSON, lineage columns included (`_source_file`...).
    Created by the first quarantine, or empty by `ensure_tables` (so it can be queried on any lakehouse).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.quality.checks import HALT, SqlCheck, ValidationHalted, run_checks
from lakehouse.quality.expectations import (
    Expectation,
    ExpectationFailed,
    apply_expectations,
)
from lakehouse.quality.results import RESULTS_SCHEMA, RESULTS_TABLE, CheckResult, record_results
from lakehouse.tables import TableRef, Tables, append, create_if_missing

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
        T.StructField("table_name", T.StringType(), False),
        T.StructField("rule", T.StringType(), False),
        T.StructField("rule_sql", T.StringType()),
        T.StructField("row_json", T.StringType()),
    ]
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateOutcome:
    """What the gate let through (`rows`, to merge), every result, and how many rows it quarantined."""

    rows: DataFrame
    results: list[CheckResult]
    quarantined: int
    rows_kept: int | None = None  # how many rows `rows` holds, when the expectations counted them


def quarantine_ref(settings: Settings, layer: str = "silver") -> TableRef:
    """The quarantine table of a layer: `ops.silver_quarantine` for silver."""
    return Tables(settings).ref("ops", f"{layer}_quarantine")


def ensure_tables(spark: SparkSession, settings: Settings, layer: str = "silver") -> None:
    """Create ops.check_results and ops.<layer>_quarantine, empty, unless they exist (once per run is enough)."""
    create_if_missing(spark, Tables(settings).ref(*RESULTS_TABLE), spark.createDataFrame([], RESULTS_SCHEMA))
    create_if_missing(spark, quarantine_ref(settings, layer), spark.createDataFrame([], QUARANTINE_SCHEMA))


def _log(results: Sequence[CheckResult]) -> None:
    for r in results:
        if r.passed is False:
            log.warning("quality %s: %s %s: %s", r.status, r.table, r.rule, r.message)


def run_gate(
    spark: SparkSession,
    settings: Settings,
    table_name: str,
    staged: DataFrame,
    production: DataFrame | None,
    run_id: str,
    *,
    layer: str = "silver",
    expectations: Sequence[Expectation] = (),
    checks: Sequence[SqlCheck] = (),
    txn_version: int | None = None,
    txn_scope: str | None = None,
) -> GateOutcome:
    """Expectations, then checks, on `staged`; record every result; quarantine; return the rows to merge.

    `table_name` is the table's name in `layer` (`strava_activities`) or its label (`silver.x`); the caller
    passes the table's declared rules (silver's are in `lakehouse.silver.rules`). With `txn_version` (e.g. the
    highest bronze batch staged) the quarantine write is idempotent: a re-run of the same batch does not write
    it twice; `txn_scope` (the bronze table) keeps the batch numbers of several bronze tables feeding one table
    apart.
    Raises `ExpectationFailed` / `ValidationHalted` after recording the results; nothing else is written.
    """
    label = table_name if "." in table_name else f"{layer}.{table_name}"
    try:
        outcome = apply_expectations(staged, expectations)
    except ExpectationFailed as exc:
        _log(exc.results)
        record_results(spark, settings, exc.results, run_id=run_id, stage=layer)
        raise
    check_results = run_checks(
        spark, checks, outcome.kept, production, rows_checked=outcome.rows_kept, raise_on_halt=False
    )
    results = [*outcome.results, *check_results]
    _log(results)
    record_results(spark, settings, results, run_id=run_id, stage=layer)
    halted = [r for r in check_results if r.action == HALT and r.passed is False]
    if halted:
        detail = "; ".join(f"{r.table} {r.rule}: {r.message}" for r in halted)
        raise ValidationHalted(f"validation halted before merge: {detail}", results)

    quarantined = outcome.rows_quarantined  # rows, not rule hits: a row breaking two rules is one row
    if quarantined:
        ref = quarantine_ref(settings, layer)
        rows = outcome.quarantined.select(
            F.lit(run_id).alias("run_id"),
            F.lit(datetime.now(UTC)).cast("timestamp").alias("quarantined_at"),
            *[F.col(f.name).cast(f.dataType) for f in QUARANTINE_SCHEMA.fields[2:]],
        )
        app = f"{ref.name}:{label}" + (f":{txn_scope}" if txn_scope else "")
        txn = (app, txn_version) if txn_version is not None else None
        append(rows, ref, txn=txn)
    return GateOutcome(outcome.kept, results, quarantined, outcome.rows_kept)


def gate(
    spark: SparkSession,
    settings: Settings,
    table_name: str,
    staged: DataFrame,
    production: DataFrame | None,
    run_id: str,
    *,
    layer: str = "silver",
    expectations: Sequence[Expectation] = (),
    checks: Sequence[SqlCheck] = (),
    txn_version: int | None = None,
) -> DataFrame:
    """The rows of `staged` to merge, after the table's declared expectations and checks (see `run_gate`).

    Example, in a silver stage: `to_merge = gate(spark, settings, "strava_activities", updates, current,
    run_id, expectations=expectations_for(label), checks=checks_for(label), txn_version=upto)`, then MERGE it.
    """
    return run_gate(
        spark, settings, table_name, staged, production, run_id, layer=layer, expectations=expectations,
        checks=checks, txn_version=txn_version,
    ).rows
