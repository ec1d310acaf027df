"""COPY INTO semantics on open-source Delta: load each landing file once, exactly once, even across crashes.

Grain of a bronze table: one row per record of a landing file per load (a forced or changed-file reload
adds rows; silver keeps the latest). Keys: (`_source_file`, `_file_hash`, `_record_index`).

How one load goes:
1. List the entity's landing folder (path, size, modification time only; contents are not read).
2. Candidates are the files the ledger (`ops.bronze_load_ledger`) has no committed entry for with the same
   size and time; `force=True` makes every file a candidate.
3. Candidates are read and parsed in Spark (one UDF call per file, once per load: the result is cached for
   the plan and the writes) and hashed (SHA-256). A known path with a
   new hash is reloaded with a warning; a known hash under a new timestamp is only re-recorded.
4. The plan (batch id, files, hashes, counts) is committed to the ledger first. Then the records are appended
   to the bronze table and the rejects to `bronze.quarantine`, each with Delta's idempotent write options
   (`txnAppId` = the table, `txnVersion` = the batch id). Last, the ledger marks the batch committed.
5. A load that died after step 4 began is found by its uncommitted plan and resumed with the same files, the
   same batch id and the same ingestion time: a data write that had already committed is skipped by Delta,
   one that had not is done now. Either way the end state equals an uninterrupted load.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.bronze.entities import BronzeEntity
from lakehouse.bronze.parse import EntityFormat, parse_for_spark
from lakehouse.config import Settings
from lakehouse.faults import crash_point
from lakehouse.storage import ObjectStore, literal_uri, open_store, spark_can_read, spark_uri
from lakehouse.tables import (
    TableRef,
    Tables,
    append,
    append_rows,
    create_if_missing,
    read_table,
    table_exists,
)

LEDGER_TABLE = ("ops", "bronze_load_ledger")
QUARANTINE_TABLE = ("bronze", "quarantine")
PARTITION_COLUMN = "_ingest_date"

PARSED_TYPE = T.StructType(
    [
        T.StructField(
            "records",
            T.ArrayType(T.StructType([T.StructField("idx", T.IntegerType()), T.StructField("record", T.StringType())])),
        ),
        T.StructField(
            "rejects",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("idx", T.IntegerType()),
                        T.StructField("raw", T.StringType()),
                        T.StructField("reason", T.StringType()),
                    ]
                )
            ),
        ),
        T.StructField("notes", T.ArrayType(T.StringType())),
    ]
)

PARSED_FILE_SCHEMA = T.StructType(
    [
        T.StructField("file_path", T.StringType()),
        T.StructField("file_hash", T.StringType()),
        T.StructField("parsed", PARSED_TYPE),
    ]
)

LEDGER_SCHEMA = T.StructType(
    [
        T.StructField("table_name", T.StringType(), False),
        T.StructField("batch_id", T.LongType(), False),
        T.StructField("status", T.StringType(), False),  # planned | committed
        T.StructField("file_path", T.StringType(), False),  # relative to the landing root
        T.StructField("file_size", T.LongType()),
        T.StructField("file_mtime", T.TimestampType()),
        T.StructField("file_hash", T.StringType()),
        T.StructField("action", T.StringType()),  # new | changed | forced | unchanged
        T.StructField("records_loaded", T.LongType()),
        T.StructField("records_quarantined", T.LongType()),
        T.StructField("notes", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("ingested_at", T.TimestampType()),
        T.StructField("recorded_at", T.TimestampType()),
    ]
)

BRONZE_SCHEMA = T.StructType(
    [
        T.StructField("record", T.StringType(), False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_file_hash", T.StringType(), False),
        T.StructField("_record_index", T.IntegerType(), False),
        T.StructField("_batch_id", T.LongType(), False),
        T.StructField("_run_id", T.StringType()),
        T.StructField("_ingested_at", T.TimestampType(), False),
        T.StructField(PARTITION_COLUMN, T.DateType(), False),
    ]
)

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("_table", T.StringType(), False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_file_hash", T.StringType()),
        T.StructField("_record_index", T.IntegerType()),
        T.StructField("raw", T.StringType()),
        T.StructField("reason", T.StringType(), False),
        T.StructField("_batch_id", T.LongType(), False),
        T.StructField("_run_id", T.StringType()),
        T.StructField("_ingested_at", T.TimestampType(), False),
        T.StructField(PARTITION_COLUMN, T.DateType(), False),
    ]
)


class ConcurrentLoadError(RuntimeError):
    """Another load of the same bronze table planned the same batch first."""


@dataclass
class LoadHooks:
    """Test seams: called between the steps of a load (fault injection)."""

    after_bronze_write: Callable[[], None] | None = None
    after_quarantine_write: Callable[[], None] | None = None


@dataclass
class BronzeLoadResult:
    """What one bronze load did, for the run summary."""

    table: str
    files_seen: int = 0
    files_loaded: int = 0
    files_changed: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    batch_id: int | None = None
    resumed: bool = False
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class _FilePlan:
    path: str  # relative to the landing root
    size: int
    mtime: datetime
    file_hash: str
    action: str
    records_loaded: int
    records_quarantined: int
    notes: str


def _landing_base(settings: Settings) -> str:
    return spark_uri(settings.landing_root).rstrip("/")


def _mtime_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; Spark hands timestamps back naive in local time, which .timestamp() reads."""
    return round(moment.timestamp() * 1000)


