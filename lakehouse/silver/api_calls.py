"""silver.api_calls: every call the ingestion clients made, with the rate-limit state it reported.

Grain: one row per API call. Keys: (`source`, `run_id`, `seq`).
Answers questions such as "how long will my backfill take": calls per run, their duration, and how close to
each limit they ran. Strava's headers carry "15-minute,daily" pairs (`X-RateLimit-*` overall and
`X-ReadRateLimit-*` for reads, either may be empty); Fitbit's carry the hourly quota, what remains and the
seconds to its reset.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver.readable import as_text, parse_errors, record_errors, unreadable
from lakehouse.tables.merge import latest_per_key, with_row_hash

NAME = "api_calls"
BRONZE_TABLE = "api_calls"
KEYS = ("source", "run_id", "seq")

RECORD_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("source", T.StringType()),
        T.StructField("seq", T.LongType()),
        T.StructField("method", T.StringType()),
        T.StructField("endpoint", T.StringType()),
        T.StructField("status", T.IntegerType()),
        T.StructField("outcome", T.StringType()),
        T.StructField("retries", T.IntegerType()),
        T.StructField("started_at", T.StringType()),
        T.StructField("duration_ms", T.DoubleType()),
        T.StructField("rate_limit", T.MapType(T.StringType(), T.StringType())),
        T.StructField("error", T.StringType()),
    ]
)


def _pair_text(header: str, index: int) -> Column:
    """Part `index` of a "15-minute,daily" header as text; null when missing or empty (Strava sends "," at times)."""
    value = F.try_element_at(F.col("r.rate_limit"), F.lit(header))
    return F.nullif(F.trim(F.try_element_at(F.split(value, ","), F.lit(index + 1))), F.lit(""))


def _single_text(header: str) -> Column:
    return F.nullif(F.trim(F.try_element_at(F.col("r.rate_limit"), F.lit(header))), F.lit(""))


# (column, header, part of a "15-minute,daily" pair or None for a single value)
RATE_LIMIT_COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("usage_15min", "x-ratelimit-usage", 0),
    ("usage_daily", "x-ratelimit-usage", 1),
    ("limit_15min", "x-ratelimit-limit", 0),
    ("limit_daily", "x-ratelimit-limit", 1),
    ("read_usage_15min", "x-readratelimit-usage", 0),
    ("read_usage_daily", "x-readratelimit-usage", 1),
    ("read_limit_15min", "x-readratelimit-limit", 0),
    ("read_limit_daily", "x-readratelimit-limit", 1),
    ("hourly_limit", "fitbit-rate-limit-limit", None),
    ("hourly_remaining", "fitbit-rate-limit-remaining", None),
    ("hourly_reset_s", "fitbit-rate-limit-reset", None),
)


def to_silver(bronze: DataFrame) -> DataFrame:
    """Bronze ledger records -> one typed row per call."""
    rows = bronze.select(
        F.from_json("record", RECORD_SCHEMA).alias("r"),
        F.from_json("record", as_text(RECORD_SCHEMA)).alias("_text"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    started_at = F.try_to_timestamp(F.col("r.started_at"))
    texts = {
        column: _single_text(header) if part is None else _pair_text(header, part)
        for column, header, part in RATE_LIMIT_COLUMNS
    }
    typed = rows.select(
        F.col("r.source").alias("source"),
        F.col("r.run_id").alias("run_id"),
        F.col("r.seq").alias("seq"),
        F.col("r.method").alias("method"),
        F.col("r.endpoint").alias("endpoint"),
        F.col("r.status").alias("status"),
        F.col("r.outcome").alias("outcome"),
        F.coalesce(F.col("r.retries"), F.lit(0)).alias("retries"),
        started_at.alias("started_at"),
        F.col("r.duration_ms").alias("duration_ms"),
        *[texts[column].try_cast("int").alias(column) for column, _, _ in RATE_LIMIT_COLUMNS],
        F.col("r.error").alias("error"),
        parse_errors(
            record_errors(F.col("r"), F.col("_text"), RECORD_SCHEMA),
            unreadable("started_at", F.col("r.started_at"), started_at, "an ISO 8601 timestamp"),
            [
                unreadable(f"rate_limit {header}", texts[column], texts[column].try_cast("int"), "an int")
                for column, header, _ in RATE_LIMIT_COLUMNS
            ],
        ),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    return with_row_hash(latest_per_key(typed, KEYS).drop("_record_index"))
