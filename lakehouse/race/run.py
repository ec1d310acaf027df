"""The race in batch: land -> bronze -> silver -> gold, each step idempotent, each returning what it did.

- bronze: the reference files through the shared loader, telemetry through `bronze.load_telemetry`.
- silver: reference tables rebuilt when new reference files were loaded; telemetry batches not yet merged
  are deduplicated, matched to the route and inserted (a point silver already has is never replaced).
  Progress per source is kept in `ops.silver_progress`, like the other silver tables.
- gold: every race table rebuilt from silver, skipped when silver has not changed since the last build
  (`ops.race_gold_builds`); optionally a two-rider segment comparison and its GIF.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.bronze.loader import committed_batches, load_entity, read_ledger
from lakehouse.concurrency import run_concurrently
from lakehouse.config import Settings
from lakehouse.race import bronze as race_bronze
from lakehouse.race.geo import to_local
from lakehouse.race.gold import checkpoint_times as gold_checkpoints
from lakehouse.race.gold import general_classification as gold_gc
from lakehouse.race.gold import live_standings as gold_standings
from lakehouse.race.gold import rider_profiles as gold_profiles
from lakehouse.race.gold import segment_comparison as gold_segments
from lakehouse.race.gold import stage_results as gold_results
from lakehouse.race.gold.crossings import crossings as compute_crossings
from lakehouse.race.gold.crossings import marks, point_pairs, rider_starts
from lakehouse.race.gold.segment_gif import Track, render_segment_gif
from lakehouse.race.silver import riders as silver_riders
from lakehouse.race.silver import route_cells as silver_cells
from lakehouse.race.silver import stages as silver_stages
from lakehouse.race.silver import telemetry as silver_telemetry
from lakehouse.storage import open_store
from lakehouse.tables import (
    TableRef,
    Tables,
    append,
    append_counted,
    append_rows,
    create_if_missing,
    current_version,
    delta_table,
    overwrite_counted,
    read_table,
    table_exists,
)
from lakehouse.tables.merge import merge_counts, merge_upsert
from lakehouse.tables.progress import all_last_bronze_batches, record_silver_progress

REFERENCE = "race_reference"
GOLD_BUILDS = ("ops", "race_gold_builds")
GOLD_BUILDS_SCHEMA = T.StructType(
    [
        T.StructField("silver_versions", T.StringType(), False),
        T.StructField("run_id", T.StringType()),
        T.StructField("built_at", T.TimestampType()),
    ]
)
ARTIFACTS_PREFIX = "artifacts/race/segments"
SILVER_INPUTS = (
    silver_telemetry.NAME, silver_stages.STAGES, silver_stages.CHECKPOINTS, silver_stages.START_TIMES,
    silver_stages.ROUTE_POINTS, silver_riders.NAME,
)  # fmt: skip


class RaceDataError(RuntimeError):
    """A race step cannot run: its inputs are missing."""


@dataclass
class StepResult:
    """What one step did to one table, for the run summary."""

    layer: str
    table: str
    rows_in: int | None = None
    rows_out: int | None = None
    seconds: float = 0.0
    note: str = ""
    files_in: int | None = None
    quarantined: int | None = None
    failed: bool = False


def _failed(table: str, exc: Exception, seconds: float) -> StepResult:
    """A bronze load that raised, as a summary row (the other loads still run)."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return StepResult("bronze", table, seconds=seconds, note=f"FAILED: {type(exc).__name__}: {first_line}",
                      failed=True)  # fmt: skip


def bronze_reference(spark: SparkSession, settings: Settings, run_id: str) -> list[StepResult]:
    """Load new athletes, route and start-list files into bronze (the shared loader)."""
    out = []
    ledger_rows = None
    for entity in race_bronze.REFERENCE_ENTITIES:
        started = time.monotonic()
        try:
            if ledger_rows is None:  # read once for the three loads, as the bronze stage does (`read_ledger`)
                ledger_rows = read_ledger(spark, Tables(settings))
            r = load_entity(spark, settings, entity, run_id=run_id, ledger_rows=ledger_rows)
        except Exception as exc:  # one file set failing does not stop the others; the summary says FAILED
            out.append(_failed(f"bronze.{entity.table}", exc, time.monotonic() - started))
            continue
        out.append(
            StepResult(
                "bronze",
                f"bronze.{entity.table}",
                r.records_loaded + r.records_quarantined,
                r.records_loaded,
                r.seconds,
                "no new files" if r.batch_id is None else "",
                r.files_loaded,
                r.records_quarantined,
            )
        )  # fmt: skip
    return out


