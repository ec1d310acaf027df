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

from pyspark.sql import DataFrame
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
    """silver.workouts -> one row per (workout, metric, method) with the score and the flag."""
    values = _long(workouts)
    stats = values.groupBy(*GROUP).agg(
        F.count(F.lit(1)).alias("n"),
        F.percentile("value", 0.25).alias("q1"),
        F.percentile("value", 0.5).alias("median"),
        F.percentile("value", 0.75).alias("q3"),
        exact_avg("value").alias("mean"),
        exact_stddev_samp("value").alias("std"),
    )
    with_stats = values.join(stats, on=list(GROUP), how="inner").where(F.col("n") >= MIN_GROUP_SIZE)
    mad = (
        with_stats.withColumn("dev", F.abs(F.col("value") - F.col("median")))
        .groupBy(*GROUP)
        .agg(F.percentile("dev", 0.5).alias("mad"))
    )
    scored = with_stats.join(mad, on=list(GROUP), how="inner")
    iqr = F.col("q3") - F.col("q1")
    low, high = F.col("q1") - IQR_FACTOR * iqr, F.col("q3") + IQR_FACTOR * iqr
    methods = [
        ("iqr", f"{IQR_FACTOR}*IQR", F.col("value"), (F.col("value") < low) | (F.col("value") > high)),
        ("zscore", str(Z_THRESHOLD),
         F.when(F.col("std") > 0, (F.col("value") - F.col("mean")) / F.col("std")), None),
        ("modified_zscore", str(MODIFIED_Z_THRESHOLD),
         F.when(F.col("mad") > 0, MODIFIED_Z_CONSTANT * (F.col("value") - F.col("median")) / F.col("mad")), None),
    ]  # fmt: skip
    frames = []
    for method, threshold, score, flag in methods:
        limit = Z_THRESHOLD if method == "zscore" else MODIFIED_Z_THRESHOLD
        is_anomaly = flag if flag is not None else F.coalesce(F.abs(score) > limit, F.lit(False))
        frames.append(
            scored.select(
                "workout_id",
                "person_id",
                "sport",
                "workout_date",
                "metric",
                "value",
                F.lit(method).alias("method"),
                F.lit(threshold).alias("threshold"),
                F.round(score, 4).alias("score"),
                F.when(F.lit(method == "iqr"), F.round(low, 4)).alias("lower_bound"),
                F.when(F.lit(method == "iqr"), F.round(high, 4)).alias("upper_bound"),
                is_anomaly.alias("is_anomaly"),
            )
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out
