"""gold.activity_summary_monthly on literal activities, expected values worked out by hand."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.activity_summary_monthly import summarise


def test_monthly_summary_per_athlete_and_sport(spark: SparkSession) -> None:
    activities = spark.createDataFrame(
        [
            (1, date(2024, 5, 2), "Run", 10000.0, 3000, 50.0, 4),
            (1, date(2024, 5, 20), "Run", 5000.0, 1800, None, 2),
            (1, date(2024, 5, 21), "Walk", 2000.0, 1500, 5.0, 0),
            (1, date(2024, 6, 1), "Run", 8000.0, 2400, 20.0, 5),
            (2, date(2024, 5, 3), "Ride", 40000.0, 4800, 300.0, 10),
        ],
        "athlete_id long, activity_date date, sport_type string, distance_m double, moving_time_s long,"
        " elevation_gain_m double, kudos_count int",
    )
    # May runs: 15 km in 4800 s = 1.333 h -> 11.25 km/h, 80 min / 15 km = 5.333 min/km, kudos 6 over 2.
    # May walk: 2 km in 1500 s -> 4.8 km/h, 12.5 min/km. June run: 8 km in 2400 s -> 12 km/h, 5 min/km.
    # Ride: 40 km in 4800 s -> 30 km/h, 2 min/km.
    expected = spark.createDataFrame(
        [
            (1, date(2024, 5, 1), "Run", 2, 15.0, 1.333, 50.0, 11.25, 5.333, 6, 3.0),
            (1, date(2024, 5, 1), "Walk", 1, 2.0, 0.417, 5.0, 4.8, 12.5, 0, 0.0),
            (1, date(2024, 6, 1), "Run", 1, 8.0, 0.667, 20.0, 12.0, 5.0, 5, 5.0),
            (2, date(2024, 5, 1), "Ride", 1, 40.0, 1.333, 300.0, 30.0, 2.0, 10, 10.0),
        ],
        "athlete_id long, month date, sport_type string, activities long, distance_km double,"
        " moving_time_h double, elevation_gain_m double, mean_speed_kmh double, mean_pace_min_per_km double,"
        " kudos long, kudos_per_activity double",
    )
    assert_df_equality(summarise(activities), expected, ignore_row_order=True, ignore_nullable=True)
