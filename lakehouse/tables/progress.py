"""Progress bookkeeping shared by every layer: which bronze batches each silver table has merged.

`ops.silver_progress`: one row per silver table, bronze table and run that merged something; the highest
`last_bronze_batch` per (silver table, bronze table) is where the next run starts. It is written after the
MERGE; a crash in between re-merges the same batches, which changes nothing (MERGEs only update rows whose
content differs and is not older).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.tables import Tables, append_rows, create_if_missing, read_table

SILVER_PROGRESS_TABLE = ("ops", "silver_progress")
SILVER_PROGRESS_SCHEMA = T.StructType(
    [
        T.StructField("silver_table", T.StringType(), False),
        T.StructField("bronze_table", T.StringType(), False),
        T.StructField("last_bronze_batch", T.LongType(), False),
        T.StructField("rows_in", T.LongType()),
        T.StructField("rows_inserted", T.LongType()),
        T.StructField("rows_updated", T.LongType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("merged_at", T.TimestampType()),
    ]
)


def last_bronze_batches(spark: SparkSession, tables: Tables, silver_name: str) -> dict[str, int]:
    """The highest bronze batch merged into `silver_name`, per bronze table (empty when none yet)."""
    return all_last_bronze_batches(spark, tables).get(silver_name, {})


def all_last_bronze_batches(spark: SparkSession, tables: Tables) -> dict[str, dict[str, int]]:
    """The highest bronze batch merged into every silver table, per bronze table, in one read:
    `{silver table: {bronze table: batch}}`."""
    ref = tables.ref(*SILVER_PROGRESS_TABLE)
    create_if_missing(spark, ref, spark.createDataFrame([], SILVER_PROGRESS_SCHEMA))
    rows = (
        read_table(spark, ref)
        .groupBy("silver_table", "bronze_table")
        .agg(F.max("last_bronze_batch").alias("last"))
        .collect()
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["silver_table"], {})[r["bronze_table"]] = int(r["last"])
    return out


def record_silver_progress(
    spark: SparkSession,
    tables: Tables,
    silver_name: str,
    upto: dict[str, int],
    counts: tuple[int, int, int],
    run_id: str,
) -> None:
    """Record that `silver_name` merged each bronze table up to its batch in `upto` (one commit).

    `counts` is (rows in, rows inserted, rows updated). Example:
    `record_silver_progress(spark, tables, "strava_activities", {"strava_activities": 7}, (10, 8, 2), run_id)`.
    """
    now = datetime.now(UTC)
    rows = [(silver_name, bronze, batch, *counts, run_id, now) for bronze, batch in upto.items()]
    append_rows(spark, rows, SILVER_PROGRESS_SCHEMA, tables.ref(*SILVER_PROGRESS_TABLE))
