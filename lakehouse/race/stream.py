"""The race live: Structured Streaming from the landing zone into bronze, silver and live standings.

Two queries, each with its own checkpoint under `<tables root>/ops/checkpoints/`:

1. `race_bronze`: telemetry CSV files as they land (file source, `maxFilesPerTrigger`) -> validated
   (`bronze.validate_telemetry`) -> `bronze.race_telemetry` and `bronze.quarantine`.
2. `race_silver`: `bronze.race_telemetry` as a Delta stream -> event-time watermark on `ts`
   (`race.watermark_minutes`) -> `dropDuplicatesWithinWatermark(rider_id, ts)` -> per micro-batch
   (`foreachBatch`): route matching, append to `silver.race_telemetry`, then the standings of every
   stage the batch touched are carried forward by the batch's points (`standings_state`: the crossings
   so far and each rider's newest points kept between micro-batches, rebuilt from silver when that cannot
   be exact) and replace that stage's rows in `gold.race_live_standings`.

Exactly once across restarts: every micro-batch write is an idempotent Delta append (`txnAppId` = the
query's application id, `txnVersion` = the micro-batch id), so a batch replayed after a crash writes
nothing twice; the standings equal a recompute from silver, and a restarted query rebuilds its standings
state from silver, so a replayed batch changes nothing there either. The application id is kept beside
the checkpoint (`<checkpoint>.app_id`): a fresh checkpoint gets a fresh id, so its batch ids never collide
with an old checkpoint's.

Late points: the watermark is the newest event time seen minus `watermark_minutes`. A point older than
the watermark of the previous micro-batch (Spark judges late rows one batch behind) is dropped by the
stream and counted in `numRowsDroppedByWatermark` (kept by `StreamLog`); batch keeps every point.
Duplicates: the first copy within the watermark wins; a copy arriving after its original left the state
is older than the watermark, so it is dropped as late. State is bounded by the watermark, so memory
stays flat however long the stream runs: a key is kept until the watermark passes its time plus the delay,
about twice `watermark_minutes` of points (88 riders x 3,600 s, about 320,000 rows, at 30 minutes).

Each silver micro-batch is logged in `ops.race_stream_batches` (rows, stages, landing files, times):
the benchmark reads landing -> standings latency from it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from lakehouse.bronze.loader import PARTITION_COLUMN
from lakehouse.config import Settings
from lakehouse.faults import crash_point
from lakehouse.race import bronze as race_bronze
from lakehouse.race.gold import live_standings as gold_standings
from lakehouse.race.gold.crossings import crossings, marks, point_pairs, rider_starts
from lakehouse.race.layout import TELEMETRY_PREFIX
from lakehouse.race.silver import stages as silver_stages
from lakehouse.race.silver import telemetry as silver_telemetry
from lakehouse.race.standings_state import BatchStage, LiveStandings, Reference, batch_stages
from lakehouse.storage import open_store, spark_uri
from lakehouse.tables import (
    Tables,
    append,
    commit_transaction,
    current_version,
    ensure_auto_compact,
    read_table,
    replace_where,
    table_exists,
)

BRONZE_QUERY = "race_bronze"
SILVER_QUERY = "race_silver"
CHECKPOINTS_PREFIX = "ops/checkpoints"
MAX_FILES_PER_TRIGGER = 20
STOP_GRACE_S = 120.0  # a stop waits this long at most for the running micro-batches to finish
STOP_POLL_S = 0.02
BATCH_LOG = ("ops", "race_stream_batches")
BATCH_LOG_SCHEMA = T.StructType(
    [
        T.StructField("query", T.StringType(), False),
        T.StructField("batch_id", T.LongType(), False),
        T.StructField("rows_in", T.LongType()),
        T.StructField("rows_written", T.LongType()),
        T.StructField("stages", T.ArrayType(T.IntegerType())),
        T.StructField("source_files", T.ArrayType(T.StringType())),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("finished_at", T.TimestampType()),
        T.StructField("silver_s", T.DoubleType()),  # match and append
        T.StructField("standings_s", T.DoubleType()),  # recompute and write the standings
    ]
)


class StreamError(RuntimeError):
    """The race stream cannot start (missing inputs) or failed."""


@dataclass(frozen=True)
class Trigger:
    """`available_now` (catch up, then stop) or every `seconds` (live)."""

    available_now: bool = True
    seconds: float = 1.0

    def apply(self, writer: Any) -> Any:
        """The writer with this trigger."""
        if self.available_now:
            return writer.trigger(availableNow=True)
        return writer.trigger(processingTime=f"{self.seconds} seconds")


@dataclass(frozen=True)
class StreamOptions:
    """How much each micro-batch takes: landing files (bronze) and bronze Delta files (silver; None: all)."""

    bronze_files_per_trigger: int = MAX_FILES_PER_TRIGGER
    silver_files_per_trigger: int | None = None


@dataclass
class StreamHooks:
    """Test seams, called inside a silver micro-batch: after its silver write with (batch id, rows written)
    (fault injection), and after its standings with (batch id, the standings state)."""

    after_silver_write: Callable[[int, int], None] | None = None
    after_standings: Callable[[int, LiveStandings], None] | None = None


class StreamLog(StreamingQueryListener):
    """Progress of the race queries as Spark reports it (rows, state size, late rows dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.ended: set[str] = set()  # ids of the queries whose end the listener has heard

    def onQueryStarted(self, event: Any) -> None:
        """Nothing to keep at start."""

    def onQueryProgress(self, event: Any) -> None:
        """Keep the numbers of each micro-batch."""
        p = event.progress
        state = p.stateOperators[0] if p.stateOperators else None
        self.events.append(
            {
                "query": p.name,
                "batch_id": p.batchId,
                "input_rows": p.numInputRows,
                "state_rows": state.numRowsTotal if state else None,
                "state_memory_bytes": state.memoryUsedBytes if state else None,
                "dropped_late": state.numRowsDroppedByWatermark if state else None,
                "duration_ms": p.durationMs.get("triggerExecution"),
                "watermark": p.eventTime.get("watermark") if p.eventTime else None,
            }
        )

    def onQueryIdle(self, event: Any) -> None:
        """Nothing to keep when idle."""

    def onQueryTerminated(self, event: Any) -> None:
        """Note the query's end: its last progress event came before it."""
        self.ended.add(str(event.id))

    def wait_for_end(self, queries: Sequence[StreamingQuery], timeout_s: float = 10.0) -> None:
        """Wait (up to `timeout_s`) until the listener has heard `queries` (stopped or finished) end.

        Spark delivers listener events after the fact, on its own thread: read right after a stop, `events` can
        still lack the last micro-batches (a run summary then said 0 points for a stream that wrote 870)."""
        deadline = time.monotonic() + timeout_s
        while any(str(q.id) not in self.ended for q in queries) and time.monotonic() < deadline:
            time.sleep(0.05)

    def dropped_late(self) -> int:
        """Points the silver query dropped as later than the watermark."""
        return sum(e["dropped_late"] or 0 for e in self.events if e["query"] == SILVER_QUERY)


def checkpoint_uri(settings: Settings, query: str) -> str:
    """Where a query keeps its checkpoint."""
    return f"{spark_uri(settings.tables_root).rstrip('/')}/{CHECKPOINTS_PREFIX}/{query}"


def application_id(settings: Settings, query: str) -> str:
    """The query's idempotent-write id, created beside its checkpoint on first use."""
    store = open_store(settings.tables_root, settings.s3)
    key = f"{CHECKPOINTS_PREFIX}/{query}.app_id"
    checkpoint_exists = bool(store.list_keys(f"{CHECKPOINTS_PREFIX}/{query}/"))
    if store.exists(key) and checkpoint_exists:
        return store.read_bytes(key).decode().strip()
    app_id = f"{query}:{uuid.uuid4().hex[:12]}"
    store.write_bytes(key, app_id.encode())
    return app_id


def _bronze_batch(settings: Settings, app_id: str) -> Callable[[DataFrame, int], None]:
    tables = Tables(settings)
    target = tables.ref("bronze", race_bronze.TELEMETRY_TABLE)
    quarantine = tables.ref("bronze", "quarantine")

    def write(raw: DataFrame, batch_id: int) -> None:
        ingested_at = F.lit(datetime.now(UTC).replace(microsecond=0))
        run_id = f"stream:{app_id}"
        raw = raw.persist()
        try:
            append(
                race_bronze.bronze_telemetry_rows(
                    race_bronze.validate_telemetry(raw), F.lit(batch_id), run_id, ingested_at
                ),
                target,
                partition_by=(race_bronze.STAGE_DATE,),
                txn=(f"bronze:{app_id}", batch_id),
            )
            crash_point("stream.after_bronze_write")
            rejected = race_bronze.rejected_rows(raw)
            if not rejected.isEmpty():  # most batches have none: no empty commit on the shared table
                append(
                    race_bronze.quarantine_telemetry_rows(rejected, F.lit(batch_id), run_id, ingested_at),
                    quarantine,
                    partition_by=(PARTITION_COLUMN,),
                    txn=(f"quarantine:{app_id}", batch_id),
                )
        finally:
            raw.unpersist()

    return write


def start_bronze_stream(
    spark: SparkSession, settings: Settings, trigger: Trigger, options: StreamOptions = StreamOptions()
) -> StreamingQuery:
    """Landing telemetry files -> bronze (and quarantine), as files arrive."""
    target, _, _ = race_bronze.ensure_telemetry_tables(spark, settings)
    ensure_auto_compact(spark, target)
    source = f"{spark_uri(settings.landing_root).rstrip('/')}/{TELEMETRY_PREFIX}"
    open_store(settings.landing_root, settings.s3).write_bytes(f"{TELEMETRY_PREFIX}.keep", b"")
    raw = (
        spark.readStream.schema(race_bronze.RAW_SCHEMA)
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", race_bronze.CORRUPT)
        .option("recursiveFileLookup", True)
        .option("pathGlobFilter", "*.csv")
        .option("maxFilesPerTrigger", options.bronze_files_per_trigger)
        .csv(source)
        .withColumn("_source_file", race_bronze.landing_key(F.col("_metadata.file_path")))
    )
    writer = (
        raw.writeStream.queryName(BRONZE_QUERY)
        .foreachBatch(_bronze_batch(settings, application_id(settings, BRONZE_QUERY)))
        .option("checkpointLocation", checkpoint_uri(settings, BRONZE_QUERY))
    )
    return trigger.apply(writer).start()


STANDINGS_INPUT = ("stage", "rider_id", "ts", "distance_m")


def stage_points(spark: SparkSession, settings: Settings, stage_dates: list[Any]) -> DataFrame:
    """The silver points of the stages run on `stage_dates`, only the columns the standings read."""
    telemetry = read_table(spark, Tables(settings).ref("silver", silver_telemetry.NAME))
    return telemetry.where(F.col("stage_date").isin(stage_dates)).select(*STANDINGS_INPUT)


def standings_of(spark: SparkSession, settings: Settings, telemetry: DataFrame) -> DataFrame:
    """Live standings of the stages in `telemetry` (silver points), as batch gold computes them."""
    tables = Tables(settings)
    stages = read_table(spark, tables.ref("silver", silver_stages.STAGES))
    checkpoints = read_table(spark, tables.ref("silver", silver_stages.CHECKPOINTS))
    start_times = read_table(spark, tables.ref("silver", silver_stages.START_TIMES))
    starts = rider_starts(telemetry, stages, start_times)
    passed = crossings(point_pairs(telemetry), marks(stages, checkpoints), starts)
    return gold_standings.live_standings(telemetry, passed, stages)


def standings_for(spark: SparkSession, settings: Settings, stage_dates: list[Any]) -> DataFrame:
    """Live standings of the stages run on `stage_dates`, recomputed from silver."""
    return standings_of(spark, settings, stage_points(spark, settings, stage_dates))


def publish_standings(spark: SparkSession, settings: Settings, standings: DataFrame) -> None:
    """Replace the gold rows of the stages in `standings` with its rows, in one Delta commit.

    The rows (one per rider) are computed and collected first, then written with `replaceWhere`: every row of
    a touched stage changes anyway (`as_of_ts`), so a MERGE would only add a join."""
    rows = standings.collect()
    target = Tables(settings).ref("gold", gold_standings.NAME)
    fresh = spark.createDataFrame(rows, standings.schema).coalesce(1)  # a row per rider: one file, not one per core
    if not table_exists(spark, target):
        append(fresh, target)
        return
    stages = sorted({int(r["stage"]) for r in rows})
    if stages:
        replace_where(fresh, target, f"stage IN ({', '.join(map(str, stages))})")


def carry_standings(
    spark: SparkSession,
    settings: Settings,
    state: LiveStandings,
    rows: DataFrame,
    per_stage: list[Any],
    own_commit: int | None = None,
) -> None:
    """Carry the live standings forward by a micro-batch's silver `rows` (`standings_state`) and publish them;
    `own_commit`: the silver version that appended `rows`, when the Delta log shows it."""
    tables = Tables(settings)
    names = (silver_stages.STAGES, silver_stages.CHECKPOINTS, silver_stages.START_TIMES)
    refs = [tables.ref("silver", name) for name in names]
    # Their versions from a listing of each log (by path; by name that would cost a query each: not asked).
    versions = None if settings.catalog else tuple(current_version(spark, r) for r in refs)
    reference = Reference(*(read_table(spark, r) for r in refs), versions=versions)
    batch = [BatchStage(int(r["stage"]), r["stage_date"], int(r["points"]), r["newest_us"]) for r in per_stage]
    silver = read_table(spark, tables.ref("silver", silver_telemetry.NAME))

    def silver_points(b: BatchStage) -> int:  # one partition's rows
        return silver.where(F.col("stage_date") == F.lit(b.stage_date)).count()

    state.carry(reference, batch, rows, silver_points, lambda d: stage_points(spark, settings, d), own_commit)
    publish_standings(spark, settings, state.standings(spark, reference, [b.stage for b in batch]))


def _silver_batch(
    spark: SparkSession, settings: Settings, app_id: str, hooks: StreamHooks
) -> Callable[[DataFrame, int], None]:
    tables = Tables(settings)
    target = tables.ref("silver", silver_telemetry.NAME)
    log = tables.ref(*BATCH_LOG)
    standings = tables.ref("gold", gold_standings.NAME)
    # Each micro-batch adds a small file to these tables: auto compaction (turned on once each exists)
    # keeps their reads fast.
    not_compacting = [target, log, standings]
    state = LiveStandings()  # this query's standings state, carried from micro-batch to micro-batch

    def compact_small_files() -> None:
        for ref in [r for r in not_compacting if table_exists(spark, r)]:
            ensure_auto_compact(spark, ref)
            not_compacting.remove(ref)

    def write(points: DataFrame, batch_id: int) -> None:
        started = datetime.now(UTC)
        clock = time.monotonic()
        points = points.persist()
        # Only the grid cells of the stages in this batch are broadcast (the Tour has ~1M cells).
        dates = [r[0] for r in points.select("stage_date").distinct().collect()]
        stages = read_table(spark, tables.ref("silver", silver_stages.STAGES)).where(F.col("stage_date").isin(dates))
        stage_ids = [r[0] for r in stages.select("stage").collect()]
        cells = read_table(spark, tables.ref("silver", "race_route_cells")).where(F.col("stage").isin(stage_ids))
        rows = silver_telemetry.conform(points, stages, cells).persist()
        try:
            per_stage = batch_stages(rows).collect()
            written = sum(int(r["points"]) for r in per_stage)
            own_commit = None
            if written:
                txn = (f"silver:{app_id}", batch_id)
                append(rows, target, partition_by=silver_telemetry.PARTITION_BY, txn=txn)
                # The version holding exactly this append (not one skipped as written before, nor another's),
                # from the log of a table by path (by name it would cost a query: the count is asked instead).
                version = None if target.catalog_name else current_version(spark, target)
                if version is not None and commit_transaction(spark, target, version) == txn:
                    own_commit = version
            silver_s = time.monotonic() - clock
            crash_point("stream.after_silver_write")
            if hooks.after_silver_write:
                hooks.after_silver_write(batch_id, written)
            clock = time.monotonic()
            if written:
                carry_standings(spark, settings, state, rows, per_stage, own_commit)
            standings_s = time.monotonic() - clock
            crash_point("stream.after_standings")
            if hooks.after_standings:
                hooks.after_standings(batch_id, state)
        finally:
            rows.unpersist()
            points.unpersist()
        append(
            spark.createDataFrame(
                [
                    (
                        SILVER_QUERY, batch_id, written, written,
                        sorted({int(r["stage"]) for r in per_stage}),
                        sorted({f for r in per_stage for f in r["files"]}),
                        started, datetime.now(UTC), round(silver_s, 3), round(standings_s, 3),
                    )
                ],
                BATCH_LOG_SCHEMA,
            ),
            log,
            txn=(f"log:{app_id}", batch_id),
        )  # fmt: skip
        crash_point("stream.after_batch_log")
        if not_compacting:
            compact_small_files()

    return write


def start_silver_stream(
    spark: SparkSession,
    settings: Settings,
    trigger: Trigger,
    hooks: StreamHooks | None = None,
    options: StreamOptions = StreamOptions(),
) -> StreamingQuery:
    """bronze.race_telemetry -> watermark, dedup -> silver.race_telemetry and live standings."""
    tables = Tables(settings)
    for name in (silver_stages.STAGES, "race_route_cells"):
        if not table_exists(spark, tables.ref("silver", name)):
            raise StreamError(f"silver.{name} is missing: load the race's route files (batch) before streaming")
    source = tables.ref("bronze", race_bronze.TELEMETRY_TABLE)
    race_bronze.ensure_telemetry_tables(spark, settings)
    reader = spark.readStream.format("delta")
    if options.silver_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", options.silver_files_per_trigger)
    bronze = reader.table(source.catalog_name) if source.catalog_name else reader.load(source.location)
    watermark = f"{settings.race.watermark_minutes * 60:.0f} seconds"
    points = (
        bronze.select(*silver_telemetry.POINT_COLUMNS)
        .withWatermark("ts", watermark)
        .dropDuplicatesWithinWatermark(list(silver_telemetry.DEDUP_KEYS))
    )
    writer = (
        points.writeStream.queryName(SILVER_QUERY)
        .foreachBatch(_silver_batch(spark, settings, application_id(settings, SILVER_QUERY), hooks or StreamHooks()))
        .option("checkpointLocation", checkpoint_uri(settings, SILVER_QUERY))
    )
    return trigger.apply(writer).start()


def run_available_now(
    spark: SparkSession,
    settings: Settings,
    hooks: StreamHooks | None = None,
    log: StreamLog | None = None,
    options: StreamOptions = StreamOptions(),
) -> StreamLog:
    """Catch up: bronze until no new file, then silver until bronze is drained; both stop by themselves."""
    log = log or StreamLog()
    spark.streams.addListener(log)
    try:
        for start in (
            lambda: start_bronze_stream(spark, settings, Trigger(), options),
            lambda: start_silver_stream(spark, settings, Trigger(), hooks, options),
        ):
            query = start()
            query.awaitTermination()
            log.wait_for_end([query])
            if query.exception() is not None:
                raise StreamError(str(query.exception()).splitlines()[0])
    finally:
        spark.streams.removeListener(log)
    return log


def start_live(
    spark: SparkSession,
    settings: Settings,
    seconds: float | None = None,
    hooks: StreamHooks | None = None,
    options: StreamOptions = StreamOptions(),
) -> tuple[StreamingQuery, StreamingQuery]:
    """Both queries on a processing-time trigger (every `seconds`, default `race.trigger_seconds`)."""
    trigger = Trigger(available_now=False, seconds=seconds or settings.race.trigger_seconds)
    return (
        start_bronze_stream(spark, settings, trigger, options),
        start_silver_stream(spark, settings, trigger, hooks, options),
    )


def stop(queries: tuple[StreamingQuery, ...], grace_s: float = STOP_GRACE_S) -> None:
    """Stop the queries in order (their checkpoints keep where they were), each between two micro-batches.

    A query running a micro-batch is let finish it (its writes, standings, log row and checkpoint commit) before
    it is stopped, for up to `grace_s` seconds in all; 0 stops at once. A batch stopped midway is safe too (every
    write is idempotent; it runs again on restart) but its work is lost, and Spark logs the interruption at
    length (a `StackOverflowError` in its stream thread, from matching the interrupted Python call's long message).
    A query that is behind starts its next batch as soon as one ends; it is stopped then, while that batch is
    still planning, and Spark may still log that interruption.
    """
    deadline = time.monotonic() + grace_s
    for query in queries:
        running = _last_batch(query)
        while query.isActive and time.monotonic() < deadline:
            # Idle, or the micro-batch that was running has finished (the next one, when the query is behind,
            # is then still planning: stopped before its work starts).
            if not query.status["isTriggerActive"] or _last_batch(query) != running:
                break
            time.sleep(STOP_POLL_S)
        if query.isActive:
            query.stop()


def _last_batch(query: StreamingQuery) -> int | None:
    """The id of the query's last finished micro-batch (None before the first)."""
    progress = query.lastProgress
    return int(progress["batchId"]) if progress else None
