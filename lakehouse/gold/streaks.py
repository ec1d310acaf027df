"""gold.streaks and gold.eddington: runs of active days, and the Eddington number, per sport.

streaks
    Grain: one row per person per sport family. Keys: (`person_id`, `sport`).
    Longest run of consecutive active days (with its first and last day) and the latest run.
eddington
    Grain: one row per person per sport family per unit (km, mi). Keys: (`person_id`, `sport`, `unit`).
    The largest E such that at least E days have at least E units of distance in that sport.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.exact import exact_sum

STREAKS_NAME = "streaks"
STREAKS_KEYS = ("person_id", "sport")
EDDINGTON_NAME = "eddington"
EDDINGTON_KEYS = ("person_id", "sport", "unit")
UNITS_M = {"km": 1000.0, "mi": 1609.344}


def streaks(workouts: DataFrame) -> DataFrame:
    """silver.workouts -> longest and latest streak of consecutive active days per (athlete, sport)."""
    days = workouts.select("person_id", "sport", "workout_date").distinct()
    order = Window.partitionBy("person_id", "sport").orderBy("workout_date")
    # Consecutive days share the same (date - row number): the classic gaps-and-islands grouping.
    islands = days.withColumn("island", F.date_sub("workout_date", F.row_number().over(order).cast("int")))
    runs = islands.groupBy("person_id", "sport", "island").agg(
        F.min("workout_date").alias("start"),
        F.max("workout_date").alias("end"),
        F.count(F.lit(1)).alias("days"),
    )
    longest = Window.partitionBy("person_id", "sport").orderBy(F.col("days").desc(), F.col("end").desc())
    latest = Window.partitionBy("person_id", "sport").orderBy(F.col("end").desc())
    ranked = runs.withColumn("by_length", F.row_number().over(longest)).withColumn(
        "by_recency", F.row_number().over(latest)
    )
    best = ranked.where("by_length = 1").select(
        "person_id", "sport", F.col("days").alias("longest_streak_days"),
        F.col("start").alias("longest_streak_start"), F.col("end").alias("longest_streak_end"),
    )  # fmt: skip
    last = ranked.where("by_recency = 1").select(
        "person_id",
        "sport",
        F.col("days").alias("latest_streak_days"),
        F.col("end").alias("last_active_day"),
    )
    return best.join(last, on=["person_id", "sport"], how="inner")


def eddington(workouts: DataFrame) -> DataFrame:
    """silver.workouts -> the Eddington number per (athlete, sport, unit)."""
    daily = workouts.groupBy("person_id", "sport", "workout_date").agg(exact_sum("distance_m").alias("distance_m"))
    units = daily.crossJoin(
        daily.sparkSession.createDataFrame(list(UNITS_M.items()), "unit string, metres double")
    ).withColumn("distance", F.col("distance_m") / F.col("metres"))
    rank = Window.partitionBy("person_id", "sport", "unit").orderBy(F.col("distance").desc())
    # With days sorted by distance, E is the largest rank i whose day still has at least i units.
    ranked = units.withColumn("i", F.row_number().over(rank))
    return ranked.groupBy("person_id", "sport", "unit").agg(
        F.coalesce(F.max(F.when(F.col("distance") >= F.col("i"), F.col("i"))), F.lit(0)).cast("int").alias("eddington"),
        F.count(F.lit(1)).alias("active_days"),
    )