def _base_marker(settings: Settings) -> str:
    base = _landing_base(settings)
    for scheme in ("file://", "s3a://", "s3://", "dbfs:"):
        if base.startswith(scheme):
            base = base[len(scheme) :]
            break
    return base.rstrip("/") + "/"


def list_landing_files(settings: Settings, entity: BronzeEntity) -> list[dict[str, Any]]:
    """Every data file of the entity (path relative to the landing root, size, mtime); contents unread.

    Listed through the object store rather than Spark, because Spark's file sources skip empty files and
    an empty file must be quarantined, not ignored. Hidden files (`.x`, `_x`) are not data. The entity's file
    glob matches in any case (`RIDE.JSON` is a `*.json`).
    """
    store = open_store(settings.landing_root, settings.s3)
    files = []
    for info in store.list_files(entity.landing_prefix):
        name = info.key.rsplit("/", 1)[-1]
        if name.startswith((".", "_")) or not fnmatch.fnmatchcase(name.lower(), entity.file_glob.lower()):
            continue
        files.append(
            {
                "path": info.key,
                "uri": f"{_landing_base(settings)}/{info.key}",
                "size": info.size,
                "mtime": info.mtime,
            }
        )
    return files


def ensure_shared_tables(spark: SparkSession, tables: Tables) -> tuple[TableRef, TableRef]:
    """The load ledger and the bronze quarantine every entity shares, created when missing."""
    ledger = tables.ref(*LEDGER_TABLE)
    quarantine = tables.ref(*QUARANTINE_TABLE)
    create_if_missing(spark, ledger, spark.createDataFrame([], LEDGER_SCHEMA))
    create_if_missing(spark, quarantine, spark.createDataFrame([], QUARANTINE_SCHEMA), (PARTITION_COLUMN,))
    return ledger, quarantine


def _ensure_tables(
    spark: SparkSession, tables: Tables, target: TableRef, shared_exist: bool = False
) -> tuple[TableRef, TableRef]:
    if shared_exist:
        ledger, quarantine = tables.ref(*LEDGER_TABLE), tables.ref(*QUARANTINE_TABLE)
    else:
        ledger, quarantine = ensure_shared_tables(spark, tables)
    create_if_missing(spark, target, spark.createDataFrame([], BRONZE_SCHEMA), (PARTITION_COLUMN,))
    return ledger, quarantine


LedgerRows = Mapping[str, Sequence[Row]]


