"""lakehouse.exact: sums, means and spreads of doubles that do not depend on how Spark splits the rows.

Expected values come from Python's `decimal` and `statistics` modules, not from Spark.
"""

from __future__ import annotations

import math
import random
import statistics
from datetime import date
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.exact import exact_avg, exact_stddev_pop, exact_stddev_samp, exact_sum
from lakehouse.gold.activity_summary_monthly import summarise

NANO = Decimal("1e-9")


def order_sensitive_values() -> list[float]:
    """Distances in metres whose float sum changes with the order they are added in (checked below)."""
    rng = random.Random(20251208)
    return [round(rng.uniform(500, 42_195), rng.choice((1, 2, 3))) for _ in range(300)]


def two_splits(spark: SparkSession, values: list[float]) -> tuple[DataFrame, DataFrame]:
    """The same rows in one partition, and shuffled over seven partitions in another order."""
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i long, v double")
    return df.coalesce(1).orderBy("i"), df.orderBy(F.desc("i")).repartition(7, F.col("i") % 7)


def test_the_inputs_really_are_order_sensitive() -> None:
    values = order_sensitive_values()
    assert sum(values) != sum(reversed(values)) or sum(values) != sum(sorted(values))


def test_exact_sum_is_the_decimal_sum_whatever_the_partitioning(spark: SparkSession) -> None:
    values = order_sensitive_values()
    expected = float(sum(Decimal(repr(v)).quantize(NANO) for v in values))
    one, seven = two_splits(spark, values)
    got = [df.agg(exact_sum("v").alias("s")).first()["s"] for df in (one, seven)]
    assert got == [expected, expected]


def test_exact_avg_and_spreads_match_statistics_and_agree_across_partitionings(spark: SparkSession) -> None:
    values = order_sensitive_values()
    one, seven = two_splits(spark, values)
    rows = [
        df.agg(
            exact_avg("v").alias("mean"), exact_stddev_pop("v").alias("pop"), exact_stddev_samp("v").alias("samp")
        ).first()
        for df in (one, seven)
    ]
    assert rows[0] == rows[1]
    assert rows[0]["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert rows[0]["pop"] == pytest.approx(statistics.pstdev(values), rel=1e-9)
    assert rows[0]["samp"] == pytest.approx(statistics.stdev(values), rel=1e-9)


def test_missing_and_non_finite_values_count_as_null(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("a", 1.5), ("a", None), ("a", math.nan), ("a", math.inf), ("b", None), ("c", 2.0), ("c", 2.0)],
        "g string, v double",
    )
    got = df.groupBy("g").agg(
        exact_sum("v").alias("total"),
        exact_avg("v").alias("mean"),
        exact_stddev_pop("v").alias("pop"),
        exact_stddev_samp("v").alias("samp"),
    )
    expected = spark.createDataFrame(
        [("a", 1.5, 1.5, 0.0, None), ("b", None, None, None, None), ("c", 4.0, 2.0, 0.0, 0.0)],
        "g string, total double, mean double, pop double, samp double",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_monthly_total_on_a_half_rounds_the_same_on_one_partition_and_on_seven(spark: SparkSession) -> None:
    # The distances add up to exactly 6,405,155.5 m: 6,405.1555 km, a half at the third decimal. A float sum
    # lands just below it (6,405,155.499999998 forwards, ...995 backwards), and would round to 6,405.155.
    values = order_sensitive_values()[:-1]
    values.append(float(Decimal("6405155.5") - sum(Decimal(repr(v)) for v in values)))
    assert sum(values) != 6405155.5
    activities = spark.createDataFrame(
        [(1, date(2025, 8, 1 + i % 28), "Run", v, 600 + i, v / 100, i % 5) for i, v in enumerate(values)],
        "athlete_id long, activity_date date, sport_type string, distance_m double, moving_time_s long,"
        " elevation_gain_m double, kudos_count int",
    )
    one = summarise(activities.coalesce(1).orderBy("moving_time_s"))
    seven = summarise(activities.orderBy(F.desc("moving_time_s")).repartition(7, "moving_time_s"))
    assert_df_equality(one, seven, ignore_row_order=True)
    assert one.first()["distance_km"] == 6405.156  # 6405.1555 rounded half up, by hand
