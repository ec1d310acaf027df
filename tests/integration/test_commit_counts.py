"""Rows written, read from the commit that wrote them (`append_counted`, `overwrite_counted`): the count each
write reports equals the rows it was given (counted by hand) and what Delta's own history says."""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.tables import (
    Tables,
    append_counted,
    delta_table,
    last_commit_rows,
    overwrite_counted,
    read_table,
)
from lakehouse.tables.merge import merge_replace, with_row_hash


def _history_rows(spark: SparkSession, settings: Settings, name: str) -> str | None:
    ref = Tables(settings).ref("ops", name)
    last = delta_table(spark, ref).history(1).select("operationMetrics").first()
    return (last[0] or {}).get("numOutputRows")


def test_each_write_reports_the_rows_it_wrote(spark: SparkSession, settings: Settings) -> None:
    ref = Tables(settings).ref("ops", "counted")
    three = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], "k int, v string")
    assert append_counted(three, ref) == 3  # creates the table
    assert _history_rows(spark, settings, "counted") == "3"
    two = spark.createDataFrame([(4, "d"), (5, "e")], "k int, v string")
    assert append_counted(two, ref) == 2
    assert read_table(spark, ref).count() == 5
    one = spark.createDataFrame([(9, "z")], "k int, v string")
    assert overwrite_counted(one, ref) == 1
    assert _history_rows(spark, settings, "counted") == "1"
    empty = spark.createDataFrame([], "k int, v string")
    assert append_counted(empty, ref) == 0


def test_a_merge_is_not_read_as_a_write(spark: SparkSession, settings: Settings) -> None:
    ref = Tables(settings).ref("ops", "merged")
    rows = with_row_hash(spark.createDataFrame([(1, "a"), (2, "b")], "k int, v string"))
    assert merge_replace(spark, ref, rows, ["k"])["inserted"] == 2
    changed = with_row_hash(spark.createDataFrame([(1, "a"), (2, "B"), (3, "c")], "k int, v string"))
    assert merge_replace(spark, ref, changed, ["k"]) == {"inserted": 1, "updated": 1, "deleted": 0}
    # The newest commit is a MERGE: it has no numOutputRows of a write, so the caller must count for itself.
    assert last_commit_rows(spark, ref) is None
