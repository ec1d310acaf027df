"""When each rider passed each mark of a stage: the interpolated crossing every gold timing comes from.

A mark is a distance on the route: every kilometre (`KM_M`), and every checkpoint (sprint, splits, climb
foot and top, finish). A rider's matched points, in time order, make consecutive pairs (t0, d0) -> (t1, d1);
the pair crosses mark m when d0 < m <= d1, at t0 + (m - d0) / (d1 - d0) * (t1 - t0). The first such
crossing counts (GPS jitter can make a track cross a mark back and forth). Across a dropout the
crossing is interpolated over the gap. Elapsed time runs from the rider's start: the stage's start time,
or the rider's own start in a time trial (`silver.race_start_times`).

Pairs meet marks by an equi-join on 1 km buckets (a pair spans the buckets its distances cover, usually
one), so the work stays linear in the number of points.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

KM_M = 1000.0
BUCKET_M = 1000.0
FINISH = "finish"
KM_MARK = "km"


def epoch_seconds(ts: Column) -> Column:
    """A timestamp as fractional seconds since the epoch."""
    return F.unix_micros(ts) / F.lit(1e6)


def as_timestamp(seconds: Column) -> Column:
    """Fractional epoch seconds back to a timestamp (microsecond precision)."""
    return F.timestamp_micros(F.round(seconds * F.lit(1e6)).cast("long"))


def marks(stages: DataFrame, checkpoints: DataFrame) -> DataFrame:
    """Every mark of every stage: kilometre marks before the finish, and the checkpoints after the start.

    Columns: stage, mark_m, mark_kind (`km` or the checkpoint kind), checkpoint (name; null for km marks).
    """
    km = stages.select(
        "stage",
        F.explode(F.sequence(F.lit(1), F.ceil(F.col("distance_m") / KM_M).cast("int") - 1)).alias("k"),
    ).select("stage", (F.col("k") * KM_M).alias("mark_m"), F.lit(KM_MARK).alias("mark_kind"),
             F.lit(None).cast("string").alias("checkpoint"))  # fmt: skip
    named = checkpoints.where(F.col("kind") != "start").select(
        "stage", F.col("distance_m").alias("mark_m"), F.col("kind").alias("mark_kind"), "checkpoint"
    )
    return km.unionByName(named)


def rider_starts(telemetry: DataFrame, stages: DataFrame, start_times: DataFrame) -> DataFrame:
    """When each rider with points in a stage started it: (stage, rider_id, start_s)."""
    riders = telemetry.select("stage", "rider_id").distinct()
    return (
        riders.join(F.broadcast(stages.select("stage", "start_time")), on="stage", how="inner")
        .join(
            F.broadcast(start_times.select("stage", "rider_id", F.col("start_time").alias("own_start"))),
            on=["stage", "rider_id"],
            how="left",
        )
        .select("stage", "rider_id", epoch_seconds(F.coalesce("own_start", "start_time")).alias("start_s"))
    )


def point_pairs(telemetry: DataFrame) -> DataFrame:
    """Consecutive matched points of each rider in a stage: (stage, rider_id, t0, d0, t1, d1)."""
    matched = telemetry.where(F.col("distance_m").isNotNull()).select(
        "stage", "rider_id", epoch_seconds(F.col("ts")).alias("t1"), F.col("distance_m").alias("d1")
    )
    ordered = Window.partitionBy("stage", "rider_id").orderBy("t1")
    return (
        matched.select("*", F.lag("t1").over(ordered).alias("t0"), F.lag("d1").over(ordered).alias("d0"))
        .where(F.col("t0").isNotNull() & (F.col("d1") > F.col("d0")))
        .select("stage", "rider_id", "t0", "d0", "t1", "d1")
    )


def crossings(pairs: DataFrame, stage_marks: DataFrame, starts: DataFrame, pair_end: bool = False) -> DataFrame:
    """First crossing of each mark by each rider.

    Columns: stage, rider_id, mark_m, mark_kind, checkpoint, crossed_s (epoch seconds), elapsed_s; with
    `pair_end`, also `pair_end_s`: the time of the second point of the pair that crossed first (the live
    standings use it to tell which crossings a late point can change).
    """
    buckets = pairs.select(
        "*",
        F.explode(
            F.sequence(
                F.floor(F.col("d0") / BUCKET_M).cast("int"), F.floor(F.col("d1") / BUCKET_M).cast("int")
            )
        ).alias("bucket"),
    )
    bucketed_marks = stage_marks.select("*", F.floor(F.col("mark_m") / BUCKET_M).cast("int").alias("bucket"))
    hits = buckets.join(F.broadcast(bucketed_marks), on=["stage", "bucket"], how="inner").where(
        (F.col("d0") < F.col("mark_m")) & (F.col("mark_m") <= F.col("d1"))
    )
    at = F.col("t0") + (F.col("mark_m") - F.col("d0")) / (F.col("d1") - F.col("d0")) * (
        F.col("t1") - F.col("t0")
    )
    first = [F.min(at).alias("crossed_s")]
    if pair_end:  # of pairs crossing at the same instant, the earlier one
        first.append(F.min_by(F.col("t1"), F.struct(at, F.col("t1"))).alias("pair_end_s"))
    firsts = hits.groupBy("stage", "rider_id", "mark_m", "mark_kind", "checkpoint").agg(*first)
    return firsts.join(starts, on=["stage", "rider_id"], how="inner").select(
        "stage", "rider_id", "mark_m", "mark_kind", "checkpoint", "crossed_s",
        (F.col("crossed_s") - F.col("start_s")).alias("elapsed_s"), *(["pair_end_s"] if pair_end else []),
    )  # fmt: skip
