"""The machinery every silver table shares: latest-row-wins deduplication, and an idempotent MERGE.

Which row wins is explicit: the latest ingestion (`_ingested_at`), then the later bronze batch, then the
later file name, then the later record in the file. A MERGE updates a target row only when the business
columns changed (`_row_hash`) and the incoming row is not older, so re-running a load changes nothing and
a re-pulled Strava activity with new kudos updates in place.

A table whose rows come by routes of different worth (Strava's API versus its archive export) names a
*precedence* column (higher wins, e.g. `_route_rank`): it is compared before everything above, both when
choosing among new rows and in the MERGE, so a lower-ranked row never replaces a higher-ranked one,
whichever was ingested last.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse.faults import crash_point
from lakehouse.tables import (
    TableRef,
    append_counted,
    create_with_change_feed,
    delta_table,
    overwrite,
    read_table,
    retry_on_conflict,
    sql_name,
    table_exists,
)

LINEAGE_COLUMNS = ("_source_file", "_batch_id", "_ingested_at", "_row_hash")
WINNER_ORDER = ("_ingested_at", "_batch_id", "_source_file", "_record_index")  # all descending
UPDATE_WHEN_NEWER = "s._row_hash <> t._row_hash AND s._ingested_at >= t._ingested_at"


def latest_per_key(df: DataFrame, keys: Sequence[str], precedence: str | None = None) -> DataFrame:
    """One row per key: the most recently ingested one (ties broken by batch, file, then record index).

    With `precedence` (a column, higher wins), rows are first ordered by it: `latest_per_key(df, keys,
    "_route_rank")` keeps an API row over an archive row of the same key even when the archive came later.
    """
    order = ([precedence] if precedence else []) + list(WINNER_ORDER)
    window = Window.partitionBy(*keys).orderBy(*[F.col(c).desc() for c in order])
    return df.withColumn("_rank", F.row_number().over(window)).where(F.col("_rank") == 1).drop("_rank")


def with_row_hash(df: DataFrame) -> DataFrame:
    """Add `_row_hash`, a SHA-256 of every non-lineage column, to detect real changes."""
    business = [c for c in df.columns if not c.startswith("_")]
    return df.withColumn("_row_hash", F.sha2(F.to_json(F.struct(*[F.col(c) for c in business])), 256))


def merge_upsert(
    spark: SparkSession,
    target: TableRef,
    updates: DataFrame,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    precedence: str | None = None,
    update_condition: str | None = None,
) -> dict[str, int]:
    """Insert new keys, update changed rows whose update is not older; returns Delta's row counts.

    With `precedence` (a column, higher wins), an update must also not be outranked: a higher rank
    replaces a lower one whatever their ingestion times, a lower one never replaces a higher one.
    `update_condition` (SQL on `s` and `t`) replaces the rule altogether, e.g. for a table fed by several
    routes that ranks the routes before the ingestion time.
    """
    if not table_exists(spark, target):
        create_with_change_feed(spark, target, updates.schema, tuple(partition_by))
        crash_point("merge.after_create")  # a re-run MERGEs into the empty table: the same rows
        return {"inserted": append_counted(updates, target), "updated": 0}
    add_new_columns(spark, target, updates)
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    if partition_by:
        # Literal partition values let Delta prune the target to the partitions this batch touches.
        for column in partition_by:
            values = [r[0] for r in updates.select(column).distinct().collect()]
            if values and all(v is not None for v in values):
                literal = ", ".join(f"'{v}'" for v in sorted(str(v) for v in values))
                condition += f" AND t.`{column}` IN ({literal})"
    crash_point("merge.before_upsert")
    metrics = retry_on_conflict(
        lambda: delta_table(spark, target)
        .alias("t")
        .merge(updates.alias("s"), condition)
        .whenMatchedUpdateAll(condition=update_condition or _update_condition(precedence))
        .whenNotMatchedInsertAll()
        .execute(),
        f"MERGE into {target.label}",
    )
    counts = merge_counts(metrics)
    return {"inserted": counts["inserted"], "updated": counts["updated"]}


def add_new_columns(spark: SparkSession, target: TableRef, updates: DataFrame) -> list[str]:
    """Add to an existing table the columns a newer transform gives (null in older rows); their names.

    Delta's schema auto-merge stays off; a transform's new columns (e.g. `source_route` in
    silver.strava_activities) are added here, explicitly, so a table built by an older version keeps merging.
    """

    def add() -> list[str]:
        existing = {field.name for field in read_table(spark, target).schema.fields}
        new = [field for field in updates.schema.fields if field.name not in existing]
        if new:
            columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in new)
            spark.sql(f"ALTER TABLE {sql_name(target)} ADD COLUMNS ({columns})")
        return [field.name for field in new]

    return retry_on_conflict(add, f"new columns of {target.label}")


def _update_condition(precedence: str | None) -> str:
    newer = "s._ingested_at >= t._ingested_at"
    if precedence:
        p = f"`{precedence}`"
        newer = f"(s.{p} > t.{p} OR (s.{p} = t.{p} AND {newer}))"
    return f"s._row_hash <> t._row_hash AND {newer}"


def drop_outranked(updates: DataFrame, current: DataFrame | None, group: Sequence[str], precedence: str) -> DataFrame:
    """The update rows whose group (e.g. one activity) is not held in `current` by a higher-ranked route.

    A whole group is kept or dropped, so an activity's archive samples never mix with its API samples.
    """
    if current is None:
        return updates
    touched = current.join(updates.select(*group).distinct(), on=list(group), how="left_semi")
    held = touched.groupBy(*group).agg(F.max(precedence).alias("_held_rank"))
    return (
        updates.join(held, on=list(group), how="left")
        .where(F.col("_held_rank").isNull() | (F.col(precedence) >= F.col("_held_rank")))
        .drop("_held_rank")
    )


def merge_counts(metrics: DataFrame) -> dict[str, int]:
    """Delta's MERGE result row (num_inserted_rows, num_updated_rows, num_deleted_rows) as a dict."""
    row = metrics.first()
    values = row.asDict() if row else {}
    return {
        "inserted": int(values.get("num_inserted_rows") or 0),
        "updated": int(values.get("num_updated_rows") or 0),
        "deleted": int(values.get("num_deleted_rows") or 0),
    }


