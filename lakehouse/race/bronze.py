"""Bronze for the race: reference files through the shared loader, telemetry through Spark's CSV reader.

- `bronze.race_athletes`, `bronze.race_routes`, `bronze.race_start_lists`: the shared COPY INTO loader
  (`lakehouse.bronze.loader`) with the entities below: JSON Schema per row, the raw row as JSON text.
- `bronze.race_telemetry`: telemetry files are big, so Spark reads them itself (CSV, every column as text, by
  position after the expected header; a file without a header, or one naming the columns otherwise, is read as its
  first line says: `read_telemetry_files`) and `validate_telemetry` types them or gives a reason. Same guarantees as
  the shared loader, on the same ledger (`ops.bronze_load_ledger`, table `race_telemetry`): each file loaded once (a
  file is known by path, size and modification time), a plan committed before the data, idempotent appends
  (`txnAppId` = `bronze:race_telemetry`, `txnVersion` = ledger batch), an interrupted load resumed as planned; bad
  rows go to `bronze.quarantine` with a reason. Loads go in batches of bounded size.

Grain of `bronze.race_telemetry`: one row per valid line of a landed telemetry file per load, as recorded
(duplicates and late points kept). Keys: none unique; (`rider_id`, `ts`) repeats for duplicate sends.
Partitioned by `stage_date` (from the landing folder `date=YYYY-MM-DD`).
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.bronze.entities import BronzeEntity
from lakehouse.bronze.loader import (
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    PARTITION_COLUMN,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    _FilePlan,
    _ledger_state,
    _plan_rows,
    _write_ledger_plan,
)
from lakehouse.config import Settings
from lakehouse.race.layout import ATHLETES_PREFIX, STAGES_PREFIX, START_LISTS_PREFIX, TELEMETRY_PREFIX
from lakehouse.storage import literal_uri, open_store, spark_can_read, spark_uri
from lakehouse.tables import TableRef, Tables, append, append_rows, create_if_missing

TELEMETRY_TABLE = "race_telemetry"
STAGE_DATE = "stage_date"
MAX_BATCH_BYTES = 512 * 1024 * 1024  # one ledger batch reads at most this much CSV
MIN_TIMESTAMP_CHARS = len("2024-07-01T10:00:00")  # a date alone is not a point's time
CORRUPT = "_corrupt_record"
PLAIN_NAME = re.compile(r"[A-Za-z0-9._\-/=]*")

ATHLETES = BronzeEntity(
    table="race_athletes",
    landing_prefix=ATHLETES_PREFIX,
    file_glob="*.csv",
    kind="csv",
    schema_file="race_athlete.schema.json",
    key_fields=("rider_id",),
    csv_required=tuple((c,) for c in ("rider_id", "name", "team", "nationality", "birth_date")),
)
ROUTES = BronzeEntity(
    table="race_routes",
    landing_prefix=STAGES_PREFIX,
    file_glob="*.csv",
    kind="csv",
    schema_file="race_route_point.schema.json",
    key_fields=("stage", "point"),
    csv_required=tuple(
        (c,) for c in ("stage", "stage_date", "stage_kind", "start_time", "point", "lat", "lon", "distance_m")
    ),
)
START_LISTS = BronzeEntity(
    table="race_start_lists",
    landing_prefix=START_LISTS_PREFIX,
    file_glob="*.csv",
    kind="csv",
    schema_file="race_start_list.schema.json",
    key_fields=("stage", "rider_id"),
    csv_required=(("stage",), ("rider_id",), ("start_time",)),
)
REFERENCE_ENTITIES = (ATHLETES, ROUTES, START_LISTS)

RAW_COLUMNS = (
    "rider_id", "timestamp", "lat", "lon", "altitude_m", "speed_mps", "heart_rate", "power_w", "cadence_rpm",
)  # fmt: skip
RAW_SCHEMA = T.StructType(
    [T.StructField(c, T.StringType()) for c in RAW_COLUMNS] + [T.StructField(CORRUPT, T.StringType())]
)
READ_SCHEMA = T.StructType([*RAW_SCHEMA.fields, T.StructField("_source_file", T.StringType())])  # lines as read
BRONZE_SCHEMA = T.StructType(
    [
        T.StructField("rider_id", T.IntegerType()),
        T.StructField("ts", T.TimestampType()),
        T.StructField("lat", T.DoubleType()),
        T.StructField("lon", T.DoubleType()),
        T.StructField("altitude_m", T.DoubleType()),
        T.StructField("speed_mps", T.DoubleType()),
        T.StructField("heart_rate", T.IntegerType()),
        T.StructField("power_w", T.IntegerType()),
        T.StructField("cadence_rpm", T.IntegerType()),
        T.StructField("_source_file", T.StringType()),
        T.StructField("_batch_id", T.LongType()),
        T.StructField("_run_id", T.StringType()),
        T.StructField("_ingested_at", T.TimestampType()),
        T.StructField(STAGE_DATE, T.DateType()),
    ]
)
# (column, type, lowest, highest): optional measurements are null when empty, rejected when unreadable
OPTIONAL_MEASURES = (
    ("altitude_m", "double", -500.0, 9000.0),
    ("speed_mps", "double", 0.0, 40.0),
    ("heart_rate", "int", 20.0, 250.0),
    ("power_w", "int", 0.0, 3000.0),
    ("cadence_rpm", "int", 0.0, 250.0),
)


def _blank(column: str) -> Column:
    return F.nullif(F.trim(F.col(column)), F.lit(""))


def landing_key(path: Column) -> Column:
    """A telemetry file's URI -> its key under the landing root (what the ledger and lineage record)."""
    return F.concat(F.lit(TELEMETRY_PREFIX), F.substring_index(path, f"/{TELEMETRY_PREFIX}", -1))


