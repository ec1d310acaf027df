"""gold.kudos_weekly: kudos per week and workout type, with the change from the previous week.

Grain: one row per athlete per ISO week (Monday start) per sport type, over every week from the athlete's
first to last activity of that type (weeks without activities count as 0 kudos, so "the previous week"
is always the calendar week before, unlike a bare LAG over weeks that happen to have data).
Keys: (`athlete_id`, `week_start`, `sport_type`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

NAME = "kudos_weekly"
KEYS = ("athlete_id", "week_start", "sport_type")


def weekly_kudos(activities: DataFrame) -> DataFrame:
    """silver.strava_activities -> kudos per (athlete, week, sport) and % change from the week before."""
    weekly = activities.groupBy(
        "athlete_id",
        F.date_trunc("week", F.col("activity_date")).cast("date").alias("week_start"),
        "sport_type",
    ).agg(F.count(F.lit(1)).alias("activities"), F.sum("kudos_count").cast("long").alias("kudos"))
    spine = (
        weekly.groupBy("athlete_id", "sport_type")
        .agg(F.min("week_start").alias("first"), F.max("week_start").alias("last"))
        .select(
            "athlete_id",
            "sport_type",
            F.explode(F.sequence("first", "last", F.expr("INTERVAL 7 DAYS"))).alias("week_start"),
        )
    )
    filled = spine.join(weekly, on=["athlete_id", "sport_type", "week_start"], how="left").select(
        "athlete_id",
        "week_start",
        "sport_type",
        F.coalesce("activities", F.lit(0)).cast("long").alias("activities"),
        F.coalesce("kudos", F.lit(0)).cast("long").alias("kudos"),
    )
    previous = F.lag("kudos").over(Window.partitionBy("athlete_id", "sport_type").orderBy("week_start"))
    return filled.withColumn("previous_week_kudos", previous).withColumn(
        "kudos_change_pct",
        F.when(
            F.col("previous_week_kudos") > 0,
            F.round((F.col("kudos") - F.col("previous_week_kudos")) / F.col("previous_week_kudos") * 100, 2),
        ),
    )