def bronze_telemetry(spark: SparkSession, settings: Settings, run_id: str) -> StepResult:
    """Load new telemetry files into bronze."""
    started = time.monotonic()
    try:
        t = race_bronze.load_telemetry(spark, settings, run_id=run_id)
    except Exception as exc:  # the reference loads and the other sources are unaffected
        return _failed(f"bronze.{race_bronze.TELEMETRY_TABLE}", exc, time.monotonic() - started)
    note = "resumed an interrupted load; " if t.resumed else ""
    note += f"batches {t.batches[0]}..{t.batches[-1]}" if t.batches else "no new files"
    return StepResult(
        "bronze", f"bronze.{race_bronze.TELEMETRY_TABLE}", t.rows_loaded + t.rows_quarantined, t.rows_loaded,
        t.seconds, note, t.files_loaded, t.rows_quarantined,
    )  # fmt: skip


def bronze(spark: SparkSession, settings: Settings, run_id: str) -> list[StepResult]:
    """Load new reference and telemetry files into bronze."""
    return [*bronze_reference(spark, settings, run_id), bronze_telemetry(spark, settings, run_id)]


REFERENCE_TABLES = tuple(e.table for e in race_bronze.REFERENCE_ENTITIES)


def _max_batch(spark: SparkSession, ref: TableRef) -> int:
    if not table_exists(spark, ref):
        return 0
    value = read_table(spark, ref).agg(F.max("_batch_id")).first()
    return int(value[0]) if value and value[0] is not None else 0


@dataclass(frozen=True)
class SilverState:
    """Read once per silver step: the last batch committed per reference bronze table (from the load ledger:
    reference files are only loaded through it), and the last one each race silver table merged (from
    `ops.silver_progress`). Telemetry is read from its own table: the live stream writes it without the
    ledger."""

    committed: dict[str, int]
    merged: dict[str, dict[str, int]]

    @classmethod
    def read(cls, spark: SparkSession, settings: Settings) -> SilverState:
        tables = Tables(settings)
        return cls(committed_batches(spark, tables, REFERENCE_TABLES), all_last_bronze_batches(spark, tables))


def silver_reference(
    spark: SparkSession, settings: Settings, run_id: str, state: SilverState | None = None
) -> list[StepResult]:
    """Rebuild riders, stages, routes, checkpoints, start times and the matching grid if new files came."""
    started = time.monotonic()
    tables = Tables(settings)
    state = state or SilverState.read(spark, settings)
    sources = {e.table: tables.ref("bronze", e.table) for e in race_bronze.REFERENCE_ENTITIES}
    upto = {name: state.committed.get(name, 0) for name in sources}
    seen = state.merged.get(REFERENCE, {})
    if not upto[race_bronze.ROUTES.table] or all(batch <= seen.get(name, 0) for name, batch in upto.items()):
        return [
            StepResult("silver", "silver.race_* (reference)", 0, 0, time.monotonic() - started, "nothing new")
        ]
    out = []
    athletes = read_table(spark, sources[race_bronze.ATHLETES.table])
    counts = merge_upsert(spark, tables.ref("silver", silver_riders.NAME), silver_riders.to_silver(athletes),
                          silver_riders.KEYS)  # fmt: skip
    note = f"{counts['inserted']} new, {counts['updated']} updated"
    written = counts["inserted"] + counts["updated"]
    out.append(StepResult("silver", f"silver.{silver_riders.NAME}", None, written, note=note))
    routes = silver_stages.latest_route_rows(read_table(spark, sources[race_bronze.ROUTES.table])).persist()
    try:
        points = silver_stages.route_points(routes).persist()
        built = {
            silver_stages.STAGES: silver_stages.stages(routes),
            silver_stages.ROUTE_POINTS: points,
            silver_stages.CHECKPOINTS: silver_stages.checkpoints(routes),
            silver_stages.START_TIMES: silver_stages.start_times(
                read_table(spark, sources[race_bronze.START_LISTS.table])
            ),
            silver_cells.NAME: silver_cells.build_cells(points),
        }
        for name, df in built.items():
            written = overwrite_counted(df, tables.ref("silver", name))
            out.append(StepResult("silver", f"silver.{name}", None, written))
        points.unpersist()
    finally:
        routes.unpersist()
    record_silver_progress(spark, tables, REFERENCE, upto, (0, 0, 0), run_id)
    for row in out:
        row.seconds = (time.monotonic() - started) / len(out)
    return out


