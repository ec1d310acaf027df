"""gold.trends_monthly, gold.trend_fits and gold.before_after: how training changed over time.

trends_monthly
    Grain: one row per person per sport family per calendar month, every month from first to last workout.
    Keys: (`person_id`, `sport`, `month`). Workouts, distance and mean pace, with 3-month rolling averages.
trend_fits
    Grain: one row per person per sport family per metric. Keys: (`person_id`, `sport`, `metric`).
    Ordinary least squares of the monthly metric on the month index: slope per month, its standard error and
    a 95 % confidence interval (Student t), r squared, n.
before_after
    Grain: one row per person per sport family per metric. Keys: (`person_id`, `sport`, `metric`).
    Around the event date (the seed's dog, "the Choco effect"): the metric before and after and the change
    factor (after / before). Metrics: workouts per month, mean distance, mean pace, and the pace quartiles
    (a pace that bifurcates into runs and walks shows as quartiles drifting apart).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.exact import exact_avg, exact_sum

MONTHLY_NAME = "trends_monthly"
MONTHLY_KEYS = ("person_id", "sport", "month")
FITS_NAME = "trend_fits"
FITS_KEYS = ("person_id", "sport", "metric")
BEFORE_AFTER_NAME = "before_after"
BEFORE_AFTER_KEYS = ("person_id", "sport", "metric")
ROLLING_MONTHS = 3
TREND_METRICS = ("workouts", "distance_km", "mean_pace_min_per_km")
# Two-sided 95 % Student t quantiles by degrees of freedom; beyond the table the normal 1.96 is close enough.
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}  # fmt: skip
Z_95 = 1.96


def t_quantile_95(df: int) -> float:
    """The two-sided 95 % Student t quantile for `df` degrees of freedom (table lookup, conservative)."""
    if df < 1:
        return float("nan")
    for bound in sorted(T_95):
        if df <= bound:
            return T_95[bound]
    return Z_95


def monthly(workouts: DataFrame) -> DataFrame:
    """silver.workouts -> monthly volume and pace per (athlete, sport), with rolling averages."""
    per_month = workouts.groupBy("person_id", "sport", F.trunc("workout_date", "month").alias("month")).agg(
        F.count(F.lit(1)).alias("workouts"),
        exact_sum("distance_m").alias("distance_m"),
        exact_sum("duration_s").alias("duration_s"),
    )
    spine = (
        per_month.groupBy("person_id", "sport")
        .agg(F.min("month").alias("first"), F.max("month").alias("last"))
        .select(
            "person_id",
            "sport",
            F.explode(F.sequence("first", "last", F.expr("INTERVAL 1 MONTH"))).alias("month"),
        )
    )
    filled = spine.join(per_month, on=["person_id", "sport", "month"], how="left").select(
        "person_id",
        "sport",
        "month",
        F.coalesce("workouts", F.lit(0)).cast("long").alias("workouts"),
        F.round(F.coalesce("distance_m", F.lit(0.0)) / 1000, 3).alias("distance_km"),
        F.round(F.when(F.col("distance_m") > 0, F.col("duration_s") / 60 / (F.col("distance_m") / 1000)), 3).alias(
            "mean_pace_min_per_km"
        ),
    )
    rolling = Window.partitionBy("person_id", "sport").orderBy("month").rowsBetween(-(ROLLING_MONTHS - 1), 0)
    return filled.select(
        "*",
        F.round(F.avg("workouts").over(rolling), 3).alias("workouts_rolling_3m"),
        F.round(F.avg("distance_km").over(rolling), 3).alias("distance_km_rolling_3m"),
        F.round(F.avg("mean_pace_min_per_km").over(rolling), 3).alias("mean_pace_rolling_3m"),
    )


def fits(monthly_trends: DataFrame) -> DataFrame:
    """trends_monthly -> OLS slope per month with a 95 % confidence interval, per (athlete, sport, metric)."""
    first = F.min("month").over(Window.partitionBy("person_id", "sport"))
    indexed = monthly_trends.withColumn("x", F.months_between("month", first).cast("double"))
    stack = ", ".join(f"'{m}', CAST({m} AS DOUBLE)" for m in TREND_METRICS)
    points = indexed.select(
        "person_id", "sport", "x", F.expr(f"stack({len(TREND_METRICS)}, {stack}) AS (metric, y)")
    ).where(F.col("y").isNotNull())
    sums = points.groupBy("person_id", "sport", "metric").agg(
        F.count(F.lit(1)).cast("double").alias("n"),
        exact_sum("x").alias("sx"),
        exact_sum("y").alias("sy"),
        exact_sum(F.col("x") * F.col("x")).alias("sxx"),
        exact_sum(F.col("x") * F.col("y")).alias("sxy"),
        exact_sum(F.col("y") * F.col("y")).alias("syy"),
    )
    sxx_c = F.col("sxx") - F.col("sx") * F.col("sx") / F.col("n")
    sxy_c = F.col("sxy") - F.col("sx") * F.col("sy") / F.col("n")
    syy_c = F.col("syy") - F.col("sy") * F.col("sy") / F.col("n")
    slope = F.when(sxx_c > 0, sxy_c / sxx_c)
    sse = F.greatest(F.lit(0.0), syy_c - slope * sxy_c)
    se = F.when((F.col("n") > 2) & (sxx_c > 0), F.sqrt(sse / (F.col("n") - 2) / sxx_c))
    t = F.lit(Z_95)
    for bound in sorted(T_95, reverse=True):
        t = F.when(F.col("n") - 2 <= bound, F.lit(T_95[bound])).otherwise(t)
    out = sums.select(
        "person_id", "sport", "metric", F.col("n").cast("long").alias("n"),
        slope.alias("slope_per_month"),
        ((F.col("sy") - slope * F.col("sx")) / F.col("n")).alias("intercept"),
        se.alias("slope_std_error"),
        F.when(syy_c > 0, (slope * sxy_c) / syy_c).alias("r_squared"),
        t.alias("t"),
    )  # fmt: skip
    return out.select(
        "person_id", "sport", "metric", "n",
        F.round("slope_per_month", 6).alias("slope_per_month"), F.round("intercept", 6).alias("intercept"),
        F.round("slope_std_error", 6).alias("slope_std_error"),
        F.round(F.col("slope_per_month") - F.col("t") * F.col("slope_std_error"), 6).alias("slope_ci95_low"),
        F.round(F.col("slope_per_month") + F.col("t") * F.col("slope_std_error"), 6).alias("slope_ci95_high"),
        F.round("r_squared", 6).alias("r_squared"),
    )  # fmt: skip


def before_after(workouts: DataFrame, events: date | DataFrame) -> DataFrame:
    """silver.workouts -> each metric before and after the event date, with the change factor.

    `events` is one date for everybody, or (person_id, event_date) rows such as silver.people: a person
    without an event date has no before/after.
    """
    if isinstance(events, date):
        events = workouts.select("person_id").distinct().withColumn("event_date", F.lit(events))
    dated = events.select("person_id", "event_date").where(F.col("event_date").isNotNull())
    tagged = workouts.join(dated, on="person_id", how="inner").withColumn(
        "era", F.when(F.col("workout_date") < F.col("event_date"), "before").otherwise("after")
    )
    months = (
        tagged.groupBy("person_id", "event_date", "sport", "era")
        .agg(
            F.count(F.lit(1)).alias("n"),
            # Months spanned by the era's data, inclusive, so "per month" is honest at both ends.
            (
                F.months_between(F.trunc(F.max("workout_date"), "month"), F.trunc(F.min("workout_date"), "month")) + 1
            ).alias("months"),
            exact_avg("distance_m").alias("mean_distance_m"),
            exact_avg(F.col("pace_s_per_km") / 60).alias("mean_pace_min_per_km"),
            F.percentile(F.col("pace_s_per_km") / 60, 0.25).alias("pace_p25_min_per_km"),
            F.percentile(F.col("pace_s_per_km") / 60, 0.75).alias("pace_p75_min_per_km"),
        )
        .withColumn("workouts_per_month", F.col("n") / F.col("months"))
    )
    metrics = ("workouts_per_month", "mean_distance_m", "mean_pace_min_per_km", "pace_p25_min_per_km",
               "pace_p75_min_per_km")  # fmt: skip
    stack = ", ".join(f"'{m}', CAST({m} AS DOUBLE)" for m in metrics)
    long = months.select(
        "person_id", "event_date", "sport", "era", F.expr(f"stack({len(metrics)}, {stack}) AS (metric, value)")
    )
    wide = long.groupBy("person_id", "event_date", "sport", "metric").pivot("era", ["before", "after"]).agg(
        F.first("value")
    )
    return wide.select(
        "person_id", "sport", "metric", "event_date",
        F.round("before", 4).alias("before"), F.round("after", 4).alias("after"),
        F.round(F.when(F.col("before") != 0, F.col("after") / F.col("before")), 4).alias("change_factor"),
    )  # fmt: skip
