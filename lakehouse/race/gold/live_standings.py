"""gold.race_live_standings: where every rider is in a stage, and how far behind, as of the latest points.

Grain: one row per stage and rider with points in it. Keys: (`stage`, `rider_id`).
- `last_mark_m`: the furthest mark (kilometre or checkpoint) the rider has passed; `elapsed_at_mark_s`
  his elapsed time there; `gap_s` = that minus the best elapsed time anyone had at the same mark (on the
  road in a mass start; against the clock in a time trial). At the finish mark this is the stage gap.
- `position`: ordered by furthest mark, then elapsed time there (finishers by stage time first); riders
  who have passed no mark yet come last, by distance.
- `as_of_ts`: the newest point of the stage; the standings are exactly those of the points up to it.

The stream recomputes a stage's standings from silver after every micro-batch that touched it and replaces
the stage's rows (`stream`); batch computes the same rows from the same silver, so both agree.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.race.gold.crossings import FINISH

NAME = "race_live_standings"
KEYS = ("stage", "rider_id")


def latest_points(telemetry: DataFrame) -> DataFrame:
    """Each rider's newest matched point in each stage: (stage, rider_id, last_ts, last_distance)."""
    return (
        telemetry.where(F.col("distance_m").isNotNull())
        .groupBy("stage", "rider_id")
        .agg(F.max("ts").alias("last_ts"), F.max_by("distance_m", "ts").alias("last_distance"))
    )


def stage_as_of(telemetry: DataFrame) -> DataFrame:
    """The newest point of each stage: (stage, as_of_ts)."""
    return telemetry.groupBy("stage").agg(F.max("ts").alias("as_of_ts"))


def live_standings(telemetry: DataFrame, crossings: DataFrame, stages: DataFrame) -> DataFrame:
    """Silver points and their crossings -> one standings row per stage and rider."""
    return standings_from(latest_points(telemetry), stage_as_of(telemetry), crossings, stages)


def standings_from(latest: DataFrame, as_of: DataFrame, crossings: DataFrame, stages: DataFrame) -> DataFrame:
    """Standings from each rider's newest point, each stage's newest point, and the crossings."""
    length = F.broadcast(stages.select("stage", F.col("distance_m").alias("stage_m")))
    furthest = crossings.groupBy("stage", "rider_id").agg(
        F.max("mark_m").alias("last_mark_m"),
        F.max_by("elapsed_s", "mark_m").alias("elapsed_at_mark_s"),
        F.max(F.when(F.col("mark_kind") == FINISH, F.col("elapsed_s"))).alias("stage_time_s"),
    )
    best = crossings.groupBy("stage", F.col("mark_m").alias("last_mark_m")).agg(
        F.min("elapsed_s").alias("best_s")
    )
    rows = (
        latest.join(furthest, on=["stage", "rider_id"], how="left")
        .join(best, on=["stage", "last_mark_m"], how="left")
        .join(length, on="stage", how="inner")
        .join(as_of, on="stage", how="inner")
    )
    finished = F.col("stage_time_s").isNotNull()
    distance = F.round(F.least(F.greatest(F.col("last_distance"), F.lit(0.0)), F.col("stage_m")), 1)
    order = Window.partitionBy("stage").orderBy(
        F.col("last_mark_m").desc_nulls_last(), F.col("elapsed_at_mark_s").asc_nulls_last(),
        distance.desc(), "rider_id",
    )  # fmt: skip
    return rows.select(
        "stage",
        "rider_id",
        F.row_number().over(order).alias("position"),
        F.when(finished, F.lit("finished")).otherwise(F.lit("racing")).alias("status"),
        "last_ts",
        distance.alias("distance_m"),
        F.round((F.col("stage_m") - distance) / 1000, 2).alias("km_to_go"),
        "last_mark_m",
        F.round("elapsed_at_mark_s", 3).alias("elapsed_at_mark_s"),
        F.round(F.col("elapsed_at_mark_s") - F.col("best_s"), 3).alias("gap_s"),
        F.round("stage_time_s", 3).alias("stage_time_s"),
        "as_of_ts",
    )