def insert_new_points(
    spark: SparkSession,
    target: TableRef,
    rows: DataFrame,
    keys: tuple[str, ...],
    partition_by: tuple[str, ...],
) -> int:
    """Insert the rows whose keys the table does not have yet (insert-only MERGE); returns rows inserted."""
    if not table_exists(spark, target):
        return append_counted(rows, target, partition_by=partition_by)
    condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    for column in partition_by:
        values = sorted({str(r[0]) for r in rows.select(column).distinct().collect() if r[0] is not None})
        if values:
            condition += f" AND t.`{column}` IN ({', '.join(repr(v) for v in values)})"
    # The MERGE's own result row carries its counts (no history read afterwards).
    metrics = (
        delta_table(spark, target).alias("t").merge(rows.alias("s"), condition).whenNotMatchedInsertAll().execute()
    )
    return merge_counts(metrics)["inserted"]


def silver_reference_frames(spark: SparkSession, settings: Settings) -> tuple[DataFrame, DataFrame]:
    """(silver.race_stages, silver.race_route_cells), or `RaceDataError` if routes are not loaded yet."""
    tables = Tables(settings)
    stages_ref = tables.ref("silver", silver_stages.STAGES)
    cells_ref = tables.ref("silver", silver_cells.NAME)
    if not (table_exists(spark, stages_ref) and table_exists(spark, cells_ref)):
        raise RaceDataError("no stage routes in silver yet: land and load the race's route files first")
    return read_table(spark, stages_ref), read_table(spark, cells_ref)


def silver_telemetry_batches(
    spark: SparkSession, settings: Settings, run_id: str, state: SilverState | None = None
) -> StepResult:
    """Deduplicate, match and insert the telemetry bronze batches silver has not seen."""
    started = time.monotonic()
    tables = Tables(settings)
    state = state or SilverState.read(spark, settings)
    source = tables.ref("bronze", race_bronze.TELEMETRY_TABLE)
    result = StepResult("silver", f"silver.{silver_telemetry.NAME}", 0, 0)
    last = state.merged.get(silver_telemetry.NAME, {}).get(race_bronze.TELEMETRY_TABLE, 0)
    upto = _max_batch(spark, source)
    if upto <= last:
        result.note, result.seconds = "nothing new", time.monotonic() - started
        return result
    stages, cells = silver_reference_frames(spark, settings)
    bronze = read_table(spark, source).where((F.col("_batch_id") > last) & (F.col("_batch_id") <= upto))
    dates = [r[0] for r in bronze.select("stage_date").distinct().collect()]
    stages = stages.where(F.col("stage_date").isin(dates))
    cells = cells.join(F.broadcast(stages.select("stage")), on="stage", how="left_semi")
    updates = silver_telemetry.conform(silver_telemetry.first_landed(bronze), stages, cells).persist()
    try:
        result.rows_in = bronze.count()
        inserted = insert_new_points(
            spark, tables.ref("silver", silver_telemetry.NAME), updates, silver_telemetry.KEYS,
            silver_telemetry.PARTITION_BY,
        )  # fmt: skip
        unique = updates.count()
    finally:
        updates.unpersist()
    result.rows_out = inserted
    result.note = f"{result.rows_in - unique} duplicates dropped, {unique - inserted} already in silver"
    record_silver_progress(
        spark,
        tables,
        silver_telemetry.NAME,
        {race_bronze.TELEMETRY_TABLE: upto},
        (result.rows_in, inserted, 0),
        run_id,
    )
    result.seconds = time.monotonic() - started
    return result


def silver(spark: SparkSession, settings: Settings, run_id: str) -> list[StepResult]:
    """Every race silver table."""
    state = SilverState.read(spark, settings)  # the reference step records only its own progress
    return [*silver_reference(spark, settings, run_id, state), silver_telemetry_batches(spark, settings, run_id, state)]


@dataclass(frozen=True)
class SilverRace:
    """The silver tables gold reads."""

    telemetry: DataFrame
    stages: DataFrame
    checkpoints: DataFrame
    start_times: DataFrame
    route_points: DataFrame
    riders: DataFrame


