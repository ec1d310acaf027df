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


def _pair_part(header: str, index: int) -> Column:
    """Part `index` of a "15-minute,daily" header; null when missing or empty (Strava sends "," at times)."""
    value = F.try_element_at(F.col("r.rate_limit"), F.lit(header))
    part = F.try_element_at(F.split(value, ","), F.lit(index + 1))
    return F.nullif(F.trim(part), F.lit("")).try_cast("int")


def _single(header: str) -> Column:
    return F.nullif(F.trim(F.try_element_at(F.col("r.rate_limit"), F.lit(header))), F.lit("")).try_cast("int")


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
        _pair_part("x-ratelimit-usage", 0).alias("usage_15min"),
        _pair_part("x-ratelimit-usage", 1).alias("usage_daily"),
        _pair_part("x-ratelimit-limit", 0).alias("limit_15min"),
        _pair_part("x-ratelimit-limit", 1).alias("limit_daily"),
        _pair_part("x-readratelimit-usage", 0).alias("read_usage_15min"),
        _pair_part("x-readratelimit-usage", 1).alias("read_usage_daily"),
        _pair_part("x-readratelimit-limit", 0).alias("read_limit_15min"),
        _pair_part("x-readratelimit-limit", 1).alias("read_limit_daily"),
        _single("fitbit-rate-limit-limit").alias("hourly_limit"),
        _single("fitbit-rate-limit-remaining").alias("hourly_remaining"),
        _single("fitbit-rate-limit-reset").alias("hourly_reset_s"),
        F.col("r.error").alias("error"),
        parse_errors(
            record_errors(F.col("r"), F.col("_text"), RECORD_SCHEMA),
            unreadable("started_at", F.col("r.started_at"), started_at, "an ISO 8601 timestamp"),
        ),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    return with_row_hash(latest_per_key(typed, KEYS).drop("_record_index"))
