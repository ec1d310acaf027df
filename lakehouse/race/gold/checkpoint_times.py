"""gold.race_checkpoint_times and gold.race_climb_times: splits at every checkpoint, and every climb.

race_checkpoint_times: one row per stage, rider and checkpoint passed (all but the start).
Keys: (`stage`, `rider_id`, `checkpoint`). The interpolated crossing, elapsed time from the rider's
start, the order of passage (by elapsed time, so time trials compare fairly) and the gap to the fastest.

race_climb_times: one row per stage, rider and climb with both foot and top passed.
Keys: (`stage`, `rider_id`, `climb`). Climb time = top crossing - foot crossing; the ascent is the route's
altitude gain from foot to top; VAM = ascent (m) / climb time (h). Rank 1 is the fastest up.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.race.gold.crossings import KM_MARK, as_timestamp

CHECKPOINTS_NAME = "race_checkpoint_times"
CHECKPOINT_KEYS = ("stage", "rider_id", "checkpoint")
CLIMBS_NAME = "race_climb_times"
CLIMB_KEYS = ("stage", "rider_id", "climb")


def checkpoint_times(crossings: DataFrame, checkpoints: DataFrame) -> DataFrame:
    """Crossings of named checkpoints, with order of passage and gap."""
    named = crossings.where(F.col("mark_kind") != KM_MARK)
    passage = Window.partitionBy("stage", "checkpoint").orderBy("elapsed_s", "rider_id")
    fastest = F.min("elapsed_s").over(Window.partitionBy("stage", "checkpoint"))
    return named.join(
        F.broadcast(checkpoints.select("stage", "checkpoint", "checkpoint_order", "climb", "category")),
        on=["stage", "checkpoint"],
        how="inner",
    ).select(
        "stage",
        "rider_id",
        "checkpoint",
        F.col("mark_kind").alias("kind"),
        "checkpoint_order",
        F.col("mark_m").alias("distance_m"),
        as_timestamp(F.col("crossed_s")).alias("crossed_at"),
        F.round("elapsed_s", 3).alias("elapsed_s"),
        F.row_number().over(passage).alias("position"),
        F.round(F.col("elapsed_s") - fastest, 3).alias("gap_s"),
    )


def climb_times(crossings: DataFrame, checkpoints: DataFrame) -> DataFrame:
    """Foot-to-top time and VAM of every climb ridden."""
    ends = checkpoints.where(F.col("kind").isin("climb_foot", "climb_top")).select(
        "stage", "checkpoint", "kind", "climb", "category", "distance_m", "altitude_m"
    )
    passed = crossings.join(F.broadcast(ends), on=["stage", "checkpoint"], how="inner")
    per_climb = passed.groupBy("stage", "rider_id", "climb", "category").agg(
        F.max(F.when(F.col("kind") == "climb_foot", F.col("crossed_s"))).alias("foot_s"),
        F.max(F.when(F.col("kind") == "climb_top", F.col("crossed_s"))).alias("top_s"),
        F.max(F.when(F.col("kind") == "climb_foot", F.col("distance_m"))).alias("foot_m"),
        F.max(F.when(F.col("kind") == "climb_top", F.col("distance_m"))).alias("top_m"),
        F.max(F.when(F.col("kind") == "climb_foot", F.col("altitude_m"))).alias("foot_alt"),
        F.max(F.when(F.col("kind") == "climb_top", F.col("altitude_m"))).alias("top_alt"),
    )
    both = per_climb.where(F.col("foot_s").isNotNull() & F.col("top_s").isNotNull())
    climb_s = F.col("top_s") - F.col("foot_s")
    ascent = F.col("top_alt") - F.col("foot_alt")
    length = F.col("top_m") - F.col("foot_m")
    ranked = both.select("*", climb_s.alias("climb_time"), ascent.alias("ascent"), length.alias("length"))
    order = Window.partitionBy("stage", "climb").orderBy("climb_time", "rider_id")
    fastest = F.min("climb_time").over(Window.partitionBy("stage", "climb"))
    return ranked.select(
        "stage",
        "rider_id",
        "climb",
        "category",
        "foot_m",
        "top_m",
        F.round("length", 1).alias("length_m"),
        F.round("ascent", 1).alias("ascent_m"),
        F.round(F.col("ascent") / F.col("length") * 100, 2).alias("avg_gradient_pct"),
        as_timestamp(F.col("foot_s")).alias("foot_at"),
        as_timestamp(F.col("top_s")).alias("top_at"),
        F.round("climb_time", 3).alias("climb_time_s"),
        F.round(F.col("ascent") / (F.col("climb_time") / 3600), 1).alias("vam_m_per_h"),
        F.row_number().over(order).alias("rank"),
        F.round(F.col("climb_time") - fastest, 3).alias("gap_s"),
    )
