"""The silver MERGE on a tiny Delta table: idempotent re-runs, in-place updates, older rows never win; and the
whole-table replace of a derived (gold) table, which commits only when a row changed."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Settings
from lakehouse.tables import Tables, read_table, table_version
from lakehouse.tables.merge import changed_rows, drop_outranked, merge_upsert, replace_table, with_row_hash

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


RANKED = "athlete_id long, activity_id long, kudos_count int, _route_rank int, _ingested_at timestamp"


def test_a_higher_route_rank_wins_the_merge_whichever_comes_last(spark: SparkSession, settings: Settings) -> None:
    target = Tables(settings).ref("silver", "t")

    def batch(data: list[tuple[int, int, int, int, datetime]]) -> DataFrame:
        return with_row_hash(spark.createDataFrame(data, RANKED))

    # activity 10: the API copy (rank 1) first, the archive's (rank 0) later; activity 11: the other way round.
    merge_upsert(spark, target, batch([(1, 10, 5, 1, datetime(2024, 1, 1)), (1, 11, 0, 0, datetime(2024, 1, 1))]),
                 KEYS, precedence="_route_rank")  # fmt: skip
    later = merge_upsert(
        spark, target, batch([(1, 10, 0, 0, datetime(2024, 2, 1)), (1, 11, 3, 1, datetime(2023, 12, 1))]),
        KEYS, precedence="_route_rank",
    )  # fmt: skip

    assert later == {"inserted": 0, "updated": 1}
    expected = spark.createDataFrame([(1, 10, 5), (1, 11, 3)], "athlete_id long, activity_id long, kudos_count int")
    assert_df_equality(current(spark, settings), expected, ignore_row_order=True, ignore_nullable=True)


def test_drop_outranked_keeps_or_drops_a_whole_group(spark: SparkSession) -> None:
    schema = "activity_id long, point int, _route_rank int"
    held = spark.createDataFrame([(1, 0, 1), (1, 1, 1), (2, 0, 0)], schema)  # 1 from the API, 2 from the archive
    updates = spark.createDataFrame([(1, 0, 0), (1, 1, 0), (1, 2, 0), (2, 0, 1), (3, 0, 0)], schema)

    kept = drop_outranked(updates, held, ("activity_id",), "_route_rank")

    expected = spark.createDataFrame([(2, 0, 1), (3, 0, 0)], schema)
    assert_df_equality(kept, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_table_from_an_older_transform_gets_the_new_columns(spark: SparkSession, settings: Settings) -> None:
    target = Tables(settings).ref("silver", "t")
    merge_upsert(spark, target, rows(spark, [(1, 10, 2, datetime(2024, 1, 1))]), KEYS)
    newer = with_row_hash(
        spark.createDataFrame([(1, 11, 0, "archive", datetime(2024, 2, 1))], f"{SCHEMA.rsplit(',', 1)[0]}, "
                              "source_route string, _ingested_at timestamp")
    )  # fmt: skip

    assert merge_upsert(spark, target, newer, KEYS) == {"inserted": 1, "updated": 0}
    routes = read_table(spark, target).select("activity_id", "source_route")
    expected = spark.createDataFrame([(10, None), (11, "archive")], "activity_id long, source_route string")
    assert_df_equality(routes, expected, ignore_row_order=True, ignore_nullable=True)


DERIVED = "person_id string, month string, workouts long"
DERIVED_KEYS = ("person_id", "month")


def derived(spark: SparkSession, data: list[tuple[str | None, str, int]]) -> DataFrame:
    return with_row_hash(spark.createDataFrame(data, DERIVED))


def test_changed_rows_counts_inserts_updates_and_deletes_with_null_safe_keys(spark: SparkSession) -> None:
    old = derived(spark, [("sam", "2024-01", 3), ("sam", "2024-02", 4), (None, "2024-01", 1), ("ana", "2024-01", 2)])
    new = derived(spark, [("sam", "2024-01", 3), ("sam", "2024-02", 5), (None, "2024-01", 1), ("ana", "2024-03", 1)])

    # by hand: sam/2024-02 changed (4 -> 5); ana/2024-03 is new; ana/2024-01 is gone; the NULL person's row is
    # the same row (keys compare null-safely, as the MERGE's `<=>` does) and sam/2024-01 is untouched.
    # Compared on the driver (4 rows a side), in Spark (0), and in Spark after finding a side too big (3).
    for on_driver in (100, 0, 3):
        assert changed_rows(new, old, DERIVED_KEYS, on_driver) == {"inserted": 1, "updated": 1, "deleted": 1}
        assert changed_rows(old, old, DERIVED_KEYS, on_driver) == {"inserted": 0, "updated": 0, "deleted": 0}
        assert changed_rows(new, old.limit(0), DERIVED_KEYS, on_driver) == {"inserted": 4, "updated": 0, "deleted": 0}
        assert changed_rows(old.limit(0), old, DERIVED_KEYS, on_driver) == {"inserted": 0, "updated": 0, "deleted": 4}


def test_changed_rows_reads_each_small_side_in_one_job(spark: SparkSession) -> None:
    """A side spread over 8 partitions (a checkpoint of a shuffled frame) is read in one job, not in Spark's
    limit steps (1 partition, then 4, then the rest: 3 jobs a side)."""
    context = spark.sparkContext
    old = derived(spark, [("sam", "2024-01", 3), ("sam", "2024-02", 4), ("ana", "2024-01", 2)])
    new = derived(spark, [("sam", "2024-01", 3), ("sam", "2024-02", 5), ("ana", "2024-03", 1)])
    spread = [side.repartition(8).localCheckpoint(eager=True) for side in (new, old)]
    group = "changed-rows-jobs"
    context.setJobGroup(group, "changed_rows")
    try:
        counts = changed_rows(*spread, DERIVED_KEYS)
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]

    assert counts == {"inserted": 1, "updated": 1, "deleted": 1}
    assert len(context.statusTracker().getJobIdsForGroup(group)) == 2  # one a side


def test_replace_table_commits_only_when_a_row_changed(spark: SparkSession, settings: Settings) -> None:
    target = Tables(settings).ref("gold", "monthly")
    first = [("sam", "2024-01", 3), ("sam", "2024-02", 4), ("ana", "2024-01", 2)]
    assert replace_table(spark, target, derived(spark, first), DERIVED_KEYS) == {
        "inserted": 3, "updated": 0, "deleted": 0
    }  # fmt: skip
    version = table_version(spark, target)

    assert replace_table(spark, target, derived(spark, first), DERIVED_KEYS) == {
        "inserted": 0, "updated": 0, "deleted": 0
    }  # fmt: skip
    assert table_version(spark, target) == version  # nothing changed: no commit

    second = [("sam", "2024-01", 3), ("sam", "2024-02", 6), ("sam", "2024-03", 1)]
    assert replace_table(spark, target, derived(spark, second), DERIVED_KEYS) == {
        "inserted": 1, "updated": 1, "deleted": 1
    }  # fmt: skip
    assert table_version(spark, target) == version + 1  # one commit
    expected = spark.createDataFrame(second, DERIVED)
    assert_df_equality(
        read_table(spark, target).select("person_id", "month", "workouts"),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
    )