def read_ledger(spark: SparkSession, tables: Tables) -> LedgerRows:
    """Every row of the load ledger, by table (one read for a whole bronze stage: each entity's load only adds
    rows of its own table, which no other entity reads). The ledger is small: a few rows per landed file."""
    by_table: dict[str, list[Row]] = {}
    for row in read_table(spark, ensure_shared_tables(spark, tables)[0]).collect():
        by_table.setdefault(row["table_name"], []).append(row)
    return by_table


def _ledger_state(
    spark: SparkSession, ledger: TableRef, table: str, snapshot: LedgerRows | None = None
) -> tuple[dict[str, Any], list[Any], int]:
    """(latest committed row per file, rows of an uncommitted plan, highest batch id) for one table, from
    `snapshot` (see `read_ledger`) or a read of the ledger."""
    if snapshot is not None:
        rows = list(snapshot.get(table, ()))
    else:
        rows = read_table(spark, ledger).where(F.col("table_name") == table).collect()
    committed_batches = {r["batch_id"] for r in rows if r["status"] == "committed"}
    latest: dict[str, Any] = {}
    for row in sorted((r for r in rows if r["status"] == "committed"), key=lambda r: r["batch_id"]):
        latest[row["file_path"]] = row
    pending = [r for r in rows if r["status"] == "planned" and r["batch_id"] not in committed_batches]
    max_batch = max((r["batch_id"] for r in rows), default=0)
    return latest, pending, max_batch


def _parse_files(
    spark: SparkSession, files: list[dict[str, Any]], fmt: EntityFormat, marker: str, store: ObjectStore
) -> DataFrame:
    """One row per file: relative path, SHA-256 of the bytes, and the parse outcome.

    Files are read and parsed by Spark; empty ones (which Spark's readers skip) and ones whose names Spark cannot
    read (`storage.spark_can_read`) are parsed here.
    """
    parse = F.udf(partial(parse_for_spark, fmt=fmt), PARSED_TYPE, useArrow=False)  # pickled rows, as always
    relative = F.expr(f"substr(path, instr(path, '{marker}') + {len(marker)})")

    def parsed_here(f: dict[str, Any]) -> tuple[str, str, Any]:
        data = store.read_bytes(f["path"]) if f["size"] > 0 else b""
        return f["path"], hashlib.sha256(data).hexdigest(), parse_for_spark(data, fmt)

    def by_spark(f: dict[str, Any]) -> bool:
        return f["size"] > 0 and spark_can_read(f["path"])

    here = spark.createDataFrame([parsed_here(f) for f in files if not by_spark(f)], PARSED_FILE_SCHEMA)
    uris = [literal_uri(f["uri"]) for f in files if by_spark(f)]
    if not uris:
        return here
    read = (
        spark.read.format("binaryFile")
        .load(uris)
        .select(
            relative.alias("file_path"),
            F.sha2(F.col("content"), 256).alias("file_hash"),
            parse(F.col("content")).alias("parsed"),
        )
    )
    return read.unionByName(here)


def _write_ledger_plan(spark: SparkSession, ledger: TableRef, rows: list[dict[str, Any]], run_id: str) -> None:
    """Append the plan unless that batch id was planned already; fail if another run owns it.

    One blind append per plan, idempotent per table and batch: Delta's `txnAppId` is `plan:<table>` and its
    `txnVersion` the batch id, so the plan of a batch that is in the ledger already is skipped, and of two
    processes planning the same batch at once one commits and the other is refused
    (ConcurrentTransactionException), redone, and then skipped. Either way the plan in the ledger names the run
    that owns the batch. (A blind append costs one small job and commit; a MERGE read the ledger first.)
    """
    table, batch = rows[0]["table_name"], rows[0]["batch_id"]
    # Another table's plan or commit (a second process) may land in the shared ledger meanwhile: blind appends
    # do not conflict; the refused commit of a same-batch race is redone by `append` and then skipped.
    append_rows(spark, rows, LEDGER_SCHEMA, ledger, txn=(f"plan:{table}", batch))
    planned = (
        read_table(spark, ledger)
        .where((F.col("table_name") == table) & (F.col("batch_id") == batch) & (F.col("status") == "planned"))
        .select("run_id")
        .collect()
    )
    owners = sorted({r["run_id"] for r in planned})  # a plan is a few rows: de-duplicated here, not by a shuffle
    if not owners:
        # Skipped as planned already, yet no plan row: rows were deleted from the ledger by hand.
        raise ConcurrentLoadError(
            f"bronze.{table}: the ledger's Delta log records batch {batch} as planned, but the ledger holds no plan "
            f"row for it (deleted by hand?); restore it (RESTORE TABLE ops.bronze_load_ledger TO VERSION AS OF ...)"
        )
    if owners != [run_id]:
        raise ConcurrentLoadError(f"bronze.{table}: batch {batch} was planned by another run; retry the load")


