"""gold.consistency_weekly / consistency_monthly on literal workouts, expected scores worked out by hand.

score = 0.4 frequency + 0.2 timing + 0.2 performance + 0.2 streak (METRICS.md; the module docstring gives
each dimension): frequency 100 x workouts / 4 per week (4 x days / 7 for a month), timing 100 x (1 - std of
start hours / 6), performance 100 x (1 - mean CV of pace and distance), streak 100 x longest run of active
days / days in the period. Population std and CV throughout; fewer than 2 (timed) workouts score 50.
"""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakehouse.gold.consistency import consistency

WORKOUTS = "person_id long, workout_date date, start_time_local timestamp_ntz, pace_s_per_km double, distance_m double"
OUT = (
    "person_id long, period_start date, workouts long, frequency_score double, timing_score double,"
    " performance_score double, streak_score double, score double"
)


def _january(spark: SparkSession, extra: list[tuple] | None = None) -> DataFrame:
    def at(day: int, hour: int | None) -> tuple[date, datetime | None]:
        return date(2024, 1, day), None if hour is None else datetime(2024, 1, day, hour)

    rows = [
        # week of Mon 1 Jan: Mon 06:00, Tue 08:00, Thu from MapMyRun (no start time)
        (1, *at(1, 6), 300.0, 4000.0),
        (1, *at(2, 8), 300.0, 6000.0),
        (1, *at(4, None), 300.0, 5000.0),
        # week of 8 Jan: nothing; week of 15 Jan: Sunday 21 Jan only
        (1, *at(21, 7), 360.0, 3000.0),
        # week of 22 Jan: Mon-Fri at 07:00, identical workouts
        *[(1, *at(day, 7), 300.0, 5000.0) for day in range(22, 27)],
        # athlete 2: two workouts on Saturday 6 Jan, 07:00 and 19:00, 5:00 and 10:00 min/km
        (2, *at(6, 7), 300.0, 5000.0),
        (2, *at(6, 19), 600.0, 5000.0),
    ]
    return spark.createDataFrame(rows + (extra or []), WORKOUTS)


def test_weekly_consistency(spark: SparkSession) -> None:
    # Week 1 Jan: frequency 3/4 = 75; hours 6, 8 -> std 1, timing 100 (1 - 1/6) = 83.333; pace CV 0,
    # distance 4000/6000/5000: std 816.50 / 5000 = 0.1633, performance 100 (1 - 0.1633/2) = 91.835;
    # longest run Mon-Tue = 2 days, streak 200/7 = 28.571. Score 30 + 16.667 + 18.367 + 5.714 = 70.748.
    # Week 8 Jan: no workout, every dimension 0.
    # Week 15 Jan: one workout: frequency 25, timing and performance neutral 50, streak 100/7 = 14.286 ->
    # 10 + 10 + 10 + 2.857 = 32.857. (Sunday 21 Jan and Mon 22 Jan are consecutive, but streaks stay in a week.)
    # Week 22 Jan: 5 workouts, frequency capped at 100, timing and performance 100, streak 500/7 = 71.429
    # -> 40 + 20 + 20 + 14.286 = 94.286.
    # Athlete 2: frequency 50; hours 7 and 19 -> std 6, timing 0; pace CV 150/450 = 1/3, distance CV 0,
    # performance 100 (1 - 1/6) = 83.333; streak 14.286 -> 20 + 0 + 16.667 + 2.857 = 39.524.
    expected = spark.createDataFrame(
        [
            (1, date(2024, 1, 1), 3, 75.0, 83.33, 91.84, 28.57, 70.75),
            (1, date(2024, 1, 8), 0, 0.0, 0.0, 0.0, 0.0, 0.0),
            (1, date(2024, 1, 15), 1, 25.0, 50.0, 50.0, 14.29, 32.86),
            (1, date(2024, 1, 22), 5, 100.0, 100.0, 100.0, 71.43, 94.29),
            (2, date(2024, 1, 1), 2, 50.0, 0.0, 83.33, 14.29, 39.52),
        ],
        OUT,
    )
    assert_approx_df_equality(
        consistency(_january(spark), "week"), expected, 1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_monthly_consistency(spark: SparkSession) -> None:
    workouts = _january(spark, [(1, date(2024, 3, 5), datetime(2024, 3, 5, 8), 300.0, 5000.0)])
    # January, athlete 1: 9 workouts against 4 x 31 / 7 = 17.714 -> 50.806. Timed hours 6, 8 and six 7s:
    # std sqrt(2/8) = 0.5, timing 100 (1 - 0.5/6) = 91.667. Paces eight 300 and one 360: mean 306.667,
    # std 18.856, CV 0.06149; distances (sum 43000, mean 4777.8) std 785.67, CV 0.16444; performance
    # 100 (1 - 0.22593/2) = 88.703. Longest run 21-26 Jan = 6 days: 600/31 = 19.355.
    # Score 20.323 + 18.333 + 17.741 + 3.871 = 60.268.
    # February: none. March: one workout: 100 / 17.714 = 5.645, 50, 50, 100/31 = 3.226 -> 22.903.
    # Athlete 2: frequency 200 / 17.714 = 11.290, timing 0, performance 83.333, streak 3.226 -> 21.828.
    expected = spark.createDataFrame(
        [
            (1, date(2024, 1, 1), 9, 50.81, 91.67, 88.7, 19.35, 60.27),
            (1, date(2024, 2, 1), 0, 0.0, 0.0, 0.0, 0.0, 0.0),
            (1, date(2024, 3, 1), 1, 5.65, 50.0, 50.0, 3.23, 22.9),
            (2, date(2024, 1, 1), 2, 11.29, 0.0, 83.33, 3.23, 21.83),
        ],
        OUT,
    )
    assert_approx_df_equality(
        consistency(workouts, "month"), expected, 1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_a_week_of_zero_distances_scores_instead_of_failing(spark: SparkSession) -> None:
    # Mon 8 and Tue 9 Jan at 07:00, 5:00 min/km, distance 0 both (a session recorded without distance): the
    # distance CV is 0/0, no variation to score (NULL, like a missing value), pace CV 0 -> performance 100;
    # frequency 2/4 = 50, timing 100 (std 0), streak 2/7 = 28.571 -> 20 + 20 + 20 + 5.714 = 65.714.
    workouts = spark.createDataFrame(
        [(3, date(2024, 1, 8), datetime(2024, 1, 8, 7), 300.0, 0.0),
         (3, date(2024, 1, 9), datetime(2024, 1, 9, 7), 300.0, 0.0)],
        WORKOUTS,
    )
    expected = spark.createDataFrame([(3, date(2024, 1, 8), 2, 50.0, 100.0, 100.0, 28.57, 65.71)], OUT)
    assert_approx_df_equality(
        consistency(workouts, "week"), expected, 1e-9, ignore_row_order=True, ignore_nullable=True
    )
