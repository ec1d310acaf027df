"""Where each Delta table lives, and the few I/O helpers every layer shares.

By default a table is a path: `<tables_root>/<layer>/<name>`. With a `catalog` setting (Databricks Unity
Catalog, or any metastore) tables are addressed by name as `<catalog>.<layer>.<name>` instead. Layers are
`bronze`, `silver`, `gold` and `ops` (ledgers, check results, run state).

Two writers may share a table even while the run lock keeps runs apart (the race stream and a run both write
`bronze.quarantine`; an ingest and a run share ops tables; two processes may create the same table). When
Delta refuses a commit because another writer's commit conflicts with it (`ConcurrentAppendException`,
`MetadataChangedException`, ...), the helpers here redo it (`retry_on_conflict`): a refused commit wrote
nothing, and every write here is safe to redo (appends are blind or idempotent by `txnAppId`, MERGEs and
table changes re-read the table they change).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.storage import spark_uri

LAYERS = ("bronze", "silver", "gold", "ops")
CONFLICT_ATTEMPTS = 6
CONFLICT_BACKOFF_SECONDS = 0.2  # doubled after each refused commit, with jitter so two writers part ways

log = logging.getLogger(__name__)
Result = TypeVar("Result")


def commit_conflicts() -> tuple[type[Exception], ...]:
    """Delta's commit-conflict exceptions, as the Python client raises them."""
    from delta import exceptions as delta_exceptions

    return (
        delta_exceptions.DeltaConcurrentModificationException,
        delta_exceptions.ConcurrentWriteException,
        delta_exceptions.MetadataChangedException,
        delta_exceptions.ProtocolChangedException,
        delta_exceptions.ConcurrentAppendException,
        delta_exceptions.ConcurrentDeleteReadException,
        delta_exceptions.ConcurrentDeleteDeleteException,
        delta_exceptions.ConcurrentTransactionException,
    )


def retry_on_conflict(action: Callable[[], Result], what: str, attempts: int = CONFLICT_ATTEMPTS) -> Result:
    """Run `action` (one Delta commit); when a concurrent writer's commit conflicts with it, run it again.

    Only for actions that are safe to redo as a whole, e.g.
    `retry_on_conflict(lambda: table.merge(...).execute(), "MERGE into silver.x")`.
    """
    conflicts = commit_conflicts()
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except conflicts as exc:
            if attempt == attempts:
                raise
            pause = CONFLICT_BACKOFF_SECONDS * 2 ** (attempt - 1) * (1 + random.random())
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            log.warning("%s: concurrent commit conflict (%s: %s); retry %d in %.1fs",
                        what, type(exc).__name__, first, attempt, pause)  # fmt: skip
            time.sleep(pause)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TableRef:
    """One Delta table: its layer and name, and where it is stored or registered."""

    layer: str
    name: str
    location: str  # a path or URI Spark can read
    catalog_name: str | None = None  # catalog.schema.table when a catalog is configured

    @property
    def label(self) -> str:
        """A short, human name like `silver.strava_activities`."""
        return f"{self.layer}.{self.name}"


class Tables:
    """Resolves table names to `TableRef`s for one `Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def ref(self, layer: str, name: str) -> TableRef:
        """The table `layer.name`."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        location = f"{spark_uri(self.settings.tables_root)}/{layer}/{name}"
        catalog_name = f"{self.settings.catalog}.{layer}.{name}" if self.settings.catalog else None
        return TableRef(layer, name, location, catalog_name)


def _log_versions(spark: SparkSession, ref: TableRef) -> list[int] | None:
    """The versions whose commit or checkpoint files are in the table's `_delta_log` folder (empty: no table
    yet), from one listing through Hadoop's file system (local, S3, DBFS alike) - no snapshot is loaded, no
    Spark job runs. None when the session gives no JVM access (Spark Connect): ask Delta instead."""
    try:
        jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
    except Exception:  # a Spark Connect session has no SparkContext
        return None
    if jvm is None:
        return None
    log_dir = jvm.org.apache.hadoop.fs.Path(f"{ref.location}/_delta_log")
    fs = log_dir.getFileSystem(conf)
    if not fs.exists(log_dir):
        return []
    versions = []
    for status in fs.listStatus(log_dir):
        name = status.getPath().getName()
        head, _, rest = name.partition(".")
        # 00000000000000000012.json, 00000000000000000010.checkpoint.parquet (and multi-part checkpoints)
        if head.isdigit() and (rest == "json" or rest.startswith("checkpoint.")):
            versions.append(int(head))
    return versions


