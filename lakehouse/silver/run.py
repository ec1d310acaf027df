"""Run the silver stage: each silver table takes the bronze batches it has not seen yet and MERGEs them.

Progress is kept per silver table in `ops.silver_progress` (the highest bronze batch merged). It is written
after the MERGE; a crash in between re-merges the same batches, which changes nothing (the MERGE only
updates rows whose content differs and is not older).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from lakehouse.quality.gate import ensure_tables, run_gate
from lakehouse.silver import api_calls, fitbit, mapmyrun_workouts, strava_activities, strava_streams, workouts
from lakehouse.silver.readable import PARSE_ERRORS
from lakehouse.silver.rules import checks_for, expectations_for
from lakehouse.tables import Tables, read_table, table_exists
from lakehouse.tables.merge import merge_replace, merge_upsert
from lakehouse.tables.progress import last_bronze_batches, record_silver_progress


@dataclass(frozen=True)
class SilverSpec:
    """One silver table: its bronze source, keys, partitioning and transform."""

    name: str
    bronze_table: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    build: Callable[[DataFrame, Settings], DataFrame]


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
    ),
    SilverSpec(
        fitbit.DAILY_NAME,
        fitbit.BRONZE_TABLE,
        fitbit.DAILY_KEYS,
        (),
        lambda df, settings: fitbit.daily_to_silver(df, settings.fitbit_timezone),
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


def run_silver_table(spark: SparkSession, settings: Settings, spec: SilverSpec, run_id: str) -> SilverResult:
    """MERGE the bronze batches this silver table has not seen yet."""
    started = time.monotonic()
    tables = Tables(settings)
    result = SilverResult(table=spec.name)
    source = tables.ref("bronze", spec.bronze_table)
    if not table_exists(spark, source):
        result.seconds = time.monotonic() - started
        return result
    last = last_bronze_batches(spark, tables, spec.name).get(spec.bronze_table, 0)
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
        label = f"silver.{spec.name}"
        gated = run_gate(
            spark, settings, spec.name, updates, production, run_id,
            expectations=expectations_for(label), checks=checks_for(label), txn_version=upto,
        )  # fmt: skip
        # Rows with unreadable values were quarantined by the gate; the list of them is not a silver column.
        rows = gated.rows.drop(PARSE_ERRORS)
        counts = merge_upsert(spark, target, rows, spec.keys, spec.partition_by)
        result.rows_out = rows.count()
        result.quarantined = gated.quarantined
    finally:
        updates.unpersist()
    result.rows_in = int(stats["rows"])
    result.inserted, result.updated = counts["inserted"], counts["updated"]
    result.bronze_batches = f"{last + 1}..{upto}"
    record_silver_progress(
        spark, tables, spec.name, {spec.bronze_table: upto}, (result.rows_in, result.inserted, result.updated), run_id
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
