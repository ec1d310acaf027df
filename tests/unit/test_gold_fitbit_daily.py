"""gold.fitbit_daily_summary and gold.hr_zone_minutes_daily on literal Fitbit rows, worked out by hand."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.fitbit_daily import daily_summary, zone_minutes

INTRADAY = "user_id string, date date, metric string, value double, interval_s int"
ZONES = "array<struct<zone: string, min_bpm: int, max_bpm: int, minutes: int, calories_kcal: double>>"


def test_daily_summary_per_user_day_and_metric(spark: SparkSession) -> None:
    d1, d2 = date(2024, 3, 1), date(2024, 3, 2)
    intraday = spark.createDataFrame(
        [
            ("u1", d1, "heart_rate_bpm", 60.0, 60),
            ("u1", d1, "heart_rate_bpm", 62.0, 60),
            ("u1", d1, "heart_rate_bpm", 70.0, 60),
            ("u1", d1, "steps", 100.0, 60),
            ("u1", d1, "steps", 0.0, 60),
            ("u1", d1, "steps", 250.0, 60),
            ("u1", d1, "steps", 40.0, 60),
            # one-second heart rate: 6 samples = 0.1 minutes
            *[("u1", d2, "heart_rate_bpm", v, 1) for v in (80.0, 81.0, 83.0, 80.0, 81.0, 83.0)],
            ("u2", d1, "distance_m", 12.5, 60),
            ("u2", d1, "distance_m", 7.5, 60),
        ],
        INTRADAY,
    )
    # Heart rate has no meaningful total; mean 192/3 = 64, 488/6 = 81.333; steps 390/4 = 97.5.
    expected = spark.createDataFrame(
        [
            ("u1", d1, "heart_rate_bpm", None, 64.0, 60.0, 70.0, 3, 3.0),
            ("u1", d1, "steps", 390.0, 97.5, 0.0, 250.0, 4, 4.0),
            ("u1", d2, "heart_rate_bpm", None, 81.333, 80.0, 83.0, 6, 0.1),
            ("u2", d1, "distance_m", 20.0, 10.0, 7.5, 12.5, 2, 2.0),
        ],
        "user_id string, date date, metric string, total double, mean double, min double, max double,"
        " samples long, minutes_covered double",
    )
    assert_df_equality(daily_summary(intraday), expected, ignore_row_order=True, ignore_nullable=True)


def test_zone_minutes_one_row_per_user_day_missing_zones_are_zero(spark: SparkSession) -> None:
    d1, d2 = date(2024, 3, 1), date(2024, 3, 2)
    full_day = [
        ("Out of Range", 30, 94, 1200, 1500.0),
        ("Fat Burn", 94, 132, 100, 600.0),
        ("Cardio", 132, 160, 30, 300.0),
        ("Peak", 160, 220, 5, 60.0),
    ]
    no_peak = [
        ("Cardio", 132, 160, 12, 100.0),
        ("Out of Range", 30, 94, 1300, 1600.0),
        ("Fat Burn", 94, 132, 40, 200.0),
    ]
    daily = spark.createDataFrame(
        [
            ("u1", d1, "heart_rate_bpm", 58, full_day),
            ("u1", d2, "heart_rate_bpm", 57, no_peak),
            ("u1", d1, "steps", None, None),  # not heart rate: no zones
            ("u2", d1, "heart_rate_bpm", None, [("Fat Burn", 90, 130, 25, 150.0)]),
        ],
        f"user_id string, date date, metric string, resting_heart_rate_bpm int, heart_rate_zones {ZONES}",
    )
    expected = spark.createDataFrame(
        [
            ("u1", d1, 1200, 100, 30, 5, 58),
            ("u1", d2, 1300, 40, 12, 0, 57),
            ("u2", d1, 0, 25, 0, 0, None),
        ],
        "user_id string, date date, out_of_range_min int, fat_burn_min int, cardio_min int, peak_min int,"
        " resting_heart_rate_bpm int",
    )
    assert_df_equality(zone_minutes(daily), expected, ignore_row_order=True, ignore_nullable=True)