def table_exists(spark: SparkSession, ref: TableRef) -> bool:
    """Whether the Delta table exists yet (a commit or checkpoint in its log; by name in catalog mode)."""
    if ref.catalog_name:
        return spark.catalog.tableExists(ref.catalog_name)
    versions = _log_versions(spark, ref)
    if versions is None:
        return DeltaTable.isDeltaTable(spark, ref.location)
    return bool(versions)


def current_version(spark: SparkSession, ref: TableRef) -> int | None:
    """The table's current Delta version; None when it does not exist yet."""
    if not ref.catalog_name:
        versions = _log_versions(spark, ref)
        if versions is not None:
            return max(versions) if versions else None
    return table_version(spark, ref) if table_exists(spark, ref) else None


def read_table(spark: SparkSession, ref: TableRef, version: int | None = None) -> DataFrame:
    """The table as of `version` (default: the current version)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    if ref.catalog_name:
        return reader.table(ref.catalog_name)
    return reader.load(ref.location)


def table_version(spark: SparkSession, ref: TableRef) -> int:
    """The table's current Delta version (its newest commit file: a listing, no Spark job, for a table by path)."""
    versions = None if ref.catalog_name else _log_versions(spark, ref)
    if versions:
        return max(versions)
    return int(delta_table(spark, ref).history(1).select("version").first()[0])


def read_changes(spark: SparkSession, ref: TableRef, start: int, end: int) -> DataFrame:
    """Delta's change data feed from version `start` to `end` (inclusive): rows with `_change_type`."""
    reader = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .option("endingVersion", end)
    )
    return reader.table(ref.catalog_name) if ref.catalog_name else reader.load(ref.location)


def sql_name(ref: TableRef) -> str:
    """How SQL names the table: its catalog name, or delta.`<location>`."""
    return ref.catalog_name or f"delta.`{ref.location}`"


AUTO_COMPACT = "delta.autoOptimize.autoCompact"


def ensure_auto_compact(spark: SparkSession, ref: TableRef) -> None:
    """Turn on Delta's auto compaction unless it is on: after a write leaves many small files in a
    partition, Delta merges them (an OPTIMIZE commit, no data change). Streams writing a file per
    micro-batch need it, or readers slow down hour after hour."""
    properties = delta_table(spark, ref).detail().select("properties").first()
    if not properties or (properties[0] or {}).get(AUTO_COMPACT) != "true":
        retry_on_conflict(
            lambda: spark.sql(f"ALTER TABLE {sql_name(ref)} SET TBLPROPERTIES ({AUTO_COMPACT} = true)"),
            f"auto compaction on {ref.label}",
        )


def delta_table(spark: SparkSession, ref: TableRef) -> DeltaTable:
    """The `DeltaTable` handle (for MERGE, history, vacuum)."""
    if ref.catalog_name:
        return DeltaTable.forName(spark, ref.catalog_name)
    return DeltaTable.forPath(spark, ref.location)


def append(
    df: DataFrame,
    ref: TableRef,
    *,
    partition_by: tuple[str, ...] = (),
    txn: tuple[str, int] | None = None,
    merge_schema: bool = False,
) -> None:
    """Append `df`; with `txn=(app_id, version)` the write is idempotent (Delta skips a version it has seen);
    `merge_schema`: a column `df` has and the table lacks is added to the table.

    A commit refused because a concurrent writer's commit conflicts with it is redone (`retry_on_conflict`).
    """
    writer = df.write.format("delta").mode("append")
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
    if ref.catalog_name:
        ensure_schema(df.sparkSession, ref)
        retry_on_conflict(lambda: writer.saveAsTable(ref.catalog_name), f"append to {ref.label}")
    else:
        retry_on_conflict(lambda: writer.save(ref.location), f"append to {ref.label}")


