"""gold.consistency_weekly and gold.consistency_monthly: how consistent training was, scored 0-100.

Grain: one row per person per week (Monday start) / per calendar month, over every period from the first
to the last workout. Keys: (`person_id`, `period_start`).

score = 0.4 frequency + 0.2 timing + 0.2 performance + 0.2 streak (METRICS.md, after the workout-
intelligence seed's consistency analyzer), each dimension 0-100:
- frequency: 100 x workouts / target, capped at 100 (target: `TARGET_PER_WEEK`, scaled by days for months);
- timing: 100 x (1 - population std of local start hours / `HOUR_STD_SCALE`), clipped at 0; periods with
  fewer than two timed workouts score `NEUTRAL_SCORE` (MapMyRun exports have no start time);
- performance: 100 x (1 - mean of the coefficients of variation of pace and distance), clipped to 0-100;
  fewer than two workouts score `NEUTRAL_SCORE`;
- streak: 100 x longest run of consecutive active days / days in the period.
A period without workouts scores 0 on every dimension.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.exact import exact_avg, exact_stddev_pop

WEEKLY_NAME = "consistency_weekly"
MONTHLY_NAME = "consistency_monthly"
KEYS = ("person_id", "period_start")
WEIGHTS = {"frequency": 0.4, "timing": 0.2, "performance": 0.2, "streak": 0.2}
TARGET_PER_WEEK = 4.0
HOUR_STD_SCALE = 6.0
NEUTRAL_SCORE = 50.0


def _clip(column: Column) -> Column:
    return F.greatest(F.lit(0.0), F.least(F.lit(100.0), column))


def _cv(column: str) -> Column:
    # A period whose values average 0 (all-zero distances) has no coefficient of variation: NULL, not an
    # ANSI division-by-zero error that stops the gold stage.
    return F.try_divide(exact_stddev_pop(column), exact_avg(column))


def consistency(workouts: DataFrame, period: str, targets: DataFrame | None = None) -> DataFrame:
    """silver.workouts -> one consistency row per (person, period); `period` is "week" or "month".

    `targets` (person_id, weekly_target), e.g. silver.people, gives each person's workouts per week for a
    full frequency score; without one (or for a person it lacks) the target is `TARGET_PER_WEEK`.
    """
    if period not in ("week", "month"):
        raise ValueError(f"period must be 'week' or 'month', got {period!r}")
    w = workouts.select(
        "person_id",
        "workout_date",
        F.date_trunc(period, F.col("workout_date")).cast("date").alias("period_start"),
        F.hour("start_time_local").alias("hour"),
        "pace_s_per_km",
        "distance_m",
    )
    # Longest run of consecutive active days within each period.
    days = w.select("person_id", "period_start", "workout_date").distinct()
    order = Window.partitionBy("person_id", "period_start").orderBy("workout_date")
    islands = days.withColumn("island", F.date_sub("workout_date", F.row_number().over(order).cast("int")))
    longest = (
        islands.groupBy("person_id", "period_start", "island")
        .count()
        .groupBy("person_id", "period_start")
        .agg(F.max("count").alias("longest_run_days"))
    )
    stats = w.groupBy("person_id", "period_start").agg(
        F.count(F.lit(1)).alias("workouts"),
        F.count("hour").alias("timed"),
        exact_stddev_pop("hour").alias("hour_std"),
        _cv("pace_s_per_km").alias("pace_cv"),
        _cv("distance_m").alias("distance_cv"),
    )
    step = "INTERVAL 7 DAYS" if period == "week" else "INTERVAL 1 MONTH"
    spine = (
        stats.groupBy("person_id")
        .agg(F.min("period_start").alias("first"), F.max("period_start").alias("last"))
        .select("person_id", F.explode(F.sequence("first", "last", F.expr(step))).alias("period_start"))
    )
    if period == "week":
        period_days = F.lit(7)
    else:
        period_days = F.datediff(F.add_months("period_start", 1), F.col("period_start"))
    mean_cv = (F.coalesce("pace_cv", F.lit(0.0)) + F.coalesce("distance_cv", F.lit(0.0))) / 2
    if targets is None:
        targets = spine.sparkSession.createDataFrame([], "person_id string, weekly_target double")
    target = F.coalesce(F.col("weekly_target"), F.lit(TARGET_PER_WEEK))
    scored = (
        spine.join(stats, on=["person_id", "period_start"], how="left")
        .join(longest, on=["person_id", "period_start"], how="left")
        .join(targets.select("person_id", "weekly_target"), on="person_id", how="left")
        .select(
            "person_id",
            "period_start",
            F.coalesce("workouts", F.lit(0)).cast("long").alias("workouts"),
            _clip(F.coalesce("workouts", F.lit(0)) / (target * period_days / 7) * 100).alias(
                "frequency_score"
            ),
            F.when(F.coalesce("workouts", F.lit(0)) == 0, 0.0)
            .when(F.col("timed") < 2, NEUTRAL_SCORE)
            .otherwise(_clip((1 - F.col("hour_std") / HOUR_STD_SCALE) * 100))
            .alias("timing_score"),
            F.when(F.coalesce("workouts", F.lit(0)) == 0, 0.0)
            .when(F.col("workouts") < 2, NEUTRAL_SCORE)
            .otherwise(_clip((1 - mean_cv) * 100))
            .alias("performance_score"),
            _clip(F.coalesce("longest_run_days", F.lit(0)) / period_days * 100).alias("streak_score"),
        )
    )
    total = sum(F.col(f"{name}_score") * weight for name, weight in WEIGHTS.items())
    rounded = [F.round(F.col(f"{n}_score"), 2).alias(f"{n}_score") for n in WEIGHTS]
    return scored.select("person_id", "period_start", "workouts", *rounded, F.round(total, 2).alias("score"))