def read_silver(spark: SparkSession, settings: Settings) -> SilverRace:
    """The silver race tables, or `RaceDataError` when some are missing."""
    tables = Tables(settings)
    refs = {name: tables.ref("silver", name) for name in SILVER_INPUTS}
    missing = [f"silver.{n}" for n, ref in refs.items() if not table_exists(spark, ref)]
    if missing:
        raise RaceDataError(
            f"race silver tables missing: {', '.join(missing)}; run the race's silver step first"
        )
    frames = {name: read_table(spark, ref) for name, ref in refs.items()}
    return SilverRace(
        frames[silver_telemetry.NAME], frames[silver_stages.STAGES], frames[silver_stages.CHECKPOINTS],
        frames[silver_stages.START_TIMES], frames[silver_stages.ROUTE_POINTS], frames[silver_riders.NAME],
    )  # fmt: skip


def race_crossings(race: SilverRace) -> DataFrame:
    """Every rider's crossing of every mark, from silver."""
    starts = rider_starts(race.telemetry, race.stages, race.start_times)
    return compute_crossings(point_pairs(race.telemetry), marks(race.stages, race.checkpoints), starts)


def gold_tables(race: SilverRace, crossings: DataFrame) -> dict[str, DataFrame]:
    """Every race gold table (but segment comparisons) from silver and its crossings."""
    starts = rider_starts(race.telemetry, race.stages, race.start_times)
    results = gold_results.stage_results(crossings, starts, race.stages, race.riders)
    return {
        gold_results.NAME: results,
        gold_gc.NAME: gold_gc.general_classification(results),
        gold_checkpoints.CHECKPOINTS_NAME: gold_checkpoints.checkpoint_times(crossings, race.checkpoints),
        gold_checkpoints.CLIMBS_NAME: gold_checkpoints.climb_times(crossings, race.checkpoints),
        gold_profiles.NAME: gold_profiles.rider_profiles(
            crossings, race.telemetry, race.route_points, race.stages
        ),
        gold_standings.NAME: gold_standings.live_standings(race.telemetry, crossings, race.stages),
    }


def _silver_versions(spark: SparkSession, settings: Settings) -> str:
    tables = Tables(settings)
    parts = []
    for name in SILVER_INPUTS:
        ref = tables.ref("silver", name)
        version = current_version(spark, ref)
        parts.append(f"{name}={-1 if version is None else version}")
    return ",".join(parts)


def gold(spark: SparkSession, settings: Settings, run_id: str, force: bool = False) -> list[StepResult]:
    """Rebuild every race gold table from silver (skipped when silver is unchanged, unless `force`)."""
    started = time.monotonic()
    tables = Tables(settings)
    builds = tables.ref(*GOLD_BUILDS)
    create_if_missing(spark, builds, spark.createDataFrame([], GOLD_BUILDS_SCHEMA))
    versions = _silver_versions(spark, settings)
    last = read_table(spark, builds).orderBy(F.col("built_at").desc()).select("silver_versions").first()
    if not force and last is not None and last[0] == versions:
        return [StepResult("gold", "gold.race_*", None, None, time.monotonic() - started, "unchanged")]
    race = read_silver(spark, settings)
    crossings = race_crossings(race).persist()

    def build(name: str, df: DataFrame) -> Callable[[], StepResult]:
        def run() -> StepResult:
            step = time.monotonic()
            rows = overwrite_counted(df, tables.ref("gold", name))
            return StepResult("gold", f"gold.{name}", None, rows, time.monotonic() - step)

        return run

    try:
        # Each table is written from silver and the shared crossings: a few at once (`[spark] table_threads`).
        tasks = [build(name, df) for name, df in gold_tables(race, crossings).items()]
        out = run_concurrently(spark, tasks, settings.spark.table_threads)
    finally:
        crossings.unpersist()
    append_rows(spark, [(versions, run_id, datetime.now(UTC))], GOLD_BUILDS_SCHEMA, builds)
    return out