def append_rows(
    spark: SparkSession, rows: Sequence[Any], schema: T.StructType, ref: TableRef, *, txn: tuple[str, int] | None = None
) -> None:
    """Append a few rows made here (a ledger's or a progress table's) as one file, not one per core: a table
    that gets such an append every run would otherwise gain files twice as fast (see `compact_small_files`)."""
    append(spark.createDataFrame(list(rows), schema).coalesce(1), ref, txn=txn)


SMALL_FILES_LIMIT = 50  # as Delta's own auto compaction (`autoCompact.minNumFiles`)


def file_count(spark: SparkSession, ref: TableRef) -> int | None:
    """How many data files the table's current version holds; None when it does not exist. For a table by path,
    from the newest version's checksum file (`<version>.crc`, which Delta writes with each commit): a small
    file read, no Spark job; else (by name, or no checksum) from `DESCRIBE DETAIL`."""
    versions = None if ref.catalog_name else _log_versions(spark, ref)
    if versions == []:
        return None
    if versions:
        text = _log_file_text(spark, ref, f"{max(versions):020d}.crc")
        if text:
            count = json.loads(text).get("numFiles")
            if count is not None:
                return int(count)
    elif not table_exists(spark, ref):
        return None
    return int(delta_table(spark, ref).detail().select("numFiles").first()[0] or 0)


def compact_small_files(spark: SparkSession, ref: TableRef, limit: int | None = None) -> int | None:
    """Merge the table's files into one (an OPTIMIZE commit: no row changes) once it holds more than `limit`
    (default `SMALL_FILES_LIMIT`).

    For the bookkeeping tables every run appends to and reads whole (load ledger, progress tables): after a year
    of weekly runs they would hold hundreds of tiny files, and reading them gets slower week after week (the gold
    build ledger at 402 files: 1.7 s per read; compacted: 0.4 s). Returns the file count before a compaction,
    None when none was needed. Safe beside writers: an OPTIMIZE does not conflict with appends, and one refused
    by a concurrent OPTIMIZE is redone (then finds nothing to do)."""
    files = file_count(spark, ref)
    if files is None or files <= (SMALL_FILES_LIMIT if limit is None else limit):
        return None
    retry_on_conflict(lambda: delta_table(spark, ref).optimize().executeCompaction(), f"compact {ref.label}")
    log.info("%s: %d files compacted", ref.label, files)
    return files


COUNTED_OPERATIONS = ("WRITE", "CREATE TABLE AS SELECT", "REPLACE TABLE AS SELECT")


def _newest_commit(spark: SparkSession, ref: TableRef) -> tuple[int, dict[str, Any]] | None:
    """(version, `commitInfo`) of the table's newest commit; None when the table does not exist. For a table by
    path both come from one listing of `_delta_log` and its newest commit file, read through Hadoop's file system
    (no Spark job, unlike `DeltaTable.history`); by name (or without JVM access), from DESCRIBE HISTORY. The info
    is empty when the commit carries none (optional in Delta's protocol) or only its checkpoint is left."""
    versions = None if ref.catalog_name else _log_versions(spark, ref)
    if versions is None:
        if not table_exists(spark, ref):
            return None
        last = delta_table(spark, ref).history(1).select("version", "operation", "operationMetrics").first()
        return int(last[0]), {"operation": last[1], "operationMetrics": last[2]}
    if not versions:
        return None
    newest = max(versions)
    text = _log_file_text(spark, ref, f"{newest:020d}.json")
    if text is None:
        return newest, {}
    actions = (json.loads(line) for line in text.splitlines() if line.strip())
    return newest, next((a["commitInfo"] for a in actions if "commitInfo" in a), {})


def commit_transaction(spark: SparkSession, ref: TableRef, version: int) -> tuple[str, int] | None:
    """The idempotent-write id (`txnAppId`, `txnVersion`) commit `version` of a table by path carries (one small
    file read, no Spark job); None when it carries none, its file is gone, or the table is known by name only."""
    if ref.catalog_name:
        return None
    text = _log_file_text(spark, ref, f"{version:020d}.json")
    for line in (text or "").splitlines():
        txn = json.loads(line).get("txn") if line.strip() else None
        if txn is not None:
            return str(txn["appId"]), int(txn["version"])
    return None


