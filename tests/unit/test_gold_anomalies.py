"""gold.workout_anomalies on literal workouts: IQR, z-score and modified z-score, worked out by hand."""

from __future__ import annotations

import math
from datetime import date

from chispa import assert_approx_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.anomalies import detect

WORKOUTS = (
    "workout_id string, person_id long, sport string, workout_date date, pace_s_per_km double,"
    " distance_m double, duration_s double, avg_heart_rate_bpm double"
)
OUT = (
    "workout_id string, person_id long, sport string, workout_date date, metric string, value double,"
    " method string, threshold string, score double, lower_bound double, upper_bound double, is_anomaly boolean"
)


def test_three_methods_on_five_durations(spark: SparkSession) -> None:
    day = date(2024, 1, 1)
    durations = {"w1": 1000.0, "w2": 1100.0, "w3": 1200.0, "w4": 1300.0, "w5": 5000.0}
    workouts = spark.createDataFrame(
        [(w, 1, "run", day, None, None, d, None) for w, d in durations.items()]
        # three walks: fewer than 4 workouts in the scope, so no statistics and no rows at all
        + [(f"walk{i}", 1, "walk", day, None, None, d, None) for i, d in enumerate((600.0, 700.0, 9000.0))],
        WORKOUTS,
    )
    # Sorted 1000, 1100, 1200, 1300, 5000. Quartiles at positions 0.25 * 4 = 1 and 0.75 * 4 = 3: Q1 = 1100,
    # Q3 = 1300, IQR = 200, fences 1100 - 300 = 800 and 1300 + 300 = 1600: only 5000 is outside.
    # Mean 9600 / 5 = 1920; squared deviations 846400 + 672400 + 518400 + 384400 + 9486400 = 11908000,
    # sample variance / 4 = 2977000, std = 1725.3985; z(5000) = 3080 / 1725.3985 = 1.7851 (not > 3).
    # Median 1200; |x - median| = 200, 100, 0, 100, 3800 -> MAD = 100; modified z = 0.6745 (x - 1200) / 100.
    z = {"w1": -0.5332, "w2": -0.4753, "w3": -0.4173, "w4": -0.3593, "w5": 1.7851}
    modified = {"w1": -1.349, "w2": -0.6745, "w3": 0.0, "w4": 0.6745, "w5": 25.631}
    rows = []
    for w, d in durations.items():
        rows.append((w, 1, "run", day, "duration_s", d, "iqr", "1.5*IQR", d, 800.0, 1600.0, w == "w5"))
        rows.append((w, 1, "run", day, "duration_s", d, "zscore", "3.0", z[w], None, None, False))
        rows.append((w, 1, "run", day, "duration_s", d, "modified_zscore", "3.5", modified[w], None, None, w == "w5"))
    expected = spark.createDataFrame(rows, OUT)
    assert_approx_df_equality(detect(workouts), expected, 1e-4, ignore_row_order=True, ignore_nullable=True)


def _quantile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), written out."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_zscore_flags_a_far_value_among_twelve_and_metrics_are_scored_separately(spark: SparkSession) -> None:
    day = date(2024, 2, 1)
    distances = [5000.0, 5100.0, 4900.0, 5200.0, 4800.0, 5000.0, 5100.0, 4900.0, 5000.0, 5200.0, 4800.0, 20000.0]
    heart = [140.0, 142.0, 138.0, 141.0, 139.0, 140.0, 143.0, 137.0, 140.0, 141.0, 139.0, 140.0]
    ids = [f"w{i:02d}" for i in range(len(distances))]
    workouts = spark.createDataFrame(
        [(w, 7, "run", day, None, dist, None, hr) for w, dist, hr in zip(ids, distances, heart, strict=True)],
        WORKOUTS,
    )
    # The expected rows by plain Python: mean and sample std, linear quartiles, median and MAD.
    rows = []
    for metric, values in (("distance_m", distances), ("avg_heart_rate_bpm", heart)):
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        q1, median, q3 = _quantile(values, 0.25), _quantile(values, 0.5), _quantile(values, 0.75)
        mad = _quantile([abs(v - median) for v in values], 0.5)
        low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        for w, v in zip(ids, values, strict=True):
            zscore, modified = (v - mean) / std, 0.6745 * (v - median) / mad
            rows += [
                (w, 7, "run", day, metric, v, "iqr", "1.5*IQR", v, low, high, v < low or v > high),
                (w, 7, "run", day, metric, v, "zscore", "3.0", zscore, None, None, abs(zscore) > 3),
                (w, 7, "run", day, metric, v, "modified_zscore", "3.5", modified, None, None, abs(modified) > 3.5),
            ]
    # By hand for the 20 km run: mean 6250, z = 13750 / 4332.2 = 3.17 > 3; median 5000, MAD 100,
    # modified z = 0.6745 * 15000 / 100 = 101.2. The heart rates hold no anomaly by any method.
    flagged = {(r[0], r[4], r[6]) for r in rows if r[-1]}
    assert flagged == {("w11", "distance_m", m) for m in ("iqr", "zscore", "modified_zscore")}
    expected = spark.createDataFrame(rows, OUT)
    assert_approx_df_equality(detect(workouts), expected, 1e-4, ignore_row_order=True, ignore_nullable=True)