def merge_replace(
    spark: SparkSession,
    target: TableRef,
    rows: DataFrame,
    keys: Sequence[str],
    scope: str | None = None,
    change_feed: bool = False,
) -> dict[str, int]:
    """Make the target hold exactly `rows` (a derived table): insert, update changed, delete vanished keys.

    With `scope` (a SQL condition on the target, alias `t`), only target rows in scope may be deleted: the
    way to replace a few months of a table. Unchanged rows are not rewritten, so a re-run with the same
    input changes no row.
    """
    if not table_exists(spark, target):
        if change_feed:
            create_with_change_feed(spark, target, rows.schema)
            crash_point("merge.after_create")
        return {"inserted": append_counted(rows, target), "updated": 0, "deleted": 0}
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    metrics = retry_on_conflict(
        lambda: delta_table(spark, target)
        .alias("t")
        .merge(rows.alias("s"), condition)
        .whenMatchedUpdateAll(condition="s._row_hash <> t._row_hash")
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete(condition=scope)
        .execute(),
        f"MERGE into {target.label}",
    )
    return merge_counts(metrics)


COMPARED_ON_DRIVER = 5_000  # rows a side up to which `changed_rows` compares on the driver (faster below ~10,000)


def _keyed_hashes(df: DataFrame, keys: Sequence[str], limit: int) -> dict[str, str] | None:
    """{key as JSON: `_row_hash`} of `df`'s rows, or None when it has more than `limit` rows (one small job:
    two short strings a row, read at most `limit` + 1 rows).

    Read in one task (`coalesce(1)`, narrow: `df` is a table or a checkpoint): a limit over several partitions
    is Spark's `executeTake`, one job over the first partition, then one over four times as many, and so on
    (3 jobs for 8 partitions). In the demo's weekly run the sides were already one partition or two (428 jobs
    against 430): this keeps a side spread wider from costing more."""
    key = F.to_json(F.struct(*[F.col(k) for k in keys]), {"ignoreNullFields": "false"})
    rows = df.select(key.alias("k"), "_row_hash").coalesce(1).limit(limit + 1).collect()
    return None if len(rows) > limit else {r[0]: r[1] for r in rows}


def changed_rows(
    new: DataFrame, old: DataFrame, keys: Sequence[str], on_driver: int = COMPARED_ON_DRIVER
) -> dict[str, int]:
    """How `old` becomes `new` (both with `_row_hash`, unique keys): rows inserted, updated and deleted.

    Keys compare null-safely, as a MERGE on `<=>` matches them. Tables of up to `on_driver` rows a side (a
    derived gold table: a row per person and week, month or workout) are compared on the driver: each side's
    (key, hash) pairs in one small job, no shuffle. Bigger ones: one grouping by key over both frames in Spark,
    each key's new and old hash side by side, then one count of each case."""
    small_new = _keyed_hashes(new, keys, on_driver) if on_driver > 0 else None
    small_old = _keyed_hashes(old, keys, on_driver) if small_new is not None else None
    if small_new is not None and small_old is not None:
        both = small_new.keys() & small_old.keys()
        return {
            "inserted": len(small_new) - len(both),
            "updated": sum(small_new[k] != small_old[k] for k in both),
            "deleted": len(small_old) - len(both),
        }
    both = new.select(*keys, F.col("_row_hash").alias("_new"), F.lit(None).cast("string").alias("_old")).unionByName(
        old.select(*keys, F.lit(None).cast("string").alias("_new"), F.col("_row_hash").alias("_old"))
    )
    per_key = both.groupBy(*keys).agg(F.max("_new").alias("_new"), F.max("_old").alias("_old"))
    new_hash, old_hash = F.col("_new"), F.col("_old")
    row = per_key.agg(
        F.count(F.when(new_hash.isNotNull() & old_hash.isNotNull() & (new_hash != old_hash), 1)).alias("updated"),
        F.count(F.when(old_hash.isNull(), 1)).alias("inserted"),
        F.count(F.when(new_hash.isNull(), 1)).alias("deleted"),
    ).first()
    return {name: int((row[name] if row else 0) or 0) for name in ("inserted", "updated", "deleted")}


def replace_table(spark: SparkSession, target: TableRef, rows: DataFrame, keys: Sequence[str]) -> dict[str, int]:
    """Make the target hold exactly `rows` (with `_row_hash`): a derived table recomputed whole.

    The cheap way for a small table that is rebuilt from all its inputs: `rows` is computed once, compared
    with the stored (keys, hash) pairs, and written as one overwrite commit only when some row changed; with
    no change, no commit. It ends where `merge_replace` without a scope ends (the same rows) without a MERGE's
    two passes over its source and the target. Returns the rows inserted, updated and deleted."""
    if not table_exists(spark, target):
        return {"inserted": append_counted(rows, target), "updated": 0, "deleted": 0}
    computed = rows.localCheckpoint(eager=True)  # the transform runs once, for the comparison and the write
    counts = changed_rows(computed, read_table(spark, target), keys)
    if any(counts.values()):
        retry_on_conflict(lambda: overwrite(computed, target), f"replace {target.label}")
    return counts