def read_key(plain: bool = True) -> Column:
    """The landing key of the file each row was read from. `_metadata.file_path` is URL-encoded (a space is `%20`,
    a `%` is `%25`, a `+` stays as it is): for files whose names are not `plain_name`s it is decoded back to the
    name, so that it matches the ledger's key. Per row, so only for them (2 s of a quarter Tour's 7.1 M lines)."""
    path = F.col("_metadata.file_path")
    return landing_key(path if plain else F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B"))))


def plain_name(key: str) -> bool:
    """Whether Spark gives a file key as it is (letters, digits, `.`, `_`, `-`, `=`, `/`: nothing to encode)."""
    return PLAIN_NAME.fullmatch(key) is not None


def _folder_date(path: Column) -> Column:
    """The text between a path's first `date=` and the next `/` (or `date=`); null when it has no `date=`.

    String functions, not `split` (a regular expression per row: 2.3 s of a quarter Tour's 7.1 M lines)."""
    start = F.instr(path, "date=")
    after = F.substring(path, start + 5, F.length(path))
    return F.when(start > 0, F.substring_index(F.substring_index(after, "date=", 1), "/", 1))


def validate_telemetry(raw: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """Raw text rows (+ `_source_file`) -> typed rows with `_reject_reason` (null when the row is good).

    `keep` names extra input columns to carry along (`rejected_rows` keeps the raw line).

    Required: an integer rider id, an ISO 8601 UTC timestamp (date and time) on the file's stage date (its
    `date=` folder), latitude and longitude in range. Optional measurements may be empty; when present they
    must be numbers in a plausible range. A line with the wrong number of fields is rejected whole.
    Values are typed once, then checked (two projections: each text is parsed a single time).
    """
    folder_date = _folder_date(F.col("_source_file"))
    typed = raw.select(
        _blank("rider_id").try_cast("int").alias("rider_id"),
        F.when(F.length("timestamp") >= MIN_TIMESTAMP_CHARS, _blank("timestamp").try_cast("timestamp")).alias(
            "ts"
        ),
        _blank("lat").try_cast("double").alias("lat"),
        _blank("lon").try_cast("double").alias("lon"),
        *[_blank(c).try_cast("double").try_cast(kind).alias(c) for c, kind, *_ in OPTIONAL_MEASURES],
        F.col("_source_file"),
        F.nullif(folder_date, F.lit("")).try_cast("date").alias(STAGE_DATE),
        *[F.col(c).alias(f"_text_{c}") for c in RAW_COLUMNS],
        F.col(CORRUPT).isNotNull().alias("_malformed"),
        *keep,
    )
    checks: list[tuple[Column, Column]] = [
        (F.col("_malformed"), F.lit("malformed CSV line (wrong number of fields)")),
        (F.col(STAGE_DATE).isNull(), F.lit("file is not under a date=YYYY-MM-DD folder")),
        (
            F.col("rider_id").isNull(),
            F.concat(F.lit("rider_id is missing or not an integer: "), _shown("rider_id")),
        ),
        (
            F.col("ts").isNull(),
            F.concat(F.lit("timestamp is missing or not ISO 8601: "), _shown("timestamp")),
        ),
        (
            F.to_date("ts") != F.col(STAGE_DATE),
            F.concat(F.lit("timestamp is not on the file's stage date "), F.col(STAGE_DATE).cast("string")),
        ),
        (
            F.col("lat").isNull() | (F.abs("lat") > 90),
            F.concat(F.lit("lat is missing, not a number or out of range: "), _shown("lat")),
        ),
        (
            F.col("lon").isNull() | (F.abs("lon") > 180),
            F.concat(F.lit("lon is missing, not a number or out of range: "), _shown("lon")),
        ),
    ]
    for column, _, low, high in OPTIONAL_MEASURES:
        present = F.nullif(F.trim(F.col(f"_text_{column}")), F.lit("")).isNotNull()
        bad = present & (F.col(column).isNull() | (F.col(column) < low) | (F.col(column) > high))
        checks.append(
            (bad, F.concat(F.lit(f"{column} is not a number in {low:g}..{high:g}: "), _shown(column)))
        )
    reason: Column = F.lit(None).cast("string")
    for failed, why in reversed(checks):
        reason = F.when(failed, why).otherwise(reason)
    return typed.select(
        "rider_id", "ts", "lat", "lon", *[c for c, *_ in OPTIONAL_MEASURES], "_source_file", STAGE_DATE,
        reason.alias("_reject_reason"), *keep,
    )  # fmt: skip


def rejected_rows(raw: DataFrame) -> DataFrame:
    """The rows `validate_telemetry` rejects, with their reason and the line as it was (`_raw`)."""
    line = F.coalesce(
        F.col(CORRUPT), F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in RAW_COLUMNS])
    )
    checked = validate_telemetry(raw.withColumn("_raw", line), keep=("_raw",))
    return checked.where(F.col("_reject_reason").isNotNull())


