"""gold.kudos_weekly on literal activities, expected values worked out by hand."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.kudos_weekly import weekly_kudos


def test_weekly_kudos_fills_empty_weeks_and_compares_with_the_calendar_week_before(spark: SparkSession) -> None:
    activities = spark.createDataFrame(
        [
            (1, date(2024, 5, 6), "Run", 4),  # Monday
            (1, date(2024, 5, 8), "Run", 6),  # same week
            (1, date(2024, 5, 19), "Run", 5),  # Sunday: still the week of Monday 13 May
            (1, date(2024, 5, 27), "Run", 3),  # week of 20 May had no run
            (1, date(2024, 5, 7), "Walk", 0),
            (1, date(2024, 5, 14), "Walk", 2),
            (2, date(2024, 12, 30), "Run", 4),  # ISO week across the new year starts Monday 30 Dec
            (2, date(2025, 1, 5), "Run", 2),
            (2, date(2025, 1, 8), "Run", 9),
            (2, date(2025, 1, 15), "Run", 12),
        ],
        "athlete_id long, activity_date date, sport_type string, kudos_count int",
    )
    # Change = (kudos - previous) / previous * 100, rounded to 2 places; none when there is no previous week
    # or it had 0 kudos. Run weeks of athlete 1: 10, 5, 0 (filled), 3.
    expected = spark.createDataFrame(
        [
            (1, date(2024, 5, 6), "Run", 2, 10, None, None),
            (1, date(2024, 5, 13), "Run", 1, 5, 10, -50.0),
            (1, date(2024, 5, 20), "Run", 0, 0, 5, -100.0),
            (1, date(2024, 5, 27), "Run", 1, 3, 0, None),
            (1, date(2024, 5, 6), "Walk", 1, 0, None, None),
            (1, date(2024, 5, 13), "Walk", 1, 2, 0, None),
            (2, date(2024, 12, 30), "Run", 2, 6, None, None),
            (2, date(2025, 1, 6), "Run", 1, 9, 6, 50.0),
            (2, date(2025, 1, 13), "Run", 1, 12, 9, 33.33),  # 3 / 9 = 33.333 %
        ],
        "athlete_id long, week_start date, sport_type string, activities long, kudos long,"
        " previous_week_kudos long, kudos_change_pct double",
    )
    assert_df_equality(weekly_kudos(activities), expected, ignore_row_order=True, ignore_nullable=True)
