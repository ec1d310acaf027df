"""gold.workout_anomalies: unusual workouts per metric, by three methods, each flag naming its rule.

Grain: one row per workout per metric per method. Keys: (`workout_id`, `metric`, `method`).
Scope: an athlete's workouts of one sport family (a slow walk is not an anomalous run).
Methods (METRICS.md, after the workout-intelligence seed's `statistics.py`):
- `iqr`: outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] (quartiles by linear interpolation);
- `zscore`: |x - mean| / sample standard deviation > 3;
- `modified_zscore`: |0.6745 (x - median) / MAD| > 3.5, MAD = median |x - median|.
`threshold` says the rule ("1.5*IQR", "3.0", "3.5"), `score` the value it was compared with.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.exact import exact_avg, exact_stddev_samp

NAME = "workout_anomalies"
KEYS = ("workout_id", "metric", "method")
METRICS = ("pace_s_per_km", "distance_m", "duration_s", "avg_heart_rate_bpm")
IQR_FACTOR = 1.5
Z_THRESHOLD = 3.0
MODIFIED_Z_THRESHOLD = 3.5
MODIFIED_Z_CONSTANT = 0.6745
MIN_GROUP_SIZE = 4  # fewer workouts than this in a scope: no statistics, no flags
GROUP = ("person_id", "sport", "metric")


def _long(workouts: DataFrame) -> DataFrame:
    stack = ", ".join(f"'{m}', CAST({m} AS DOUBLE)" for m in METRICS)
    return workouts.select(
        "workout_id",
        "person_id",
        "sport",
        "workout_date",
        F.expr(f"stack({len(METRICS)}, {stack}) AS (metric, value)"),
    ).where(F.col("value").isNotNull())


def detect(workouts: DataFrame) -> DataFrame:
    """silver.workouts -> one row per (workout, metric, method) with the score and the flag.

    Each value is scored once against its group's statistics (quartiles, mean, standard deviation, MAD), and
    the three methods' rows are made from that one row (`inline` of a three-element array), so the joins and
    the percentiles run once, not once per method."""
    values = _long(workouts)
    stats = (
        values.groupBy(*GROUP)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.percentile("value", [0.25, 0.5, 0.75]).alias("quartiles"),
            exact_avg("value").alias("mean"),
            exact_stddev_samp("value").alias("std"),
        )
        .where(F.col("n") >= MIN_GROUP_SIZE)
        .select(*GROUP, *[F.col("quartiles")[i].alias(q) for i, q in enumerate(("q1", "median", "q3"))], "mean", "std")
    )
    with_stats = values.join(stats, on=list(GROUP), how="inner")
    mad = with_stats.groupBy(*GROUP).agg(F.percentile(F.abs(F.col("value") - F.col("median")), 0.5).alias("mad"))
    scored = with_stats.join(mad, on=list(GROUP), how="inner")
    value = F.col("value")
    iqr = F.col("q3") - F.col("q1")
    low, high = F.col("q1") - IQR_FACTOR * iqr, F.col("q3") + IQR_FACTOR * iqr
    z = F.when(F.col("std") > 0, (value - F.col("mean")) / F.col("std"))
    modified_z = F.when(F.col("mad") > 0, MODIFIED_Z_CONSTANT * (value - F.col("median")) / F.col("mad"))
    no_bound = F.lit(None).cast("double")

    def method(name: str, threshold: str, score: Column, lower: Column, upper: Column, flag: Column) -> Column:
        return F.struct(
            F.lit(name).alias("method"),
            F.lit(threshold).alias("threshold"),
            F.round(score, 4).alias("score"),
            lower.alias("lower_bound"),
            upper.alias("upper_bound"),
            flag.alias("is_anomaly"),
        )

    methods = F.array(
        method("iqr", f"{IQR_FACTOR}*IQR", value, F.round(low, 4), F.round(high, 4), (value < low) | (value > high)),
        method("zscore", str(Z_THRESHOLD), z, no_bound, no_bound,
               F.coalesce(F.abs(z) > Z_THRESHOLD, F.lit(False))),
        method("modified_zscore", str(MODIFIED_Z_THRESHOLD), modified_z, no_bound, no_bound,
               F.coalesce(F.abs(modified_z) > MODIFIED_Z_THRESHOLD, F.lit(False))),
    )  # fmt: skip
    return scored.select("workout_id", "person_id", "sport", "workout_date", "metric", "value", F.inline(methods))
