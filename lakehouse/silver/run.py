"""Run the silver stage: each silver table takes the bronze batches it has not seen yet and MERGEs them.

Progress is kept per silver table in `ops.silver_progress` (the highest bronze batch merged). It is written
after the MERGE; a crash in between re-merges the same batches, which changes nothing (the MERGE only
updates rows whose content differs and is not older).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.quality.gate import ensure_tables, run_gate
from lakehouse.silver import (
    api_calls,
    fitbit,
    google_health,
    mapmyrun_workouts,
    strava_activities,
    strava_streams,
    workouts,
)
from lakehouse.silver.merge import UPDATE_WHEN_NEWER, merge_replace, merge_upsert
from lakehouse.tables import Tables, append, create_if_missing, read_table, table_exists

PROGRESS_TABLE = ("ops", "silver_progress")
PROGRESS_SCHEMA = T.StructType(
    [
        T.StructField("silver_table", T.StringType(), False),
        T.StructField("bronze_table", T.StringType(), False),
        T.StructField("last_bronze_batch", T.LongType(), False),
        T.StructField("rows_in", T.LongType()),
        T.StructField("rows_inserted", T.LongType()),
        T.StructField("rows_updated", T.LongType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("merged_at", T.TimestampType()),
    ]
)


@dataclass(frozen=True)
class SilverSpec:
    """One silver table: its bronze source, keys, partitioning and transform."""

    name: str
    bronze_table: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    build: Callable[[DataFrame, Settings], DataFrame]
    update_condition: str = UPDATE_WHEN_NEWER  # when a MERGE replaces a matched row
    txn_scope: str | None = None  # set when a second bronze table feeds the same silver table


@dataclass
class SilverResult:
    """What one silver MERGE did."""

    table: str
    rows_in: int = 0
    rows_out: int = 0
    inserted: int = 0
    updated: int = 0
    bronze_batches: str = ""
    quarantined: int = 0
    seconds: float = 0.0


SPECS: tuple[SilverSpec, ...] = (
    SilverSpec(
        strava_activities.NAME,
        strava_activities.BRONZE_TABLE,
        strava_activities.KEYS,
        strava_activities.PARTITION_BY,
        lambda df, _settings: strava_activities.to_silver(df),
    ),
    SilverSpec(
        fitbit.INTRADAY_NAME,
        fitbit.BRONZE_TABLE,
        fitbit.INTRADAY_KEYS,
        fitbit.INTRADAY_PARTITION_BY,
        lambda df, settings: fitbit.intraday_to_silver(df, settings.fitbit_timezone),
        fitbit.UPDATE_BY_ROUTE,
    ),
    SilverSpec(
        fitbit.DAILY_NAME,
        fitbit.BRONZE_TABLE,
        fitbit.DAILY_KEYS,
        (),
        lambda df, settings: fitbit.daily_to_silver(df, settings.fitbit_timezone),
        fitbit.UPDATE_BY_ROUTE,
    ),
    SilverSpec(
        fitbit.INTRADAY_NAME,
        google_health.BRONZE_TABLE,
        fitbit.INTRADAY_KEYS,
        fitbit.INTRADAY_PARTITION_BY,
        lambda df, settings: google_health.intraday_to_silver(df, settings.fitbit_timezone),
        fitbit.UPDATE_BY_ROUTE,
        google_health.BRONZE_TABLE,
    ),
    SilverSpec(
        fitbit.DAILY_NAME,
        google_health.BRONZE_TABLE,
        fitbit.DAILY_KEYS,
        (),
        lambda df, settings: google_health.daily_to_silver(df, settings.fitbit_timezone),
        fitbit.UPDATE_BY_ROUTE,
        google_health.BRONZE_TABLE,
    ),
    SilverSpec(
        strava_streams.NAME,
        strava_streams.BRONZE_TABLE,
        strava_streams.KEYS,
        (),
        lambda df, _settings: strava_streams.to_silver(df),
    ),
    SilverSpec(
        api_calls.NAME,
        api_calls.BRONZE_TABLE,
        api_calls.KEYS,
        (),
        lambda df, _settings: api_calls.to_silver(df),
    ),
    SilverSpec(
        mapmyrun_workouts.NAME,
        mapmyrun_workouts.BRONZE_TABLE,
        mapmyrun_workouts.KEYS,
        (),
        lambda df, _settings: mapmyrun_workouts.to_silver(df),
    ),
)


def _last_merged_batch(spark: SparkSession, tables: Tables, name: str, bronze_table: str) -> int:
    """The last bronze batch of `bronze_table` merged into `name` (several bronze tables may feed one table)."""
    progress = tables.ref(*PROGRESS_TABLE)
    create_if_missing(spark, progress, spark.createDataFrame([], PROGRESS_SCHEMA))
    row = (
        read_table(spark, progress)
        .where((F.col("silver_table") == name) & (F.col("bronze_table") == bronze_table))
        .agg(F.max("last_bronze_batch"))
        .first()
    )
    return int(row[0]) if row and row[0] is not None else 0


def run_silver_table(spark: SparkSession, settings: Settings, spec: SilverSpec, run_id: str) -> SilverResult:
    """MERGE the bronze batches this silver table has not seen yet."""
    started = time.monotonic()
    tables = Tables(settings)
    # A table fed by a second bronze table says which one in the summary.
    result = SilverResult(table=spec.name if spec.txn_scope is None else f"{spec.name} <- {spec.bronze_table}")
    source = tables.ref("bronze", spec.bronze_table)
    if not table_exists(spark, source):
        result.seconds = time.monotonic() - started
        return result
    last = _last_merged_batch(spark, tables, spec.name, spec.bronze_table)
    bronze = read_table(spark, source).where(F.col("_batch_id") > last)
    stats = bronze.agg(F.count(F.lit(1)).alias("rows"), F.max("_batch_id").alias("upto")).first()
    if not stats or not stats["rows"]:
        result.seconds = time.monotonic() - started
        return result
    upto = int(stats["upto"])
    # Pin the batch range read now, so a bronze load committing meanwhile is left for the next run.
    updates = spec.build(bronze.where(F.col("_batch_id") <= upto), settings).persist()
    try:
        target = tables.ref("silver", spec.name)
        production = read_table(spark, target) if table_exists(spark, target) else None
        # Expectations and staging-versus-production checks run before anything touches production;
        # a fail or halt raises here and the MERGE never happens.
        gated = run_gate(
            spark, settings, spec.name, updates, production, run_id, txn_version=upto, txn_scope=spec.txn_scope
        )
        counts = merge_upsert(spark, target, gated.rows, spec.keys, spec.partition_by, spec.update_condition)
        result.rows_out = gated.rows.count()
        result.quarantined = gated.quarantined
    finally:
        updates.unpersist()
    result.rows_in = int(stats["rows"])
    result.inserted, result.updated = counts["inserted"], counts["updated"]
    result.bronze_batches = f"{last + 1}..{upto}"
    append(
        spark.createDataFrame(
            [
                (
                    spec.name,
                    spec.bronze_table,
                    upto,
                    result.rows_in,
                    result.inserted,
                    result.updated,
                    run_id,
                    datetime.now(UTC),
                )
            ],
            PROGRESS_SCHEMA,
        ),
        tables.ref(*PROGRESS_TABLE),
    )
    result.seconds = time.monotonic() - started
    return result


def run_workouts(spark: SparkSession, settings: Settings) -> SilverResult:
    """silver.workouts, conformed from the per-source silver tables (recomputed, MERGEd without churn)."""
    started = time.monotonic()
    tables = Tables(settings)
    result = SilverResult(table=workouts.NAME)
    strava = tables.ref("silver", strava_activities.NAME)
    mapmyrun = tables.ref("silver", mapmyrun_workouts.NAME)
    if not (table_exists(spark, strava) and table_exists(spark, mapmyrun)):
        result.seconds = time.monotonic() - started
        return result
    rows = workouts.conform(
        read_table(spark, strava), read_table(spark, mapmyrun), settings.mapmyrun_athlete_id
    ).persist()
    try:
        counts = merge_replace(spark, tables.ref("silver", workouts.NAME), rows, workouts.KEYS, change_feed=True)
        result.rows_in = result.rows_out = rows.count()
    finally:
        rows.unpersist()
    result.inserted, result.updated = counts["inserted"], counts["updated"] + counts.get("deleted", 0)
    result.seconds = time.monotonic() - started
    return result


def run_silver(spark: SparkSession, settings: Settings, run_id: str) -> list[SilverResult]:
    """Every silver table, in order: the per-source MERGEs, then the conformed workouts."""
    ensure_tables(spark, settings)
    results = [run_silver_table(spark, settings, spec, run_id) for spec in SPECS]
    if any(r.rows_in for r in results) or not table_exists(spark, Tables(settings).ref("silver", workouts.NAME)):
        results.append(run_workouts(spark, settings))
    return results