def _shown(column: str) -> Column:
    text = F.col(f"_text_{column}")
    return F.coalesce(F.concat(F.lit("'"), F.substring(text, 1, 40), F.lit("'")), F.lit("(empty)"))


def bronze_telemetry_rows(
    validated: DataFrame, batch_id: Column, run_id: str, ingested_at: Column
) -> DataFrame:
    """The good rows as bronze rows (typed device fields + lineage), in `BRONZE_SCHEMA` order."""
    return validated.where(F.col("_reject_reason").isNull()).select(
        "rider_id", "ts", "lat", "lon", "altitude_m", "speed_mps", "heart_rate", "power_w", "cadence_rpm",
        "_source_file",
        batch_id.cast("long").alias("_batch_id"),
        F.lit(run_id).alias("_run_id"),
        ingested_at.cast("timestamp").alias("_ingested_at"),
        STAGE_DATE,
    )  # fmt: skip


def quarantine_telemetry_rows(
    rejected: DataFrame, batch_id: Column, run_id: str, ingested_at: Column
) -> DataFrame:
    """`rejected_rows` as rows of `bronze.quarantine`, each with its reason."""
    return rejected.select(
        F.lit(TELEMETRY_TABLE).alias("_table"),
        F.col("_source_file"),
        F.lit(None).cast("string").alias("_file_hash"),
        F.lit(None).cast("int").alias("_record_index"),
        F.col("_raw").alias("raw"),
        F.col("_reject_reason").alias("reason"),
        batch_id.cast("long").alias("_batch_id"),
        F.lit(run_id).alias("_run_id"),
        ingested_at.cast("timestamp").alias("_ingested_at"),
        F.to_date(ingested_at.cast("timestamp")).alias(PARTITION_COLUMN),
    )


def read_telemetry_csv(spark: SparkSession, uris: list[str], header: bool = True, plain: bool = True) -> DataFrame:
    """Telemetry CSV files, every column as text by position (after the header line, unless `header` is False),
    with the file's key as `_source_file` (`plain`: all their keys are `plain_name`s)."""
    return _read_csv(spark, RAW_SCHEMA, uris, header).withColumn("_source_file", read_key(plain))


