"""The race live: Structured Streaming from the landing zone into bronze, silver and live standings.

One query (`race_live`, its checkpoint under `<tables root>/ops/checkpoints/`): the names of telemetry CSV files
as they land (Spark's file source in `binaryFile` format, `maxFilesPerTrigger`; only the paths are selected, so
nothing is read there), and per micro-batch (`foreachBatch`), in one pass over the batch:

0. its files read as batch reads them (`bronze.read_telemetry_files`: each as its first line says, with or
   without a header, columns in any order);
1. validated (`bronze.validate_telemetry`) and counted once (good, rejected, late, per stage date);
2. the points on time -> one per rider and second (the first landed copy, as batch picks it), less those
   silver already has -> route matching: silver's new rows, computed and kept for the steps below;
3. the standings of every stage the batch touched carried forward by its new points (`standings_state`: the
   crossings so far and each rider's newest points kept between micro-batches, rebuilt from silver and the
   batch's rows when that cannot be exact) -> that stage's rows replaced in `gold.race_live_standings`;
4. then, side by side (two driver threads: each append is mostly planning and Delta's commit), the good lines ->
   `bronze.race_telemetry` (the others -> `bronze.quarantine`), and the new rows -> `silver.race_telemetry`.

The standings come before the bronze and silver appends because they are what a live race is watched by: a
file waits for them, not for the appends (the appends took 2.5-4.5 s of a 10 s micro-batch at real time). For
a moment (until the silver append, or a crash's replay) the standings count points silver does not hold yet.

Landing -> bronze and bronze -> silver were two queries, the second a Delta stream of the first's table with
Spark's `dropDuplicatesWithinWatermark`: each micro-batch of each paid Spark's and Delta's fixed costs, and on
two cores the two competed, so a point waited for both (median 17-18 s, p95 31 s at real time). A checkpoint of
that time's `race_bronze` query is this query's (the folder keeps its name): a stream started before carries on
from the files it had taken, and so does one from when this query read the files as CSV itself (the file
source's log of files taken is the same whatever the format). Points its `race_silver` query had not taken yet
reach silver through batch (`jobs.race`).

Exactly once across restarts: every write is an idempotent Delta append (`txnAppId` = the query's
application id, `txnVersion` = the micro-batch id), so a batch replayed after a crash writes nothing twice;
and silver's deduplication is a lookup of silver itself, not state that a crash could lose. The standings equal
a recompute from silver, and a restarted query rebuilds its standings state from silver, so a replayed batch
changes nothing there either; a batch replayed after a crash between its standings and its silver append
finds its rows again (silver does not hold them) and publishes the same standings. The application id is kept
beside the checkpoint (`<checkpoint>.app_id`): a fresh checkpoint gets a fresh id, so its batch ids never collide
with an old checkpoint's.

Late points: the stream keeps the newest event time it has seen (`EventClock`, beside the checkpoint); a point
older than that minus `race.watermark_minutes` when its micro-batch begins is late: it stays in bronze, is
dropped from silver and counted (`StreamLog.dropped_late`); batch keeps every point. Duplicates: the first
landed copy wins, within a micro-batch (`first_landed`, batch's rule) and across them (silver has it), however
far apart they land. Nothing is kept per point between micro-batches, so memory stays flat however long the
stream runs.

A small micro-batch's own queries (up to `INTERPRETED_MAX_BYTES` of landed files) run on a clone of the session
that evaluates expressions without generating code (`lakehouse.spark.interpreted_session`; the session the stream
was started on keeps its settings): with a few thousand rows, generating and compiling Java for each query and task
was the largest single cost (at real time a micro-batch 12.9 -> 8.5 s, median latency 27.6 -> 11.2 s on the same
machine). A larger one (a replay at 60x: 100,000 points) runs on the stream's session, where generated code pays.

Each micro-batch is logged in `ops.race_stream_batches` (rows, stages, landing files, times): the benchmark
reads landing -> standings latency from it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from lakehouse.bronze.loader import PARTITION_COLUMN
from lakehouse.concurrency import run_concurrently
from lakehouse.config import Settings
from lakehouse.faults import crash_point
from lakehouse.race import bronze as race_bronze
from lakehouse.race.gold import live_standings as gold_standings
from lakehouse.race.gold.crossings import crossings, marks, point_pairs, rider_starts
from lakehouse.race.layout import ATHLETES_PREFIX, STAGES_PREFIX, TELEMETRY_PREFIX
from lakehouse.race.silver import stages as silver_stages
from lakehouse.race.silver import telemetry as silver_telemetry
from lakehouse.race.standings_state import BatchStage, LiveStandings, Reference, batch_points, batch_stages
from lakehouse.spark import interpreted_session
from lakehouse.storage import literal_uri, open_store, spark_uri
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

LIVE_QUERY = "race_live"
CHECKPOINT = "race_bronze"  # the folder of the landing files' query from when there were two (see above)
CHECKPOINTS_PREFIX = "ops/checkpoints"
MAX_FILES_PER_TRIGGER = 20
STOP_GRACE_S = 120.0  # a stop waits this long at most for the running micro-batches to finish
STOP_POLL_S = 0.02
FILE_LIST_SCHEMA = T.StructType(  # Spark's binaryFile source
    [
        T.StructField("path", T.StringType(), False),
        T.StructField("modificationTime", T.TimestampType(), False),
        T.StructField("length", T.LongType(), False),
        T.StructField("content", T.BinaryType()),
    ]
)
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
        T.StructField("silver_s", T.DoubleType()),  # read, validate and match: silver's rows computed
        T.StructField("standings_s", T.DoubleType()),  # carry and publish the standings
        T.StructField("standings_at", T.TimestampType()),  # the standings published (then bronze and silver written)
    ]
)


class StreamError(RuntimeError):
    """The race stream cannot start (missing inputs) or failed."""


def failure_reason(error: object) -> str:
    """A query's failure in one line: Spark's first line and, when a micro-batch's Python code raised, the Python
    exception's own line (Spark's first line ends in "Traceback (most recent call last):" then)."""
    head = str(error).split("=== Streaming Query ===")[0]
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    first = lines[0]
    if "Traceback (most recent call last)" not in first:
        return first
    first = first.split(" Return Message:")[0]
    raised = [line for line in lines[1:] if not line.startswith(("File ", "SQLSTATE", "^", "~")) and ": " in line]
    return f"{first} {raised[-1]}" if raised else first


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
    """How much each micro-batch takes: landing files."""

    files_per_trigger: int = MAX_FILES_PER_TRIGGER


@dataclass
class StreamHooks:
    """Test seams, called inside a micro-batch once its standings are published and its rows are in silver: with
    (batch id, rows written) (fault injection), and with (batch id, the standings state)."""

    after_silver_write: Callable[[int, int], None] | None = None
    after_standings: Callable[[int, LiveStandings], None] | None = None


@dataclass(frozen=True)
class BatchCounts:
    """What one micro-batch did with its lines, for the run's summary: read (good and rejected), quarantined
    (rejected lines and files Spark cannot read), dropped as late, and new rows written to silver."""

    lines: int = 0
    quarantined: int = 0
    late: int = 0
    silver_rows: int = 0

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(self.lines + other.lines, self.quarantined + other.quarantined, self.late + other.late,
                           self.silver_rows + other.silver_rows)  # fmt: skip


class StreamLog(StreamingQueryListener):
    """Progress of the race stream as Spark reports it (rows, durations), and what each micro-batch did with its
    lines (told by the micro-batch itself when it ends: a batch replayed after a crash counts once)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.batches: dict[int, BatchCounts] = {}  # micro-batch id -> its counts
        self.ended: set[str] = set()  # ids of the queries whose end the listener has heard

    def onQueryStarted(self, event: Any) -> None:
        """Nothing to keep at start."""

    def onQueryProgress(self, event: Any) -> None:
        """Keep the numbers of each micro-batch."""
        p = event.progress
        self.events.append(
            {
                "query": p.name,
                "batch_id": p.batchId,
                "input_rows": p.numInputRows,
                "duration_ms": p.durationMs.get("triggerExecution"),
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

    def note_batch(self, batch_id: int, counts: BatchCounts) -> None:
        """Micro-batch `batch_id` ended with `counts`."""
        self.batches[batch_id] = counts

    def totals(self) -> BatchCounts:
        """Every micro-batch's counts added up."""
        return sum(self.batches.values(), BatchCounts())

    def dropped_late(self) -> int:
        """Points the stream dropped as later than the watermark."""
        return self.totals().late


def checkpoint_uri(settings: Settings, query: str) -> str:
    """Where a query keeps its checkpoint."""
    return f"{spark_uri(settings.tables_root).rstrip('/')}/{CHECKPOINTS_PREFIX}/{query}"


def kept_beside(store: Any, checkpoint: str, name: str) -> str | None:
    """The text of `<checkpoint>.<name>`, kept beside a checkpoint; None when either is missing (a fresh
    checkpoint starts afresh whatever an old one left beside it)."""
    key = f"{CHECKPOINTS_PREFIX}/{checkpoint}.{name}"
    if store.exists(key) and store.list_keys(f"{CHECKPOINTS_PREFIX}/{checkpoint}/"):
        return str(store.read_bytes(key).decode().strip())
    return None


def application_id(settings: Settings, query: str) -> str:
    """The query's idempotent-write id, created beside its checkpoint on first use."""
    store = open_store(settings.tables_root, settings.s3)
    kept = kept_beside(store, query, "app_id")
    if kept is not None:
        return kept
    app_id = f"{query}:{uuid.uuid4().hex[:12]}"
    store.write_bytes(f"{CHECKPOINTS_PREFIX}/{query}.app_id", app_id.encode())
    return app_id


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
    points: pa.Table,
    batch: list[BatchStage],
    pending: DataFrame,
    base: int | None = None,
    silver_held: bool = True,
) -> None:
    """Carry the live standings of the stages in `batch` forward by a micro-batch's matched `points`
    (`standings_state.batch_points`) and publish them, before its rows (`pending`, silver's columns) are appended
    to silver; `base`: silver's version now, when the Delta log shows it; `silver_held`: silver exists (the
    first micro-batch's append creates it)."""
    tables = Tables(settings)
    names = (silver_stages.STAGES, silver_stages.CHECKPOINTS, silver_stages.START_TIMES)
    refs = [tables.ref("silver", name) for name in names]
    # Their versions from a listing of each log (by path; by name that would cost a query each: not asked).
    versions = None if settings.catalog else tuple(current_version(spark, r) for r in refs)
    reference = Reference(*(read_table(spark, r) for r in refs), versions=versions)
    silver = read_table(spark, tables.ref("silver", silver_telemetry.NAME)) if silver_held else None

    def silver_points(b: BatchStage) -> int:  # one partition's rows
        return 0 if silver is None else silver.where(F.col("stage_date") == F.lit(b.stage_date)).count()

    def with_pending(dates: list[Any]) -> DataFrame:  # silver's points of those days and the micro-batch's
        mine = pending.where(F.col("stage_date").isin(dates)).select(*STANDINGS_INPUT)
        return mine if silver is None else stage_points(spark, settings, dates).unionByName(mine)

    state.carry(reference, batch, points, silver_points, with_pending, base)
    publish_standings(spark, settings, state.standings(spark, reference, [b.stage for b in batch]))


@dataclass
class EventClock:
    """The newest event time the stream has seen (epoch microseconds), kept beside its checkpoint: a point older
    than it minus `race.watermark_minutes`, when its micro-batch began, is dropped as late.

    Written after each micro-batch that saw a newer point. A crash before the write leaves it behind, so a
    replayed batch drops no more than the first attempt did (maybe fewer: late points are then kept, and
    deduplication against silver does not depend on it). A fresh checkpoint starts a fresh clock."""

    store: Any
    key: str
    newest_us: int | None = None

    @classmethod
    def open(cls, settings: Settings, checkpoint: str) -> EventClock:
        """The clock of `checkpoint` (none yet: no point seen)."""
        store = open_store(settings.tables_root, settings.s3)
        kept = kept_beside(store, checkpoint, "newest_event_us")
        return cls(store, f"{CHECKPOINTS_PREFIX}/{checkpoint}.newest_event_us", None if kept is None else int(kept))

    def late_before(self, delay_us: int) -> int | None:
        """Points older than this (epoch microseconds) are late; None: none is."""
        return None if self.newest_us is None else self.newest_us - delay_us

    def advance(self, seen_us: int | None) -> None:
        """Note the newest point of a micro-batch."""
        if seen_us is not None and (self.newest_us is None or seen_us > self.newest_us):
            self.newest_us = seen_us
            self.store.write_bytes(self.key, str(seen_us).encode())


@dataclass(frozen=True)
class BatchSummary:
    """One micro-batch's landed lines counted in one pass: the good ones per stage date, the rejected."""

    rejected: int
    good: int
    late: int
    dates: list[Any]  # stage dates with points on time
    first_us: int | None  # the oldest point on time
    newest_us: int | None  # the newest good point, late or not
    files: list[str]  # the landing files of the micro-batch

    @classmethod
    def of(cls, checked: DataFrame, late_before_us: int | None) -> BatchSummary:
        """Count `validate_telemetry`'s rows; a good point older than `late_before_us` is late."""
        good = F.col("_reject_reason").isNull()
        us = F.unix_micros("ts")
        late = good & (us < F.lit(late_before_us)) if late_before_us is not None else F.lit(False)
        rows = (
            checked.groupBy(good.alias("good"), race_bronze.STAGE_DATE)
            .agg(
                F.count(F.lit(1)).alias("rows"),
                F.count_if(late).alias("late"),
                F.min(F.when(good & ~late, us)).alias("first_us"),
                F.max(F.when(good, us)).alias("newest_us"),
                F.collect_set("_source_file").alias("files"),
            )
            .collect()
        )
        kept = [r for r in rows if r["good"]]
        on_time = [r for r in kept if r["rows"] > r["late"]]
        return cls(
            rejected=sum(r["rows"] for r in rows if not r["good"]),
            good=sum(r["rows"] for r in kept),
            late=sum(r["late"] for r in kept),
            dates=sorted(r[race_bronze.STAGE_DATE] for r in on_time if r[race_bronze.STAGE_DATE] is not None),
            first_us=min((r["first_us"] for r in on_time if r["first_us"] is not None), default=None),
            newest_us=max((r["newest_us"] for r in kept if r["newest_us"] is not None), default=None),
            files=sorted({f for r in rows for f in r["files"]}),
        )


def new_points(points: DataFrame, silver: DataFrame | None, summary: BatchSummary) -> DataFrame:
    """A micro-batch's points on time -> one per rider and second (the first landed copy, as batch picks it),
    without those silver already holds (looked up in the batch's days and time span only)."""
    fresh = silver_telemetry.first_landed(points)
    if silver is None or summary.first_us is None or summary.newest_us is None:
        return fresh
    keys = ["stage_date", *silver_telemetry.DEDUP_KEYS]
    span = F.col("ts").between(
        F.timestamp_micros(F.lit(summary.first_us)), F.timestamp_micros(F.lit(summary.newest_us))
    )
    held = silver.where(F.col("stage_date").isin(summary.dates) & span).select(*keys)
    return fresh.join(held, on=keys, how="left_anti")


INTERPRETED_MAX_BYTES = 2_000_000  # a micro-batch's landed bytes up to which its queries run without generated code


def interpreted_is_cheaper(landed_bytes: int) -> bool:
    """Whether a micro-batch of `landed_bytes` of telemetry CSV runs faster without generated code. At real time a
    micro-batch is 100-200 KB (one or two thousand points): a third faster without it; at 60x about 7 MB (100,000
    points): slower without it (median latency 45 -> 59 s, one run each). The threshold between is a judgement,
    not a measured crossing point."""
    return landed_bytes <= INTERPRETED_MAX_BYTES


def _live_batch(
    spark: SparkSession, settings: Settings, app_id: str, clock: EventClock, hooks: StreamHooks, log: StreamLog | None
) -> Callable[[DataFrame, int], None]:
    # A small micro-batch's own queries (not the query listing the files) on a clone of the session that evaluates
    # expressions without generating code: with a few thousand rows, generating and compiling code for each of its
    # queries and tasks cost more than evaluating them (see `interpreted_session`); a large one's on `spark`.
    interpreted = interpreted_session(spark)
    tables = Tables(settings)
    bronze_ref = tables.ref("bronze", race_bronze.TELEMETRY_TABLE)
    quarantine = tables.ref("bronze", "quarantine")
    target = tables.ref("silver", silver_telemetry.NAME)
    batch_log = tables.ref(*BATCH_LOG)
    standings = tables.ref("gold", gold_standings.NAME)
    # Each micro-batch adds a small file to these tables: auto compaction (turned on once each exists)
    # keeps their reads fast.
    not_compacting = [target, batch_log, standings]
    state = LiveStandings()  # the standings state, carried from micro-batch to micro-batch
    delay_us = round(settings.race.watermark_minutes * 60 * 1_000_000)
    silver_exists = False  # known once true (silver is created by the first append and not dropped by a stream)

    def compact_small_files() -> None:
        for ref in [r for r in not_compacting if table_exists(spark, r)]:
            ensure_auto_compact(spark, ref)
            not_compacting.remove(ref)

    def to_bronze(
        session: SparkSession,
        files: race_bronze.TelemetryFiles,
        good: DataFrame,
        batch_id: int,
        summary: BatchSummary,
        run: tuple[str, Any],
    ) -> None:
        """Append the batch's good lines (`good`: bronze's rows) to bronze, its rejected ones and files Spark cannot
        read to the quarantine; `run`: the run id and ingestion time the rows carry."""
        run_id, ingested_at = run
        if summary.good:
            append(good, bronze_ref, partition_by=(race_bronze.STAGE_DATE,), txn=(f"bronze:{app_id}", batch_id))
        crash_point("stream.after_bronze_write")
        quarantined = race_bronze.quarantined_rows(
            session, files, summary.rejected > 0, F.lit(batch_id), run_id, ingested_at
        )
        if quarantined is not None:  # most batches have none: no empty commit on the shared table
            append(
                quarantined,
                quarantine,
                partition_by=(PARTITION_COLUMN,),
                txn=(f"quarantine:{app_id}", batch_id),
            )

    def write(names: DataFrame, batch_id: int) -> None:
        nonlocal silver_exists
        started = datetime.now(UTC)
        clock_s = time.monotonic()
        listed = names.collect()
        keys = sorted(r["key"] for r in listed)
        if not keys:
            return
        session = interpreted if interpreted_is_cheaper(sum(r["length"] for r in listed)) else spark
        files = race_bronze.read_telemetry_files(session, settings, keys)
        raw = files.rows.persist()
        rows: DataFrame | None = None
        try:
            late_before = clock.late_before(delay_us)
            checked = race_bronze.validate_telemetry(raw)
            summary = BatchSummary.of(checked, late_before)
            run_id, ingested_at = f"stream:{app_id}", F.lit(datetime.now(UTC).replace(microsecond=0))
            good = race_bronze.bronze_telemetry_rows(checked, F.lit(batch_id), run_id, ingested_at)
            points = good.select(*silver_telemetry.POINT_COLUMNS, "_batch_id")
            if late_before is not None:
                points = points.where(F.unix_micros("ts") >= F.lit(late_before))
            # Only the grid cells of the stages in this batch are broadcast (the Tour has ~1M cells).
            stages = read_table(session, tables.ref("silver", silver_stages.STAGES)).where(
                F.col("stage_date").isin(summary.dates)
            )
            day_stages = (
                [(int(r[0]), r[1]) for r in stages.select("stage", "stage_date").collect()] if summary.dates else []
            )
            cells = read_table(session, tables.ref("silver", "race_route_cells")).where(
                F.col("stage").isin([s for s, _ in day_stages])
            )
            silver_exists = silver_exists or table_exists(session, target)
            silver = read_table(session, target) if silver_exists else None
            rows = silver_telemetry.conform(new_points(points, silver, summary), stages, cells).persist()
            per_stage = batch_stages(rows).collect() if day_stages else []
            written = sum(int(r["points"]) for r in per_stage)
            new = batch_points(rows) if day_stages else None
            silver_s = time.monotonic() - clock_s
            # The standings first (the latency a live race is watched by), then bronze and silver: a crash in
            # between replays the micro-batch, which finds the same rows (silver does not hold them yet) and
            # rebuilds the same standings from silver and them.
            clock_s = time.monotonic()
            batch = [BatchStage(int(r["stage"]), r["stage_date"], int(r["points"]), r["newest_us"]) for r in per_stage]
            # A stage of the batch with no state yet and nothing new (a batch replayed after its silver write, or
            # points silver already had): its standings are built from silver all the same.
            batch += [BatchStage(s, d, 0, None) for s, d in day_stages
                      if s not in state.stages and s not in {b.stage for b in batch}]  # fmt: skip
            # Silver's version now, which does not hold the rows yet (from the log of a table by path; by name it
            # would cost a query: the standings' count is asked instead). A commit of another writer before it is
            # seen here, one after it when the append is not the version right after it (the next batch counts).
            base = current_version(session, target) if silver_exists and not target.catalog_name else None
            if batch and new is not None:
                carry_standings(session, settings, state, new, batch, rows, base, silver_exists)
            standings_s, standings_at = time.monotonic() - clock_s, datetime.now(UTC)
            crash_point("stream.after_standings")

            def to_silver(new_rows: DataFrame) -> int | None:
                """Append the new rows to silver; the silver version the standings state then matches."""
                if not written:
                    return base
                txn = (f"silver:{app_id}", batch_id)
                append(new_rows, target, partition_by=silver_telemetry.PARTITION_BY, txn=txn)
                # This append is the version right after `base` (not one skipped as written before, nor another
                # writer's): nothing else was committed in between. One commit file read, no listing of the log.
                own = base is not None and commit_transaction(session, target, base + 1) == txn
                return base + 1 if own else None

            # Bronze (and the quarantine) and silver side by side: different tables, each append idempotent on
            # its own, and both mostly driver work (planning, Delta's commit), so one waits less for the other.
            _, matched = run_concurrently(
                session,
                [
                    lambda: to_bronze(session, files, good, batch_id, summary, (run_id, ingested_at)),
                    lambda: to_silver(rows),
                ],
                threads=2,
            )
            silver_exists = silver_exists or bool(written)
            state.appended([b.stage for b in batch], matched)
            crash_point("stream.after_silver_write")
            if hooks.after_silver_write:
                hooks.after_silver_write(batch_id, written)
            if hooks.after_standings:
                hooks.after_standings(batch_id, state)
        finally:
            if rows is not None:
                rows.unpersist()
            raw.unpersist()
        append(
            session.createDataFrame(
                [
                    (
                        LIVE_QUERY, batch_id, summary.good, written,
                        sorted({s for s, _ in day_stages}), summary.files,
                        started, datetime.now(UTC), round(silver_s, 3), round(standings_s, 3), standings_at,
                    )
                ],
                BATCH_LOG_SCHEMA,
            ),
            batch_log,
            txn=(f"log:{app_id}", batch_id),
            merge_schema=True,  # a log made before `standings_at` gains the column
        )  # fmt: skip
        crash_point("stream.after_batch_log")
        if log is not None:
            quarantined = summary.rejected + len(files.unreadable)
            log.note_batch(batch_id, BatchCounts(summary.good + summary.rejected, quarantined, summary.late, written))
        clock.advance(summary.newest_us)
        if not_compacting:
            compact_small_files()

    return write


def start_stream(
    spark: SparkSession,
    settings: Settings,
    trigger: Trigger,
    hooks: StreamHooks | None = None,
    options: StreamOptions = StreamOptions(),
    log: StreamLog | None = None,
) -> StreamingQuery:
    """Landing telemetry files -> bronze (and quarantine) -> silver -> live standings, as files arrive."""
    tables = Tables(settings)
    for name in (silver_stages.STAGES, "race_route_cells"):
        if not table_exists(spark, tables.ref("silver", name)):
            raise StreamError(
                f"silver.{name} is missing: the stream matches points to stage routes, and none is loaded. Land a "
                f"race's route files under {settings.landing_root}/{STAGES_PREFIX}stage=NN/ (and its riders under "
                f"{ATHLETES_PREFIX}), or `python -m jobs.race --step land` for a generated Tour; the batch "
                "reference step loads them when the stream starts"
            )
    target, _, _ = race_bronze.ensure_telemetry_tables(spark, settings)
    ensure_auto_compact(spark, target)
    source = literal_uri(f"{spark_uri(settings.landing_root).rstrip('/')}/{TELEMETRY_PREFIX}")
    open_store(settings.landing_root, settings.s3).write_bytes(f"{TELEMETRY_PREFIX}.keep", b"")
    # The files' names only (their content is not read: not selected); each micro-batch reads its files itself.
    files = (
        spark.readStream.format("binaryFile")
        .schema(FILE_LIST_SCHEMA)
        .option("recursiveFileLookup", True)
        .option("pathGlobFilter", "*.[cC][sS][vV]")  # as batch: `.csv` in any case
        .option("maxFilesPerTrigger", options.files_per_trigger)
        .load(source)
        .select(race_bronze.landing_key(F.col("path")).alias("key"), "length")
    )
    app_id = application_id(settings, CHECKPOINT)  # before the clock: a fresh checkpoint gets a fresh id
    batch = _live_batch(spark, settings, app_id, EventClock.open(settings, CHECKPOINT), hooks or StreamHooks(), log)
    writer = (
        files.writeStream.queryName(LIVE_QUERY)
        .foreachBatch(batch)
        .option("checkpointLocation", checkpoint_uri(settings, CHECKPOINT))
    )
    return trigger.apply(writer).start()


def run_available_now(
    spark: SparkSession,
    settings: Settings,
    hooks: StreamHooks | None = None,
    log: StreamLog | None = None,
    options: StreamOptions = StreamOptions(),
) -> StreamLog:
    """Catch up: every landed file not taken yet, micro-batch by micro-batch; then the query stops by itself."""
    log = log or StreamLog()
    spark.streams.addListener(log)
    try:
        query = start_stream(spark, settings, Trigger(), hooks, options, log)
        try:
            query.awaitTermination()
        except StreamingQueryException as error:
            raise StreamError(failure_reason(error)) from error
        log.wait_for_end([query])
        if query.exception() is not None:
            raise StreamError(failure_reason(query.exception()))
    finally:
        spark.streams.removeListener(log)
    return log


def start_live(
    spark: SparkSession,
    settings: Settings,
    seconds: float | None = None,
    hooks: StreamHooks | None = None,
    options: StreamOptions = StreamOptions(),
    log: StreamLog | None = None,
) -> StreamingQuery:
    """The stream on a processing-time trigger (every `seconds`, default `race.trigger_seconds`)."""
    trigger = Trigger(available_now=False, seconds=seconds or settings.race.trigger_seconds)
    return start_stream(spark, settings, trigger, hooks, options, log)


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
