"""gold.streaks and gold.eddington on literal workouts, expected values worked out by hand."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.streaks import eddington, streaks


def test_longest_and_latest_streak_per_athlete_and_sport(spark: SparkSession) -> None:
    def d(month: int, day: int) -> date:
        return date(2024, month, day)

    workouts = spark.createDataFrame(
        [
            # run: 1-4 Jan (two workouts on the 2nd count once), 8-9 Jan, 20 Jan
            (1, "run", d(1, 1)), (1, "run", d(1, 2)), (1, "run", d(1, 2)), (1, "run", d(1, 3)), (1, "run", d(1, 4)),
            (1, "run", d(1, 8)), (1, "run", d(1, 9)),
            (1, "run", d(1, 20)),
            # walk: two 3-day runs (30 Jan-1 Feb across the month end, 10-12 Feb): the tie goes to the later
            (1, "walk", d(1, 30)), (1, "walk", d(1, 31)), (1, "walk", d(2, 1)),
            (1, "walk", d(2, 10)), (1, "walk", d(2, 11)), (1, "walk", d(2, 12)),
            # ride: 29 Feb (leap day) and 1 Mar are consecutive
            (2, "ride", d(2, 29)), (2, "ride", d(3, 1)),
        ],
        "person_id long, sport string, workout_date date",
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            (1, "run", 4, d(1, 1), d(1, 4), 1, d(1, 20)),
            (1, "walk", 3, d(2, 10), d(2, 12), 3, d(2, 12)),
            (2, "ride", 2, d(2, 29), d(3, 1), 2, d(3, 1)),
        ],
        "person_id long, sport string, longest_streak_days long, longest_streak_start date,"
        " longest_streak_end date, latest_streak_days long, last_active_day date",
    )
    assert_df_equality(streaks(workouts), expected, ignore_row_order=True, ignore_nullable=True)


def test_eddington_number_in_km_and_miles(spark: SparkSession) -> None:
    workouts = spark.createDataFrame(
        [
            (1, "run", date(2024, 1, 1), 10000.0),
            (1, "run", date(2024, 1, 2), 3200.0),  # two runs on one day add up: 4.2 km
            (1, "run", date(2024, 1, 2), 1000.0),
            (1, "run", date(2024, 1, 3), 5000.0),
            (1, "run", date(2024, 1, 4), 2000.0),
            (1, "run", date(2024, 1, 5), 4000.0),
            (1, "run", date(2024, 1, 6), 500.0),
            (1, "walk", date(2024, 1, 1), 800.0),
            (2, "ride", date(2024, 1, 1), 100000.0),
            (2, "ride", date(2024, 1, 2), 100000.0),
            (2, "ride", date(2024, 1, 3), 100000.0),
        ],
        "person_id long, sport string, workout_date date, distance_m double",
    )
    # Run days in km, longest first: 10, 5, 4.2, 4, 2, 0.5 -> 4 days of at least 4 km, not 5 of 5: E = 4.
    # In miles: 6.21, 3.11, 2.61, 2.49, ... -> 2 days of at least 2 mi, not 3 of 3: E = 2.
    # Walk: one day of 0.8 km (0.5 mi): E = 0. Ride: 3 days of 100 km (62 mi): E = 3 in both units.
    expected = spark.createDataFrame(
        [
            (1, "run", "km", 4, 6),
            (1, "run", "mi", 2, 6),
            (1, "walk", "km", 0, 1),
            (1, "walk", "mi", 0, 1),
            (2, "ride", "km", 3, 3),
            (2, "ride", "mi", 3, 3),
        ],
        "person_id long, sport string, unit string, eddington int, active_days long",
    )
    assert_df_equality(eddington(workouts), expected, ignore_row_order=True, ignore_nullable=True)