def _plan_rows(
    table: str, batch_id: int, status: str, plans: list[_FilePlan], run_id: str, ingested_at: datetime
) -> list[dict[str, Any]]:
    recorded_at = datetime.now(UTC)
    return [
        {
            "table_name": table,
            "batch_id": batch_id,
            "status": status,
            "file_path": p.path,
            "file_size": p.size,
            "file_mtime": p.mtime,
            "file_hash": p.file_hash,
            "action": p.action,
            "records_loaded": p.records_loaded,
            "records_quarantined": p.records_quarantined,
            "notes": p.notes,
            "run_id": run_id,
            "ingested_at": ingested_at,
            "recorded_at": recorded_at,
        }
        for p in plans
    ]


def _decide(
    files: list[dict[str, Any]], summary: dict[str, Any], latest: dict[str, Any], force: bool
) -> tuple[list[_FilePlan], list[str]]:
    """For each candidate file: load it (new, changed, forced) or only re-record it (same bytes)."""
    plans: list[_FilePlan] = []
    warnings: list[str] = []
    for f in files:
        info = summary[f["path"]]
        previous = latest.get(f["path"])
        if force:
            action = "forced"
        elif previous is None:
            action = "new"
        elif previous["file_hash"] != info["file_hash"]:
            action = "changed"
            warnings.append(
                f"{f['path']}: content changed since batch {previous['batch_id']} "
                f"(sha256 {previous['file_hash'][:12]} -> {info['file_hash'][:12]}); reloading it"
            )
        else:
            action = "unchanged"
        loads = action != "unchanged"
        plans.append(
            _FilePlan(
                path=f["path"],
                size=f["size"],
                mtime=f["mtime"],
                file_hash=info["file_hash"],
                action=action,
                records_loaded=info["records"] if loads else 0,
                records_quarantined=info["rejects"] if loads else 0,
                notes="; ".join(info["notes"]),
            )
        )
    return plans, warnings