def _read_csv(spark: SparkSession, schema: T.StructType, uris: list[str], header: bool) -> DataFrame:
    """CSV by position into `schema` (text columns and `CORRUPT`): a line that does not fit is kept, marked.
    `uris` are glob patterns (Spark's reader globs every path): `literal_uri` for a file's own name."""
    return (
        spark.read.schema(schema)
        .option("header", header)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(uris)
    )


HEAD_BYTES = 64 * 1024  # enough for any header line of ours
HEAD_READERS = 8  # files sniffed at once
STANDARD, NO_HEADER, NAMED = "standard", "no header", "named"


def file_header(head: bytes) -> tuple[str, list[str]]:
    """What a telemetry file's first line is, from the file's first bytes: `STANDARD` (the expected header, or an
    empty file), `NAMED` (a header naming the columns otherwise: another order, fewer, more; with its names,
    lower case, trimmed) or `NO_HEADER` (its first field names no column: the line is data, or bad data)."""
    lines = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[:1]
    if not lines:
        return STANDARD, list(RAW_COLUMNS)
    names = [n.replace("\ufeff", "").replace("\t", "").strip().lower() for n in next(csv.reader(lines), [""])]
    if names == list(RAW_COLUMNS):
        return STANDARD, names
    if names and names[0] in RAW_COLUMNS:
        return NAMED, names
    return NO_HEADER, names


def read_by_header(spark: SparkSession, uris: dict[str, list[str]], plain: bool = True) -> DataFrame:
    """Files (URI -> their header's names) whose header names the columns otherwise, each column taken by its
    name: in another order, fewer (a missing one is empty), more (an unknown one is ignored). Rows as
    `read_telemetry_csv` gives them (`plain` as there)."""
    by_names: dict[tuple[str, ...], list[str]] = {}
    for uri, names in uris.items():
        by_names.setdefault(tuple(names), []).append(uri)
    frames = []
    for names, group in sorted(by_names.items()):
        schema = T.StructType(
            [T.StructField(f"_field{i}", T.StringType()) for i in range(len(names))]
            + [T.StructField(CORRUPT, T.StringType())]
        )
        frames.append(
            _read_csv(spark, schema, group, header=True).select(
                *[(F.col(f"_field{names.index(c)}") if c in names else F.lit(None).cast("string")).alias(c)
                  for c in RAW_COLUMNS],
                F.col(CORRUPT),
                read_key(plain).alias("_source_file"),
            )
        )  # fmt: skip
    return reduce(DataFrame.unionByName, frames)


@dataclass(frozen=True)
class TelemetryFiles:
    """Telemetry files read: their lines as `read_telemetry_csv` gives them (none when no file could be read), and
    the files Spark cannot read with why (key -> reason)."""

    rows: DataFrame
    unreadable: dict[str, str]


def unreadable_reason(key: str) -> str | None:
    """Why Spark cannot read the file at `key` (`storage.spark_can_read`), or None."""
    if not spark_can_read(key):
        return "the file's name has a ':', which Hadoop's file systems cannot read: rename the file to load it"
    return None


def read_telemetry_files(spark: SparkSession, settings: Settings, keys: list[str]) -> TelemetryFiles:
    """Landed telemetry files (keys under the landing root) as `read_telemetry_csv` rows, each file read as its
    first line says (`file_header`): after the expected header by position (most files: one read), without a
    header every line (a file without one would lose its first point), by its header's names when it names
    the columns otherwise (read by position, a heart rate could be taken for a cadence). A file whose name Spark
    cannot read is left out, with its reason (`unreadable_reason`)."""
    if not keys:
        raise ValueError("no telemetry files to read")
    store = open_store(settings.landing_root, settings.s3)
    base = spark_uri(settings.landing_root).rstrip("/")
    unreadable = {key: why for key in keys if (why := unreadable_reason(key)) is not None}
    readable = [key for key in keys if key not in unreadable]
    groups: dict[tuple[str, bool], dict[str, list[str]]] = {}  # (kind, plain name) -> URI -> header's names
    # One read of a few bytes per file; on S3 each is a request: several at once.
    with ThreadPoolExecutor(max_workers=max(1, min(HEAD_READERS, len(readable)))) as pool:
        heads = pool.map(lambda key: store.read_head(key, HEAD_BYTES), readable)
        for key, head in zip(readable, heads, strict=True):
            kind, names = file_header(head)
            groups.setdefault((kind, plain_name(key)), {})[literal_uri(f"{base}/{key}")] = names
    frames = []
    for (kind, plain), files in sorted(groups.items()):
        if kind == NAMED:
            frames.append(read_by_header(spark, files, plain))
        else:
            frames.append(read_telemetry_csv(spark, list(files), header=kind == STANDARD, plain=plain))
    if not frames:
        frames.append(spark.createDataFrame([], READ_SCHEMA))
    return TelemetryFiles(reduce(DataFrame.unionByName, frames), unreadable)


