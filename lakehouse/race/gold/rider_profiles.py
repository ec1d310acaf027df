"""gold.race_rider_profiles: speed against gradient, kilometre by kilometre, for every rider and stage.

Grain: one row per stage, rider and kilometre ridden (`km` 0 is the first; the last runs to the finish
line). Keys: (`stage`, `rider_id`, `km`). Time in the kilometre comes from crossings (its start: the
rider's start for km 0), speed = length / time; the gradient is the route's (rise over run of the
kilometre); power, heart rate and cadence are means over the rider's points in it (null without sensor).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.exact import exact_avg
from lakehouse.race.gold.crossings import FINISH, KM_M, KM_MARK

NAME = "race_rider_profiles"
KEYS = ("stage", "rider_id", "km")


def route_kilometres(route_points: DataFrame, stages: DataFrame) -> DataFrame:
    """Per stage and kilometre of the route: its exact length, and mean gradient from the route points.

    The gradient runs from the kilometre's first route point to the next kilometre's first point, so
    consecutive kilometres share ends and their rises add up to the stage's.
    """
    finish = F.broadcast(stages.select("stage", F.col("distance_m").alias("finish_m")))
    last_km = F.ceil(F.col("finish_m") / KM_M) - 1
    points = (
        route_points.join(finish, on="stage", how="inner")
        .where(F.col("distance_m") <= F.col("finish_m"))
        .select(
            "stage", "distance_m", "altitude_m", "finish_m",
            F.least(F.floor(F.col("distance_m") / KM_M), last_km).cast("int").alias("km"),
        )
    )  # fmt: skip
    ordered = Window.partitionBy("stage").orderBy("distance_m")
    with_next = points.select(
        "*",
        F.lead("distance_m").over(ordered).alias("next_m"),
        F.lead("altitude_m").over(ordered).alias("next_alt"),
    )
    per_km = with_next.groupBy("stage", "km").agg(
        F.min("distance_m").alias("from_m"),
        F.max(F.coalesce("next_m", "distance_m")).alias("to_m"),
        F.min_by("altitude_m", "distance_m").alias("alt_from"),
        F.max_by(F.coalesce("next_alt", "altitude_m"), "distance_m").alias("alt_to"),
        F.first("finish_m").alias("finish_m"),
    )
    run = F.col("to_m") - F.col("from_m")
    return per_km.select(
        "stage",
        "km",
        F.round(F.least(F.col("km") * KM_M + KM_M, F.col("finish_m")) - F.col("km") * KM_M, 1).alias(
            "length_m"
        ),
        F.round(F.when(run > 0, (F.col("alt_to") - F.col("alt_from")) / run * 100), 2).alias("gradient_pct"),
    )


def rider_profiles(
    crossings: DataFrame, telemetry: DataFrame, route_points: DataFrame, stages: DataFrame
) -> DataFrame:
    """Per rider, stage and kilometre: time, speed, route gradient and mean power, heart rate, cadence."""
    ends = crossings.where((F.col("mark_kind") == KM_MARK) | (F.col("mark_kind") == FINISH)).select(
        "stage", "rider_id", F.col("mark_m"), "elapsed_s"
    )
    ends = ends.select(
        "stage", "rider_id", (F.ceil(F.col("mark_m") / KM_M) - 1).cast("int").alias("km"), "elapsed_s"
    )
    ordered = Window.partitionBy("stage", "rider_id").orderBy("km")
    timed = ends.select(
        "*",
        F.coalesce(F.lag("elapsed_s").over(ordered), F.lit(0.0)).alias("from_s"),
        F.lag("km").over(ordered).alias("prev"),
    ).where(F.col("prev").isNull() & (F.col("km") == 0) | (F.col("prev") == F.col("km") - 1))
    route_km = route_kilometres(route_points, stages)
    finish = F.broadcast(stages.select("stage", F.col("distance_m").alias("finish_m")))
    sensors = (
        telemetry.where(F.col("distance_m").isNotNull())
        .join(finish, "stage")
        .where((F.col("distance_m") >= 0) & (F.col("distance_m") < F.col("finish_m")))
        .groupBy("stage", "rider_id", F.floor(F.col("distance_m") / KM_M).cast("int").alias("km"))
        .agg(
            exact_avg("power_w").alias("power_w"),
            exact_avg("heart_rate_bpm").alias("heart_rate_bpm"),
            exact_avg("cadence_rpm").alias("cadence_rpm"),
        )
    )
    seconds = F.col("elapsed_s") - F.col("from_s")
    return (
        timed.join(F.broadcast(route_km), on=["stage", "km"], how="inner")
        .join(sensors, on=["stage", "rider_id", "km"], how="left")
        .select(
            "stage",
            "rider_id",
            "km",
            "length_m",
            F.round(seconds, 3).alias("seconds"),
            F.round(F.col("length_m") / seconds * 3.6, 2).alias("speed_kmh"),
            "gradient_pct",
            F.round("power_w", 1).alias("power_w"),
            F.round("heart_rate_bpm", 1).alias("heart_rate_bpm"),
            F.round("cadence_rpm", 1).alias("cadence_rpm"),
        )
    )
