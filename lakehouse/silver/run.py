"""Run the silver stage: each silver table takes the bronze batches it has not seen yet and MERGEs them.

Progress is kept per silver table in `ops.silver_progress` (the highest bronze batch merged). It is written
after the MERGE; a crash in between re-merges the same batches, which changes nothing (the MERGE only
updates rows whose content differs and is not older).

The derived tables (silver.people, silver.workouts) record in the same table the Delta version of every
silver table they were built from (`bronze_table` = `silver.<name>`, `last_bronze_batch` = its version, their
own version after the build included): a run whose inputs are at the recorded versions skips them, a run after
a crash between an input's MERGE and theirs rebuilds them. silver.people's row key carries a fingerprint of
the people settings (`people@<hash>`), so a changed people file rebuilds it too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import people
from lakehouse.bronze.loader import committed_batches
from lakehouse.concurrency import run_concurrently
from lakehouse.config import Settings
from lakehouse.faults import crash_point
from lakehouse.joblabel import job_label
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
from lakehouse.silver.readable import PARSE_ERRORS
from lakehouse.silver.rules import checks_for, expectations_for
from lakehouse.tables import Tables, current_version, read_table, table_exists
from lakehouse.tables.merge import drop_outranked, merge_replace, merge_upsert, with_row_hash
from lakehouse.tables.progress import all_last_bronze_batches, last_bronze_batches, record_silver_progress


@dataclass(frozen=True)
class SilverSpec:
    """One silver table: its bronze source, keys, partitioning and transform."""

    name: str
    bronze_table: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    build: Callable[[DataFrame, Settings], DataFrame]
    precedence: str | None = None  # a rank column: a lower-ranked route never replaces a higher one
    precedence_group: tuple[str, ...] = ()  # the unit that wins or loses whole (default: the keys)
    update_condition: str | None = None  # when a MERGE replaces a matched row (default: newer, or by precedence)
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
    note: str = ""


SPECS: tuple[SilverSpec, ...] = (
    SilverSpec(
        strava_activities.NAME,
        strava_activities.BRONZE_TABLE,
        strava_activities.KEYS,
        strava_activities.PARTITION_BY,
        lambda df, _settings: strava_activities.to_silver(df),
        precedence=strava_activities.PRECEDENCE,
    ),
    SilverSpec(
        fitbit.INTRADAY_NAME,
        fitbit.BRONZE_TABLE,
        fitbit.INTRADAY_KEYS,
        fitbit.INTRADAY_PARTITION_BY,
        lambda df, settings: fitbit.intraday_to_silver(df, user_zones(settings)),
        update_condition=fitbit.UPDATE_BY_ROUTE,
    ),
    SilverSpec(
        fitbit.DAILY_NAME,
        fitbit.BRONZE_TABLE,
        fitbit.DAILY_KEYS,
        (),
        lambda df, settings: fitbit.daily_to_silver(df, user_zones(settings)),
        update_condition=fitbit.UPDATE_BY_ROUTE,
    ),
    SilverSpec(
        fitbit.INTRADAY_NAME,
        google_health.BRONZE_TABLE,
        fitbit.INTRADAY_KEYS,
        fitbit.INTRADAY_PARTITION_BY,
        lambda df, settings: google_health.intraday_to_silver(df, user_zones(settings)),
        update_condition=fitbit.UPDATE_BY_ROUTE,
        txn_scope=google_health.BRONZE_TABLE,
    ),
    SilverSpec(
        fitbit.DAILY_NAME,
        google_health.BRONZE_TABLE,
        fitbit.DAILY_KEYS,
        (),
        lambda df, settings: google_health.daily_to_silver(df, user_zones(settings)),
        update_condition=fitbit.UPDATE_BY_ROUTE,
        txn_scope=google_health.BRONZE_TABLE,
    ),
    SilverSpec(
        strava_streams.NAME,
        strava_streams.BRONZE_TABLE,
        strava_streams.KEYS,
        (),
        lambda df, _settings: strava_streams.to_silver(df),
        precedence=strava_activities.PRECEDENCE,
        precedence_group=strava_streams.GROUP,
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


def run_silver_table(
    spark: SparkSession,
    settings: Settings,
    spec: SilverSpec,
    run_id: str,
    merged: dict[str, int] | None = None,
    committed_upto: int | None = None,
) -> SilverResult:
    """MERGE the bronze batches this silver table has not seen yet.

    `merged` is this table's progress (`{bronze table: last batch merged}`) when the caller read it already;
    `committed_upto` the highest batch the load ledger says is committed in its bronze table (when no
    committed batch is newer than the last one merged, the bronze table is not read at all).
    """
    started = time.monotonic()
    tables = Tables(settings)
    # A table fed by a second bronze table says which one in the summary.
    result = SilverResult(table=spec.name if spec.txn_scope is None else f"{spec.name} <- {spec.bronze_table}")
    source = tables.ref("bronze", spec.bronze_table)
    if committed_upto is not None and merged is not None and committed_upto <= merged.get(spec.bronze_table, 0):
        result.seconds = time.monotonic() - started
        return result
    if not table_exists(spark, source):
        result.note = f"skipped: no bronze.{spec.bronze_table} (no such files landed)"
        result.seconds = time.monotonic() - started
        return result
    if merged is None:
        merged = last_bronze_batches(spark, tables, spec.name)
    last = merged.get(spec.bronze_table, 0)
    bronze = read_table(spark, source).where(F.col("_batch_id") > last)
    stats = bronze.agg(F.count(F.lit(1)).alias("rows"), F.max("_batch_id").alias("upto")).first()
    if not stats or not stats["rows"]:
        result.seconds = time.monotonic() - started
        return result
    upto = int(stats["upto"])
    # Pin the batch range read now, so a bronze load committing meanwhile is left for the next run.
    updates = spec.build(bronze.where(F.col("_batch_id") <= upto), settings)
    if PARSE_ERRORS not in updates.columns:  # a transform without unreadable-value checks: nothing unreadable
        updates = updates.withColumn(PARSE_ERRORS, F.array().cast("array<string>"))
    updates = candidates = updates.persist()
    try:
        target = tables.ref("silver", spec.name)
        production = read_table(spark, target) if table_exists(spark, target) else None
        if spec.precedence and production is not None:
            # A route outranked by what production holds does not reach the gate or the MERGE. Kept once: the
            # gate's expectations and checks and the MERGE read these rows several times, each a join otherwise.
            group = spec.precedence_group or spec.keys
            candidates = drop_outranked(updates, production, group, spec.precedence).persist()
        # Expectations and staging-versus-production checks run before anything touches production;
        # a fail or halt raises here and the MERGE never happens.
        label = f"silver.{spec.name}"
        gated = run_gate(
            spark, settings, spec.name, candidates, production, run_id,
            expectations=expectations_for(label), checks=checks_for(label), txn_version=upto,
            txn_scope=spec.txn_scope,
        )  # fmt: skip
        crash_point("silver.after_gate")
        # Rows with unreadable values were quarantined by the gate; the list of them is not a silver column.
        rows = gated.rows.drop(PARSE_ERRORS)
        counts = merge_upsert(
            spark, target, rows, spec.keys, spec.partition_by, spec.precedence, spec.update_condition
        )
        crash_point("silver.after_merge")
        # The gate counted the rows it let through; count again only when it had no expectations to count with.
        result.rows_out = gated.rows_kept if gated.rows_kept is not None else rows.count()
        result.quarantined = gated.quarantined
    finally:
        if candidates is not updates:
            candidates.unpersist()
        updates.unpersist()
    result.rows_in = int(stats["rows"])
    result.inserted, result.updated = counts["inserted"], counts["updated"]
    result.bronze_batches = f"{last + 1}..{upto}"
    record_silver_progress(
        spark, tables, spec.name, {spec.bronze_table: upto}, (result.rows_in, result.inserted, result.updated), run_id
    )
    crash_point("silver.after_progress")
    result.seconds = time.monotonic() - started
    return result


def user_zones(settings: Settings) -> fitbit.UserZones:
    """Each Fitbit user's home zone from the people file (the sole person's zone for everybody, if one)."""
    if len(settings.people) == 1:
        return settings.people[0].timezone
    return {user: p.timezone for p in settings.people for user in p.fitbit_user_ids}


def _existing(spark: SparkSession, tables: Tables, name: str) -> DataFrame | None:
    ref = tables.ref("silver", name)
    return read_table(spark, ref) if table_exists(spark, ref) else None


PEOPLE_INPUTS = (strava_activities.NAME, fitbit.INTRADAY_NAME, fitbit.DAILY_NAME, mapmyrun_workouts.NAME)
WORKOUTS_INPUTS = (strava_activities.NAME, mapmyrun_workouts.NAME, people.NAME)
Progress = dict[str, dict[str, int]]


def people_key(settings: Settings) -> str:
    """silver.people's key in `ops.silver_progress`: `people@` and a fingerprint of what it is built from
    besides the data (the people file, the analytics defaults, the table's columns)."""
    text = json.dumps(
        [[asdict(p) for p in settings.people], asdict(settings.analytics), people.SCHEMA.simpleString()],
        default=str,
        sort_keys=True,
    )
    return f"{people.NAME}@{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def input_versions(spark: SparkSession, tables: Tables, names: Sequence[str]) -> dict[str, int]:
    """`{"silver.<name>": current version}` of the silver tables in `names` that exist (log listings)."""
    refs = {f"silver.{n}": tables.ref("silver", n) for n in names}
    versions = {key: current_version(spark, ref) for key, ref in refs.items()}
    return {key: v for key, v in versions.items() if v is not None}


def _people_rows(spark: SparkSession, tables: Tables) -> list[tuple]:
    """silver.people's rows as `people.resolve_people` gives them."""
    frame = read_table(spark, tables.ref("silver", people.NAME)).select(*people.SCHEMA.fieldNames())
    return [tuple(r) for r in frame.collect()]


def identities(frame: DataFrame, column: str) -> set:
    """The distinct non-null ids in `column` of a silver table (a scan of that column)."""
    return {r[0] for r in frame.select(column).distinct().collect() if r[0] is not None}


def run_people(
    spark: SparkSession, settings: Settings, run_id: str = "adhoc", progress: Progress | None = None
) -> tuple[SilverResult, list[tuple] | None]:
    """silver.people from the people file and the identities the silver tables hold (MERGEd without churn).

    Skipped (rows None) when the people settings and every input are as recorded at the last build (`progress`:
    `ops.silver_progress` as the stage read it; read here when not given)."""
    started = time.monotonic()
    tables = Tables(settings)
    key = people_key(settings)
    state = input_versions(spark, tables, (*PEOPLE_INPUTS, people.NAME))
    if progress is None:
        progress = all_last_bronze_batches(spark, tables)
    if f"silver.{people.NAME}" in state and progress.get(key) == state:
        return SilverResult(people.NAME, note="unchanged: same people settings, no new identities"), None
    # An input at the version the last build with these settings read holds the identities it held then, and
    # they are in silver.people (a found id is in it, and a configured one is claimed either way): a weekly
    # Strava run does not scan every Fitbit minute for user ids.
    recorded = progress.get(key) or {}
    table_key = f"silver.{people.NAME}"
    known = _people_rows(spark, tables) if table_key in state and recorded.get(table_key) == state[table_key] else None

    def as_recorded(*names: str) -> bool:
        return all(recorded.get(f"silver.{n}") == state.get(f"silver.{n}") for n in names)

    strava = _existing(spark, tables, strava_activities.NAME)
    fitbit_frames = [f for f in (_existing(spark, tables, n) for n in (fitbit.INTRADAY_NAME, fitbit.DAILY_NAME)) if f]
    mapmyrun = _existing(spark, tables, mapmyrun_workouts.NAME)
    if known is not None and as_recorded(strava_activities.NAME):
        athletes = sorted({a for row in known for a in row[3]})
    else:
        athletes = sorted(identities(strava, "athlete_id")) if strava else []
    users: set[str] = set()
    if known is not None and as_recorded(fitbit.INTRADAY_NAME, fitbit.DAILY_NAME):
        users = {u for row in known for u in row[4]}
    else:
        for frame in fitbit_frames:
            users |= identities(frame, "user_id")
    configured = people.resolve_people(settings.people, settings.analytics)
    unclaimed = False
    if mapmyrun is not None and len(settings.people) != 1:
        if known is not None and as_recorded(mapmyrun_workouts.NAME):
            unclaimed = any(row[0] == people.UNCLAIMED_MAPMYRUN for row in known)
        else:
            export = people.export_file_name(F.col("_source_file"))
            unclaimed = not mapmyrun.where(people.mapmyrun_person(export, configured).isNull()).isEmpty()
    rows = people.resolve_people(settings.people, settings.analytics, athletes, users, unclaimed)
    frame = with_row_hash(people.people_frame(spark, rows))
    target = tables.ref("silver", people.NAME)
    # Only a real change makes a new version (gold recomputes what reads this table on a new version).
    current = read_table(spark, target).select("_row_hash") if table_exists(spark, target) else None
    if current is not None and sorted(r[0] for r in current.collect()) == sorted(
        r[0] for r in frame.select("_row_hash").collect()
    ):
        counts = {"inserted": 0, "updated": 0, "deleted": 0}
    else:
        counts = merge_replace(spark, target, frame, people.KEYS, change_feed=True)
    result = SilverResult(people.NAME, rows_in=len(rows), rows_out=len(rows), inserted=counts["inserted"],
                          updated=counts["updated"] + counts.get("deleted", 0))  # fmt: skip
    state[f"silver.{people.NAME}"] = current_version(spark, target)  # type: ignore[assignment]
    record_silver_progress(spark, tables, key, state, (len(rows), result.inserted, result.updated), run_id)
    result.seconds = time.monotonic() - started
    return result, rows


def workouts_if_stale(
    spark: SparkSession, settings: Settings, run_id: str, progress: Progress, people_rows: list[tuple] | None
) -> SilverResult | None:
    """Rebuild silver.workouts unless its inputs (Strava activities, MapMyRun workouts, people) and the table
    itself are at the versions recorded at its last build; None when skipped."""
    tables = Tables(settings)
    state = input_versions(spark, tables, (*WORKOUTS_INPUTS, workouts.NAME))
    if f"silver.{workouts.NAME}" in state and progress.get(workouts.NAME) == state:
        return None
    if not any(f"silver.{n}" in state for n in (strava_activities.NAME, mapmyrun_workouts.NAME)):
        return SilverResult(table=workouts.NAME, note="no Strava or MapMyRun data yet")
    rows = people_rows if people_rows is not None else _people_rows(spark, tables)
    result = run_workouts(spark, settings, rows)
    state[f"silver.{workouts.NAME}"] = current_version(spark, tables.ref("silver", workouts.NAME))  # type: ignore[assignment]
    record_silver_progress(spark, tables, workouts.NAME, state, (result.rows_in, result.inserted, result.updated),
                           run_id)  # fmt: skip
    return result


def run_workouts(spark: SparkSession, settings: Settings, people_rows: list[tuple]) -> SilverResult:
    """silver.workouts, conformed from whichever per-source silver tables exist (recomputed, MERGEd without churn;
    `workouts_if_stale` calls it when at least one exists)."""
    started = time.monotonic()
    tables = Tables(settings)
    result = SilverResult(table=workouts.NAME)
    strava = _existing(spark, tables, strava_activities.NAME)
    mapmyrun = _existing(spark, tables, mapmyrun_workouts.NAME)
    people_frame = read_table(spark, tables.ref("silver", people.NAME))
    rows = workouts.conform(strava, mapmyrun, people_frame, people_rows).persist()
    try:
        crash_point("silver.before_workouts_merge")
        counts = merge_replace(spark, tables.ref("silver", workouts.NAME), rows, workouts.KEYS, change_feed=True)
        result.rows_in = result.rows_out = rows.count()
    finally:
        rows.unpersist()
    result.inserted, result.updated = counts["inserted"], counts["updated"] + counts.get("deleted", 0)
    result.seconds = time.monotonic() - started
    return result


def run_silver(spark: SparkSession, settings: Settings, run_id: str) -> list[SilverResult]:
    """Every silver table, in order: the per-source MERGEs, then who is who, then the conformed workouts.

    A source with no bronze table yet is skipped with a note; with no bronze data at all there is nothing to do.
    """
    with job_label(spark, "silver", "ensure_tables"):
        ensure_tables(spark, settings)
    tables = Tables(settings)
    with job_label(spark, "silver", "progress"):
        # Read once for every table: each table's MERGE only adds its own rows, which no other table reads.
        merged = all_last_bronze_batches(spark, tables)
        # What the load ledger says each bronze table holds: a table with no newer batch that wrote rows is not
        # read (a re-landed file with the same bytes is recorded in a batch of its own, which adds nothing).
        committed = committed_batches(spark, tables, sorted({spec.bronze_table for spec in SPECS}), with_rows=True)

    def merge_into(name: str) -> Callable[[], list[SilverResult]]:
        """The MERGEs into one silver table, one bronze table after another (a table fed by two takes turns)."""

        def run() -> list[SilverResult]:
            out = []
            for spec in (s for s in SPECS if s.name == name):
                label = spec.name if spec.txn_scope is None else f"{spec.name}<-{spec.bronze_table}"
                with job_label(spark, "silver", label):
                    out.append(run_silver_table(spark, settings, spec, run_id, merged.get(spec.name, {}),
                                                committed.get(spec.bronze_table)))  # fmt: skip
            return out

        return run

    # Different silver tables read different bronze tables and write themselves (and append to the shared
    # ledgers): a few are merged at once (`[spark] table_threads`); the summary keeps SPECS' order.
    targets = list(dict.fromkeys(spec.name for spec in SPECS))
    merged_rows = run_concurrently(spark, [merge_into(t) for t in targets], settings.spark.table_threads)
    taken = {t: iter(rows) for t, rows in zip(targets, merged_rows, strict=True)}
    results = [next(taken[spec.name]) for spec in SPECS]
    with job_label(spark, "silver", people.NAME):
        people_result, people_rows = run_people(spark, settings, run_id, merged)
    crash_point("silver.after_people")
    results.append(people_result)
    # silver.workouts reads the Strava activities, the MapMyRun workouts and the people: new Fitbit data or
    # streams do not change it (and the conform + MERGE is the stage's most expensive step).
    with job_label(spark, "silver", workouts.NAME):
        built = workouts_if_stale(spark, settings, run_id, merged, people_rows)
    if built is not None:
        results.append(built)
    return results


SOURCE_TABLES = (strava_activities.NAME, mapmyrun_workouts.NAME, fitbit.INTRADAY_NAME, fitbit.DAILY_NAME)


def refresh_people(spark: SparkSession, settings: Settings, run_id: str = "adhoc") -> list[SilverResult]:
    """Rebuild silver.people from the current settings (and silver.workouts when whose-is-what changed).

    The gold stage calls this first, so a change to the people file takes effect even in a gold-only run.
    """
    if not any(table_exists(spark, Tables(settings).ref("silver", n)) for n in SOURCE_TABLES):
        return []
    progress = all_last_bronze_batches(spark, Tables(settings))
    result, rows = run_people(spark, settings, run_id, progress)
    out = [result]
    built = workouts_if_stale(spark, settings, run_id, progress, rows)
    if built is not None:
        out.append(built)
    return out