def quarantined_rows(
    spark: SparkSession, files: TelemetryFiles, with_rejected: bool, batch_id: Column, run_id: str,
    ingested_at: Column,
) -> DataFrame | None:
    """A read's rows of `bronze.quarantine`: its rejected lines (when `with_rejected`: some are known to be) and
    a row for each file Spark cannot read; None when there are none."""
    frames = [rejected_rows(files.rows)] if with_rejected else []
    if files.unreadable:
        frames.append(
            spark.createDataFrame(
                [(key, None, why) for key, why in sorted(files.unreadable.items())],
                "_source_file string, _raw string, _reject_reason string",
            )
        )
    if not frames:
        return None
    rows = [f.select("_source_file", "_raw", "_reject_reason") for f in frames]
    return quarantine_telemetry_rows(reduce(DataFrame.unionByName, rows), batch_id, run_id, ingested_at)


def ensure_telemetry_tables(spark: SparkSession, settings: Settings) -> tuple[TableRef, TableRef, TableRef]:
    """(bronze.race_telemetry, bronze.quarantine, ops.bronze_load_ledger), created if missing."""
    tables = Tables(settings)
    target = tables.ref("bronze", TELEMETRY_TABLE)
    quarantine = tables.ref(*QUARANTINE_TABLE)
    ledger = tables.ref(*LEDGER_TABLE)
    create_if_missing(spark, ledger, spark.createDataFrame([], LEDGER_SCHEMA))
    create_if_missing(spark, quarantine, spark.createDataFrame([], QUARANTINE_SCHEMA), (PARTITION_COLUMN,))
    create_if_missing(spark, target, spark.createDataFrame([], BRONZE_SCHEMA), (STAGE_DATE,))
    return target, quarantine, ledger


@dataclass
class TelemetryLoadResult:
    """What one telemetry bronze load did."""

    files_seen: int = 0
    files_loaded: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    batches: list[int] = field(default_factory=list)
    resumed: bool = False
    seconds: float = 0.0


@dataclass
class TelemetryHooks:
    """Test seams: called between the steps of a batch (fault injection)."""

    after_bronze_write: Callable[[], None] | None = None


def _chunks(files: list[dict[str, object]], max_bytes: int) -> list[list[dict[str, object]]]:
    out: list[list[dict[str, object]]] = [[]]
    size = 0
    for f in files:
        if out[-1] and size + int(f["size"]) > max_bytes:  # type: ignore[call-overload]
            out.append([])
            size = 0
        out[-1].append(f)
        size += int(f["size"])  # type: ignore[call-overload]
    return [c for c in out if c]