def _log_file_text(spark: SparkSession, ref: TableRef, name: str) -> str | None:
    """The text of one file in the table's `_delta_log` (through Hadoop's file system); None if it is not there."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(f"{ref.location}/_delta_log/{name}")
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def _rows_written(info: dict[str, Any]) -> int | None:
    """`numOutputRows` of a write's commitInfo; None for other operations or when it does not say."""
    if info.get("operation") not in COUNTED_OPERATIONS:
        return None
    value = (info.get("operationMetrics") or {}).get("numOutputRows")
    return int(value) if value is not None else None


def last_commit_rows(spark: SparkSession, ref: TableRef) -> int | None:
    """The rows the table's latest commit wrote (Delta's `numOutputRows`), or None if it does not say.

    Read from the commit's own metrics, so a caller that just appended a computed DataFrame learns its size
    without computing it a second time."""
    newest = _newest_commit(spark, ref)
    return _rows_written(newest[1]) if newest is not None else None


def append_counted(df: DataFrame, ref: TableRef, *, partition_by: tuple[str, ...] = ()) -> int:
    """Append `df` and return how many rows it wrote, computing `df` once (not once to write, once to count)."""
    spark = df.sparkSession
    before = current_version(spark, ref)
    append(df, ref, partition_by=partition_by)
    newest = _newest_commit(spark, ref)
    if newest is None or newest[0] == before:
        return 0  # Delta commits nothing for an empty append: the newest commit is someone else's
    written = _rows_written(newest[1])
    return written if written is not None else df.count()


def overwrite_counted(df: DataFrame, ref: TableRef, *, partition_by: tuple[str, ...] = ()) -> int:
    """`overwrite`, returning the rows written (from the commit's metrics, as `append_counted`; without them,
    the table now holds exactly `df`'s rows: counting its files costs less than computing `df` again)."""
    overwrite(df, ref, partition_by=partition_by)
    written = last_commit_rows(df.sparkSession, ref)
    return written if written is not None else read_table(df.sparkSession, ref).count()


def ensure_schema(spark: SparkSession, ref: TableRef) -> None:
    """In catalog mode, create the layer's schema (`<catalog>.<layer>`) if it does not exist."""
    if ref.catalog_name:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {ref.catalog_name.rsplit('.', 1)[0]}")


def overwrite(df: DataFrame, ref: TableRef, *, partition_by: tuple[str, ...] = ()) -> None:
    """Replace the table's content (schema changes allowed), as one Delta commit."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if ref.catalog_name:
        ensure_schema(df.sparkSession, ref)
        writer.saveAsTable(ref.catalog_name)
    else:
        writer.save(ref.location)


def replace_where(df: DataFrame, ref: TableRef, condition: str) -> None:
    """Replace the rows matching `condition` with `df` (whose rows must all match it), as one Delta commit."""
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", condition)
    if ref.catalog_name:
        ensure_schema(df.sparkSession, ref)
        retry_on_conflict(lambda: writer.saveAsTable(ref.catalog_name), f"replace in {ref.label}")
    else:
        retry_on_conflict(lambda: writer.save(ref.location), f"replace in {ref.label}")


def create_with_change_feed(
    spark: SparkSession, ref: TableRef, schema: T.StructType, partition_by: tuple[str, ...] = ()
) -> None:
    """Create an empty table with Delta's change data feed on from its first version, in one commit, unless it
    exists: a crash can never leave the table made but its change feed off (gold reads the feed)."""
    ensure_schema(spark, ref)
    builder = DeltaTable.createIfNotExists(spark)
    builder = builder.tableName(ref.catalog_name) if ref.catalog_name else builder.location(ref.location)
    builder = builder.addColumns(schema).property("delta.enableChangeDataFeed", "true")
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    try:
        retry_on_conflict(builder.execute, f"create {ref.label}")
    except commit_conflicts():
        if not table_exists(spark, ref):
            raise


def create_if_missing(spark: SparkSession, ref: TableRef, empty: DataFrame, partition_by: tuple[str, ...] = ()) -> None:
    """Create an empty table with `empty`'s schema unless it already exists (or another writer just made it)."""
    if table_exists(spark, ref):
        return
    try:
        append(empty.limit(0), ref, partition_by=partition_by)
    except commit_conflicts():
        # Two writers created it at once and the other's version 0 won: the table exists, as wanted.
        if not table_exists(spark, ref):
            raise
