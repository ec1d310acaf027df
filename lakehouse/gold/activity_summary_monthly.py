"""gold.activity_summary_monthly: what each athlete did each month, per sport.

Grain: one row per athlete per calendar month (of the activity's local date) per sport.
Keys: (`athlete_id`, `month`, `sport_type`).
Mean speed is total distance over total moving time (not a mean of per-activity speeds), and mean pace is
its inverse in minutes per km, so a long slow run weighs as much as its length.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.exact import exact_sum

NAME = "activity_summary_monthly"
KEYS = ("athlete_id", "month", "sport_type")


def summarise(activities: DataFrame) -> DataFrame:
    """silver.strava_activities -> one row per (athlete, month, sport)."""
    totals = activities.groupBy(
        F.col("athlete_id"),
        F.trunc(F.col("activity_date"), "month").alias("month"),
        F.col("sport_type"),
    ).agg(
        F.count(F.lit(1)).alias("activities"),
        exact_sum("distance_m").alias("distance_m"),
        exact_sum("moving_time_s").alias("moving_time_s"),
        exact_sum("elevation_gain_m").alias("elevation_gain_m"),
        F.sum("kudos_count").alias("kudos"),
    )
    return totals.select(
        "athlete_id",
        "month",
        "sport_type",
        "activities",
        F.round(F.col("distance_m") / 1000, 3).alias("distance_km"),
        F.round(F.col("moving_time_s") / 3600, 3).alias("moving_time_h"),
        F.round(F.coalesce(F.col("elevation_gain_m"), F.lit(0.0)), 1).alias("elevation_gain_m"),
        F.round(F.when(F.col("moving_time_s") > 0, F.col("distance_m") / F.col("moving_time_s") * 3.6), 3).alias(
            "mean_speed_kmh"
        ),
        F.round(F.when(F.col("distance_m") > 0, (F.col("moving_time_s") / 60) / (F.col("distance_m") / 1000)), 3).alias(
            "mean_pace_min_per_km"
        ),
        F.col("kudos").cast("long").alias("kudos"),
        F.round(F.col("kudos") / F.col("activities"), 2).alias("kudos_per_activity"),
    )
