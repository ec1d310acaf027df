"""gold.fitbit_daily_summary and gold.hr_zone_minutes_daily: Fitbit per day.

fitbit_daily_summary
    Grain: one row per user per local day per metric. Keys: (`user_id`, `date`, `metric`).
    From the intraday series: total (sum; for heart rate, null), mean, min, max, samples, minutes covered.
hr_zone_minutes_daily
    Grain: one row per user per local day. Keys: (`user_id`, `date`).
    Minutes in each Fitbit heart-rate zone (Out of Range, Fat Burn, Cardio, Peak) and the resting heart rate,
    from Fitbit's own daily summary.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.exact import exact_avg, exact_sum

SUMMARY_NAME = "fitbit_daily_summary"
SUMMARY_KEYS = ("user_id", "date", "metric")
ZONES_NAME = "hr_zone_minutes_daily"
ZONES_KEYS = ("user_id", "date")
ZONE_COLUMNS = {"Out of Range": "out_of_range_min", "Fat Burn": "fat_burn_min", "Cardio": "cardio_min",
                "Peak": "peak_min"}  # fmt: skip


def daily_summary(intraday: DataFrame) -> DataFrame:
    """silver.fitbit_intraday -> one row per (user, day, metric)."""
    is_rate = F.col("metric") == "heart_rate_bpm"
    return intraday.groupBy("user_id", "date", "metric").agg(
        F.when(~F.first(is_rate), F.round(exact_sum("value"), 3)).alias("total"),
        F.round(exact_avg("value"), 3).alias("mean"),
        F.min("value").alias("min"),
        F.max("value").alias("max"),
        F.count(F.lit(1)).alias("samples"),
        F.round(F.sum("interval_s") / 60, 1).alias("minutes_covered"),
    )


def zone_minutes(daily: DataFrame) -> DataFrame:
    """silver.fitbit_daily (heart rate rows) -> minutes per zone per (user, day)."""
    zones = daily.where(F.col("metric") == "heart_rate_bpm").select(
        "user_id", "date", "resting_heart_rate_bpm", F.explode("heart_rate_zones").alias("z")
    )
    pivoted = (
        zones.groupBy("user_id", "date", "resting_heart_rate_bpm")
        .pivot("z.zone", list(ZONE_COLUMNS))
        .agg(F.first("z.minutes"))
    )
    return pivoted.select(
        "user_id",
        "date",
        *[F.coalesce(F.col(f"`{zone}`"), F.lit(0)).cast("int").alias(col) for zone, col in ZONE_COLUMNS.items()],
        "resting_heart_rate_bpm",
    )