def bronze_rows(parsed: DataFrame, table: str, batch_id: int, run_id: str, ingested_at: datetime) -> DataFrame:
    """Good records as bronze rows: the raw record plus its file, hash, index and ingestion metadata."""
    del table  # every bronze table has the same shape
    return parsed.select("file_path", "file_hash", F.explode("parsed.records").alias("r")).select(
        F.col("r.record").alias("record"),
        F.col("file_path").alias("_source_file"),
        F.col("file_hash").alias("_file_hash"),
        F.col("r.idx").alias("_record_index"),
        F.lit(batch_id).cast("long").alias("_batch_id"),
        F.lit(run_id).alias("_run_id"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.to_date(F.lit(ingested_at).cast("timestamp")).alias(PARTITION_COLUMN),
    )


def quarantine_rows(parsed: DataFrame, table: str, batch_id: int, run_id: str, ingested_at: datetime) -> DataFrame:
    """Rejected records and unreadable files, each with its reason."""
    return parsed.select("file_path", "file_hash", F.explode("parsed.rejects").alias("q")).select(
        F.lit(table).alias("_table"),
        F.col("file_path").alias("_source_file"),
        F.col("file_hash").alias("_file_hash"),
        F.col("q.idx").alias("_record_index"),
        F.col("q.raw").alias("raw"),
        F.col("q.reason").alias("reason"),
        F.lit(batch_id).cast("long").alias("_batch_id"),
        F.lit(run_id).alias("_run_id"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.to_date(F.lit(ingested_at).cast("timestamp")).alias(PARTITION_COLUMN),
    )


def load_entity(
    spark: SparkSession,
    settings: Settings,
    entity: BronzeEntity,
    *,
    run_id: str,
    force: bool = False,
    hooks: LoadHooks | None = None,
    ledger_rows: LedgerRows | None = None,
) -> BronzeLoadResult:
    """Load the entity's new and changed landing files into its bronze table, exactly once.

    `ledger_rows`: the ledger as a stage read it before its first load (`read_ledger`), instead of a read per
    entity. A concurrent process loading the same entity is still caught: its plan owns the batch id."""
    started = time.monotonic()
    hooks = hooks or LoadHooks()
    tables = Tables(settings)
    result = BronzeLoadResult(table=entity.table)
    target = tables.ref("bronze", entity.table)
    ledger, quarantine = _ensure_tables(spark, tables, target, shared_exist=ledger_rows is not None)
    fmt = entity.format(settings.schemas_dir)
    marker = _base_marker(settings)
    store = open_store(settings.landing_root, settings.s3)

    files = list_landing_files(settings, entity)
    result.files_seen = len(files)
    latest, pending, max_batch = _ledger_state(spark, ledger, entity.table, ledger_rows)

    # Each file is read, hashed and parsed once per load: the parsed frame is cached and serves the plan
    # (counts per file), the check that nothing changed since the plan, and both writes.
    parsed: DataFrame | None = None
    if pending:
        # Resume the interrupted batch exactly as it was planned.
        batch_id, batch_run_id = pending[0]["batch_id"], pending[0]["run_id"]
        ingested_at = pending[0]["ingested_at"]
        plans = [
            _FilePlan(
                r["file_path"],
                r["file_size"],
                r["file_mtime"],
                r["file_hash"],
                r["action"],
                r["records_loaded"],
                r["records_quarantined"],
                r["notes"],
            )
            for r in pending
        ]
        result.resumed = True
        result.warnings.append(f"resuming batch {batch_id} of run {batch_run_id}, interrupted before it committed")
    else:
        by_path = {f["path"]: f for f in files}
        candidates = [
            f
            for f in files
            if force
            or f["path"] not in latest
            or latest[f["path"]]["file_size"] != f["size"]
            or _mtime_ms(latest[f["path"]]["file_mtime"]) != _mtime_ms(f["mtime"])
        ]
        if not candidates:
            result.seconds = time.monotonic() - started
            return result
        parsed = _parse_files(spark, candidates, fmt, marker, store).persist()
        summary_rows = parsed.select(
            "file_path",
            "file_hash",
            F.size("parsed.records").alias("records"),
            F.size("parsed.rejects").alias("rejects"),
            F.col("parsed.notes").alias("notes"),
        ).collect()
        summary = {r["file_path"]: r.asDict() for r in summary_rows}
        crash_point("bronze.after_parse")
        plans, warnings = _decide([by_path[p] for p in sorted(summary)], summary, latest, force)
        result.warnings.extend(warnings)
        batch_id, batch_run_id = max_batch + 1, run_id
        ingested_at = datetime.now(UTC).replace(microsecond=0)
        try:
            _write_ledger_plan(
                spark, ledger, _plan_rows(entity.table, batch_id, "planned", plans, run_id, ingested_at), run_id
            )
            crash_point("bronze.after_plan")
        except BaseException:
            parsed.unpersist()
            raise

    to_load = [p for p in plans if p.action != "unchanged"]
    try:
        if to_load:
            planned_hash = {p.path: p.file_hash for p in to_load}
            changed_since_plan: list[str] = []
            if parsed is None:  # resuming: read the planned files now; they may have changed since the plan
                load_files = [
                    {"path": p.path, "uri": f"{_landing_base(settings)}/{p.path}", "size": p.size} for p in to_load
                ]
                parsed = _parse_files(spark, load_files, fmt, marker, store).persist()
                changed_since_plan = [
                    r["file_path"]
                    for r in parsed.select("file_path", "file_hash").collect()
                    if planned_hash.get(r["file_path"]) != r["file_hash"]
                ]
                if changed_since_plan:
                    result.warnings.append(
                        "files changed while their batch was pending; they will be reloaded next time: "
                        + ", ".join(changed_since_plan)
                    )
            # The plan's bytes (cached above), without the candidates that turned out unchanged.
            loading = parsed.where(F.col("file_path").isin(list(planned_hash)))
            txn = (f"bronze:{entity.table}", batch_id)
            append(
                bronze_rows(loading, entity.table, batch_id, batch_run_id, ingested_at),
                target,
                partition_by=(PARTITION_COLUMN,),
                txn=txn,
            )
            crash_point("bronze.after_data_write")
            if hooks.after_bronze_write:
                hooks.after_bronze_write()
            # The plan counted the rejects: with none (and the bytes as planned), there is nothing to commit.
            if changed_since_plan or any(p.records_quarantined for p in to_load):
                append(
                    quarantine_rows(loading, entity.table, batch_id, batch_run_id, ingested_at),
                    quarantine,
                    partition_by=(PARTITION_COLUMN,),
                    txn=(f"quarantine:{entity.table}", batch_id),
                )
            crash_point("bronze.after_quarantine_write")
            if hooks.after_quarantine_write:
                hooks.after_quarantine_write()
    finally:
        if parsed is not None:
            parsed.unpersist()

    append_rows(
        spark, _plan_rows(entity.table, batch_id, "committed", plans, batch_run_id, ingested_at), LEDGER_SCHEMA, ledger
    )
    crash_point("bronze.after_ledger")
    result.batch_id = batch_id
    result.files_loaded = len(to_load)
    result.files_changed = sum(1 for p in plans if p.action == "changed")
    result.records_loaded = sum(p.records_loaded for p in to_load)
    result.records_quarantined = sum(p.records_quarantined for p in to_load)
    result.seconds = time.monotonic() - started
    return result


def committed_batches(
    spark: SparkSession, tables: Tables, names: Sequence[str], with_rows: bool = False
) -> dict[str, int]:
    """The highest committed load batch of each bronze table in `names`, from one read of the load ledger
    (cheaper than the tables' own MAX(_batch_id): one small table instead of one log replay and scan each).
    With `with_rows`, only batches that wrote rows count (a batch that only re-recorded unchanged files, or
    whose records were all quarantined, added nothing to the table). A table with no such batch is left out."""
    ledger = tables.ref(*LEDGER_TABLE)
    if not table_exists(spark, ledger):
        return {}
    wanted = F.col("table_name").isin(list(names)) & (F.col("status") == "committed")
    if with_rows:
        wanted = wanted & (F.col("records_loaded") > 0)
    rows = (
        read_table(spark, ledger)
        .where(wanted)
        .groupBy("table_name")
        .agg(F.max("batch_id").alias("batch_id"))
        .collect()
    )
    return {r["table_name"]: int(r["batch_id"]) for r in rows}


def file_notes(spark: SparkSession, settings: Settings, table: str) -> dict[str, str]:
    """The notes recorded per file (BOM removed, unknown fields kept) for the latest committed load."""
    ledger = Tables(settings).ref(*LEDGER_TABLE)
    if not table_exists(spark, ledger):
        return {}
    w = Window.partitionBy("file_path").orderBy(F.col("batch_id").desc())
    rows = (
        read_table(spark, ledger)
        .where((F.col("table_name") == table) & (F.col("status") == "committed"))
        .withColumn("rn", F.row_number().over(w))
        .where("rn = 1")
        .select("file_path", "notes")
        .collect()
    )
    return {r["file_path"]: r["notes"] for r in rows if r["notes"]}


def describe(result: BronzeLoadResult) -> str:
    """One JSON line for logs."""
    return json.dumps(result.__dict__, default=str)
