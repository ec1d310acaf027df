"""Bookkeeping tables stay small however many runs append to them: `append_rows` writes one file per append,
`compact_small_files` merges a table's files once it holds more than the limit (rows unchanged, no commit when
it need not), and `file_count` (read from Delta's checksum file) agrees with Delta's own DESCRIBE DETAIL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import SparkSession

from lakehouse import stages
from lakehouse.config import Settings
from lakehouse.gold.run import PROGRESS_SCHEMA, PROGRESS_TABLE
from lakehouse.tables import (
    Tables,
    append_rows,
    compact_small_files,
    current_version,
    delta_table,
    file_count,
    read_table,
)

SCHEMA = "k int, v string"


def test_appends_are_one_file_each_and_compaction_keeps_every_row(spark: SparkSession, settings: Settings) -> None:
    ref = Tables(settings).ref("ops", "ledger_like")
    schema = spark.createDataFrame([], SCHEMA).schema
    assert file_count(spark, ref) is None  # no table yet
    for i in range(7):  # three rows per append: one file each, not one per core
        append_rows(spark, [(i, "a"), (i, "b"), (i, "c")], schema, ref)
    detail = int(delta_table(spark, ref).detail().select("numFiles").first()[0])
    assert detail == 7
    assert file_count(spark, ref) == 7
    rows = sorted(map(tuple, read_table(spark, ref).collect()))
    assert len(rows) == 21

    assert compact_small_files(spark, ref, limit=10) is None  # 7 <= 10: nothing to do
    version = current_version(spark, ref)
    assert compact_small_files(spark, ref, limit=5) == 7
    assert current_version(spark, ref) == version + 1  # one OPTIMIZE commit
    assert file_count(spark, ref) == 1
    assert int(delta_table(spark, ref).detail().select("numFiles").first()[0]) == 1
    assert sorted(map(tuple, read_table(spark, ref).collect())) == rows
    assert compact_small_files(spark, ref, limit=5) is None  # compacted already: no commit
    assert current_version(spark, ref) == version + 1


def test_every_run_compacts_the_bookkeeping_tables_past_the_limit(
    spark: SparkSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = Tables(settings).ref(*PROGRESS_TABLE)
    now = datetime.now(UTC)
    for version in range(4):
        append_rows(spark, [("streaks", "workouts", version, "full", "r", now)], PROGRESS_SCHEMA, ref)
    monkeypatch.setattr("lakehouse.tables.SMALL_FILES_LIMIT", 3)
    stages.compact_bookkeeping(spark, settings)  # the other bookkeeping tables do not exist: skipped
    assert file_count(spark, ref) == 1
    assert sorted(r["source_version"] for r in read_table(spark, ref).collect()) == [0, 1, 2, 3]