def compare(
    spark: SparkSession,
    settings: Settings,
    stage: int,
    rider_a: int | None = None,
    rider_b: int | None = None,
    segment_name: str | None = None,
    step_m: float = gold_segments.DEFAULT_STEP_M,
    gif: bool = True,
) -> tuple[StepResult, str | None]:
    """Compare two riders on a segment (default: the stage's first two on its last climb); write the GIF.

    Returns the summary row and the GIF's URI (None without `gif`).
    """
    started = time.monotonic()
    tables = Tables(settings)
    race = read_silver(spark, settings)
    if rider_a is None or rider_b is None:
        results = tables.ref("gold", gold_results.NAME)
        if not table_exists(spark, results):
            raise RaceDataError("no stage results yet: build gold first, or name both riders")
        top = (
            read_table(spark, results).where((F.col("stage") == stage) & F.col("rank").isNotNull())
            .orderBy("rank").select("rider_id").limit(2).collect()
        )  # fmt: skip
        if len(top) < 2:
            raise RaceDataError(f"stage {stage} has fewer than two finishers to compare")
        rider_a, rider_b = int(top[0][0]), int(top[1][0])
    segment = gold_segments.resolve_segment(race.stages, race.checkpoints, stage, segment_name)
    marks_df = gold_segments.segment_marks(spark, segment, step_m)
    gaps = gold_segments.segment_gaps(
        race.telemetry, race.stages, race.start_times, marks_df, segment, rider_a, rider_b
    )
    target = tables.ref("gold", gold_segments.NAME)
    _replace_comparison(spark, target, gaps, segment, rider_a, rider_b)
    rows = read_table(spark, target).where(
        (F.col("stage") == stage) & (F.col("segment") == segment.name)
        & (F.col("rider_a") == rider_a) & (F.col("rider_b") == rider_b)
    ).count()  # fmt: skip
    uri = write_segment_gif(settings, race, segment, rider_a, rider_b) if gif else None
    note = f"stage {stage}, {segment.name}: {rider_a} vs {rider_b}"
    return StepResult("gold", f"gold.{gold_segments.NAME}", None, rows, time.monotonic() - started, note), uri


def _replace_comparison(
    spark: SparkSession, target: TableRef, gaps: DataFrame, segment: gold_segments.Segment, a: int, b: int
) -> None:
    """Replace this comparison's rows (and only them) in one commit."""
    if not table_exists(spark, target):
        append(gaps, target)
        return
    quoted = segment.name.replace("'", "''")
    where = f"stage = {segment.stage} AND segment = '{quoted}' AND rider_a = {a} AND rider_b = {b}"
    writer = gaps.write.format("delta").mode("overwrite").option("replaceWhere", where)
    if target.catalog_name:
        writer.saveAsTable(target.catalog_name)
    else:
        writer.save(target.location)


def write_segment_gif(
    settings: Settings, race: SilverRace, segment: gold_segments.Segment, a: int, b: int
) -> str:
    """Render the comparison's GIF from silver and store it beside the tables; returns its URI."""
    names = {r["rider_id"]: r["name"] for r in race.riders.where(F.col("rider_id").isin(a, b)).collect()}
    margin = max(200.0, (segment.to_m - segment.from_m) * 0.05)
    route = (
        race.route_points.where(
            (F.col("stage") == segment.stage)
            & F.col("distance_m").between(segment.from_m - margin, segment.to_m + margin)
        )
        .orderBy("distance_m")
        .select("x_m", "y_m", "distance_m", "altitude_m")
        .collect()
    )
    origin = race.stages.where(F.col("stage") == segment.stage).select("origin_lat", "origin_lon").first()
    tracks = []
    for rider in (a, b):
        pts = (
            race.telemetry.where(
                (F.col("stage") == segment.stage)
                & (F.col("rider_id") == rider)
                & F.col("distance_m").isNotNull()
                & F.col("distance_m").between(segment.from_m - margin, segment.to_m + margin)
            )
            .orderBy("ts")
            .select(F.unix_micros("ts").alias("us"), "lat", "lon", "distance_m")
            .collect()
        )  # fmt: skip
        lat = np.array([p["lat"] for p in pts])
        lon = np.array([p["lon"] for p in pts])
        x, y = to_local(lat, lon, origin["origin_lat"], origin["origin_lon"])
        tracks.append(
            Track(
                names.get(rider, str(rider)),
                np.array([p["us"] / 1e6 for p in pts]),
                x,
                y,
                np.array([p["distance_m"] for p in pts]),
            )
        )
    data = render_segment_gif(
        f"Stage {segment.stage} - {segment.name}",
        [r["x_m"] for r in route],
        [r["y_m"] for r in route],
        [r["distance_m"] for r in route],
        [r["altitude_m"] for r in route],
        (tracks[0], tracks[1]),
        segment.from_m,
        segment.to_m,
    )
    slug = "".join(ch if ch.isalnum() else "-" for ch in segment.name.lower()).strip("-")
    key = f"{ARTIFACTS_PREFIX}/stage{segment.stage:02d}-{slug}-{a}-vs-{b}.gif"
    store = open_store(settings.tables_root, settings.s3)
    store.write_bytes(key, data)
    return store.uri(key)
