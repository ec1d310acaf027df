"""The silver MERGE on a tiny Delta table: idempotent re-runs, in-place updates, older rows never win."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Settings
from lakehouse.tables import Tables, read_table
from lakehouse.tables.merge import merge_upsert, with_row_hash

SCHEMA = "athlete_id long, activity_id long, kudos_count int, _ingested_at timestamp"
KEYS = ("athlete_id", "activity_id")


def rows(spark: SparkSession, data: list[tuple[int, int, int, datetime]]) -> DataFrame:
    return with_row_hash(spark.createDataFrame(data, SCHEMA))


def current(spark: SparkSession, settings: Settings) -> DataFrame:
    return read_table(spark, Tables(settings).ref("silver", "t")).select("athlete_id", "activity_id", "kudos_count")


def test_merge_inserts_then_changes_nothing_on_rerun(spark: SparkSession, settings: Settings) -> None:
    target = Tables(settings).ref("silver", "t")
    batch = rows(spark, [(1, 10, 2, datetime(2024, 1, 1)), (1, 11, 0, datetime(2024, 1, 1))])
    first = merge_upsert(spark, target, batch, KEYS)
    second = merge_upsert(spark, target, batch, KEYS)

    assert first == {"inserted": 2, "updated": 0}
    assert second == {"inserted": 0, "updated": 0}
    expected = spark.createDataFrame([(1, 10, 2), (1, 11, 0)], "athlete_id long, activity_id long, kudos_count int")
    assert_df_equality(current(spark, settings), expected, ignore_row_order=True, ignore_nullable=True)


def test_repulled_activity_updates_in_place_and_older_data_never_wins(spark: SparkSession, settings: Settings) -> None:
    target = Tables(settings).ref("silver", "t")
    merge_upsert(spark, target, rows(spark, [(1, 10, 2, datetime(2024, 1, 1))]), KEYS)
    newer = merge_upsert(spark, target, rows(spark, [(1, 10, 7, datetime(2024, 1, 8))]), KEYS)
    older = merge_upsert(spark, target, rows(spark, [(1, 10, 1, datetime(2023, 12, 25))]), KEYS)

    assert newer == {"inserted": 0, "updated": 1}
    assert older == {"inserted": 0, "updated": 0}
    expected = spark.createDataFrame([(1, 10, 7)], "athlete_id long, activity_id long, kudos_count int")
    assert_df_equality(current(spark, settings), expected, ignore_row_order=True, ignore_nullable=True)