def _load_batch(
    spark: SparkSession,
    settings: Settings,
    refs: tuple[TableRef, TableRef, TableRef],
    plans: list[_FilePlan],
    batch_id: int,
    run_id: str,
    ingested_at: datetime,
    hooks: TelemetryHooks,
) -> tuple[int, int]:
    target, quarantine, ledger = refs
    files = read_telemetry_files(spark, settings, [p.path for p in plans])
    raw = files.rows
    # Only typed rows are cached; the raw lines of rejects are read again, and only when there are some.
    validated = validate_telemetry(raw).persist()
    try:
        stamp = F.lit(ingested_at)
        append(
            bronze_telemetry_rows(validated, F.lit(batch_id), run_id, stamp),
            target,
            partition_by=(STAGE_DATE,),
            txn=(f"bronze:{TELEMETRY_TABLE}", batch_id),
        )
        if hooks.after_bronze_write:
            hooks.after_bronze_write()
        counts = {
            (r["_source_file"], r["good"]): r["n"]
            for r in validated.groupBy("_source_file", F.col("_reject_reason").isNull().alias("good"))
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        }
    finally:
        validated.unpersist()
    quarantined = quarantined_rows(
        spark, files, any(not good for _, good in counts), F.lit(batch_id), run_id, stamp
    )
    counts.update({(key, False): 1 for key in files.unreadable})
    if quarantined is not None:
        append(
            quarantined,
            quarantine,
            partition_by=(PARTITION_COLUMN,),
            txn=(f"quarantine:{TELEMETRY_TABLE}", batch_id),
        )
    done = [
        _FilePlan(p.path, p.size, p.mtime, p.file_hash, p.action, counts.get((p.path, True), 0),
                  counts.get((p.path, False), 0), p.notes)
        for p in plans
    ]  # fmt: skip
    committed = _plan_rows(TELEMETRY_TABLE, batch_id, "committed", done, run_id, ingested_at)
    append_rows(spark, committed, LEDGER_SCHEMA, ledger)
    return sum(p.records_loaded for p in done), sum(p.records_quarantined for p in done)


def list_telemetry_files(settings: Settings) -> list[dict[str, object]]:
    """Every telemetry CSV in the landing zone (key, size, mtime; `.csv` in any case, as devices write `.CSV`);
    hidden files are not data."""
    store = open_store(settings.landing_root, settings.s3)
    return [
        {"path": info.key, "size": info.size, "mtime": info.mtime}
        for info in store.list_files(TELEMETRY_PREFIX)
        if info.key.lower().endswith(".csv") and not info.key.rsplit("/", 1)[-1].startswith((".", "_"))
    ]


def load_telemetry(
    spark: SparkSession,
    settings: Settings,
    *,
    run_id: str,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    hooks: TelemetryHooks | None = None,
) -> TelemetryLoadResult:
    """Load new telemetry files into `bronze.race_telemetry`, exactly once, resuming an interrupted batch."""
    started = time.monotonic()
    hooks = hooks or TelemetryHooks()
    refs = ensure_telemetry_tables(spark, settings)
    result = TelemetryLoadResult()
    files = list_telemetry_files(settings)
    result.files_seen = len(files)
    latest, pending, max_batch = _ledger_state(spark, refs[2], TELEMETRY_TABLE)
    if pending:
        result.resumed = True
        first = pending[0]
        plans = [
            _FilePlan(r["file_path"], r["file_size"], r["file_mtime"], r["file_hash"], r["action"], 0, 0, "")
            for r in pending
        ]
        loaded, rejected = _load_batch(
            spark, settings, refs, plans, first["batch_id"], first["run_id"], first["ingested_at"], hooks
        )
        result.batches.append(first["batch_id"])
        result.files_loaded += len(plans)
        result.rows_loaded += loaded
        result.rows_quarantined += rejected
        latest, _, max_batch = _ledger_state(spark, refs[2], TELEMETRY_TABLE)

    def known(f: dict[str, object]) -> bool:
        row = latest.get(f["path"])
        return bool(
            row is not None
            and row["file_size"] == f["size"]
            and round(row["file_mtime"].timestamp()) == round(f["mtime"].timestamp())  # type: ignore[attr-defined]
        )

    todo = [f for f in files if not known(f)]
    for chunk in _chunks(todo, max_batch_bytes):
        max_batch += 1
        ingested_at = datetime.now(UTC).replace(microsecond=0)
        plans = [
            _FilePlan(
                str(f["path"]),
                int(f["size"]),  # type: ignore[call-overload]
                f["mtime"],  # type: ignore[arg-type]
                None,  # type: ignore[arg-type]  # identity is path + size + time; hashing would read twice
                "changed" if f["path"] in latest else "new",
                0,
                0,
                "",
            )
            for f in chunk
        ]
        _write_ledger_plan(
            spark,
            refs[2],
            _plan_rows(TELEMETRY_TABLE, max_batch, "planned", plans, run_id, ingested_at),
            run_id,
        )
        loaded, rejected = _load_batch(spark, settings, refs, plans, max_batch, run_id, ingested_at, hooks)
        result.batches.append(max_batch)
        result.files_loaded += len(plans)
        result.rows_loaded += loaded
        result.rows_quarantined += rejected
    result.seconds = time.monotonic() - started
    return result
