"""gold.trends_monthly, gold.trend_fits and gold.before_after on literal workouts.

Monthly values and the before/after table are worked out by hand; the trend fit is checked against an
ordinary least squares written out in plain Python below (residuals, not the running sums the module uses).
"""

from __future__ import annotations

import math
from datetime import date

from chispa import assert_approx_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.trends import before_after, fits, monthly

MONTHLY = "person_id long, sport string, month date, workouts long, distance_km double, mean_pace_min_per_km double"


def test_monthly_fills_empty_months_and_rolls_three_months(spark: SparkSession) -> None:
    workouts = spark.createDataFrame(
        [
            (1, "run", date(2024, 1, 3), 5000.0, 1500.0),
            (1, "run", date(2024, 1, 20), 10000.0, 3360.0),
            (1, "run", date(2024, 3, 9), 8000.0, 2400.0),
            (1, "run", date(2024, 4, 1), 4000.0, 1200.0),
            (1, "run", date(2024, 4, 15), 4000.0, 1320.0),
            (1, "run", date(2024, 4, 30), 2000.0, 600.0),
            (1, "walk", date(2024, 5, 5), 3000.0, 1800.0),
        ],
        "person_id long, sport string, workout_date date, distance_m double, duration_s double",
    )
    # Jan: 15 km in 4860 s = 81 min -> 5.4 min/km. Feb: nothing (0 km, no pace). Mar: 8 km, 40 min -> 5.0.
    # Apr: 10 km in 3120 s = 52 min -> 5.2. Rolling over up to 3 months, empty paces left out:
    # Feb (2 + 0) / 2 = 1, (15 + 0) / 2 = 7.5; Mar 3 / 3 = 1, 23 / 3 = 7.667, (5.4 + 5.0) / 2 = 5.2;
    # Apr 4 / 3 = 1.333, 18 / 3 = 6, (5.0 + 5.2) / 2 = 5.1. Walk: 3 km in 30 min -> 10 min/km.
    expected = spark.createDataFrame(
        [
            (1, "run", date(2024, 1, 1), 2, 15.0, 5.4, 2.0, 15.0, 5.4),
            (1, "run", date(2024, 2, 1), 0, 0.0, None, 1.0, 7.5, 5.4),
            (1, "run", date(2024, 3, 1), 1, 8.0, 5.0, 1.0, 7.667, 5.2),
            (1, "run", date(2024, 4, 1), 3, 10.0, 5.2, 1.333, 6.0, 5.1),
            (1, "walk", date(2024, 5, 1), 1, 3.0, 10.0, 1.0, 3.0, 10.0),
        ],
        f"{MONTHLY}, workouts_rolling_3m double, distance_km_rolling_3m double, mean_pace_rolling_3m double",
    )
    assert_approx_df_equality(monthly(workouts), expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


# Two-sided 95 % Student t quantiles, from a printed table.
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776}


def _ols(xs: list[float], ys: list[float]) -> tuple[float | None, ...]:
    """slope, intercept, std error, CI low, CI high, r squared: textbook OLS with residuals."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    sse, sst = sum(r * r for r in residuals), sum((y - my) ** 2 for y in ys)
    r_squared = 1 - sse / sst if sst > 0 else None
    if n <= 2:
        return slope, intercept, None, None, None, r_squared
    se = math.sqrt(sse / (n - 2) / sxx)
    t = T_95[n - 2]
    return slope, intercept, se, slope - t * se, slope + t * se, r_squared


def test_fits_match_a_plain_python_least_squares(spark: SparkSession) -> None:
    months = [date(2024, m, 1) for m in range(1, 7)]
    workouts = [4, 6, 5, 8, 9, 11]
    distance = [20.0, 31.5, 24.0, 40.2, 44.8, 52.1]
    pace = [6.10, 5.95, None, 5.80, 5.85, 5.60]  # March has no pace: that fit has 5 points, x = 0, 1, 3, 4, 5
    rows = [(1, "run", m, w, d, p) for m, w, d, p in zip(months, workouts, distance, pace, strict=True)]
    # A walk seen in two months only: a line through two points has no standard error; a flat metric no r^2.
    rows += [(1, "walk", date(2024, 3, 1), 1, 2.0, 12.0), (1, "walk", date(2024, 4, 1), 3, 2.0, 11.0)]
    monthly_trends = spark.createDataFrame(rows, MONTHLY)

    expected_rows = []
    for sport in ("run", "walk"):
        mine = [r for r in rows if r[1] == sport]
        first = mine[0][2]
        for metric, column in (("workouts", 3), ("distance_km", 4), ("mean_pace_min_per_km", 5)):
            # x = months since the sport's first month; months without a value are left out
            points = [((r[2].year - first.year) * 12 + r[2].month - first.month, r[column]) for r in mine]
            xs = [float(x) for x, y in points if y is not None]
            ys = [float(y) for x, y in points if y is not None]
            expected_rows.append((1, sport, metric, len(xs), *_ols(xs, ys)))
    # The walk's two-point lines, by hand: workouts 1 -> 3 (slope 2, intercept 1, r^2 1); distance flat
    # (slope 0, no r^2); pace 12 -> 11 (slope -1, intercept 12, r^2 1).
    assert expected_rows[3][3:] == (2, 2.0, 1.0, None, None, None, 1.0)
    expected = spark.createDataFrame(
        expected_rows,
        "person_id long, sport string, metric string, n long, slope_per_month double, intercept double,"
        " slope_std_error double, slope_ci95_low double, slope_ci95_high double, r_squared double",
    )
    assert_approx_df_equality(fits(monthly_trends), expected, 1e-5, ignore_row_order=True, ignore_nullable=True)


def test_before_after_the_event_date(spark: SparkSession) -> None:
    event = date(2023, 6, 1)
    workouts = spark.createDataFrame(
        [
            (1, "run", date(2023, 3, 10), 5000.0, 300.0),  # 5.0 min/km
            (1, "run", date(2023, 3, 20), 10000.0, 330.0),  # 5.5
            (1, "run", date(2023, 5, 31), 6000.0, 360.0),  # 6.0, the day before the event
            (1, "run", date(2023, 6, 1), 2000.0, 720.0),  # 12.0, the event day counts as after
            (1, "run", date(2023, 6, 2), 3000.0, 300.0),  # 5.0
            (1, "run", date(2023, 6, 15), 2000.0, 780.0),  # 13.0
            (1, "run", date(2023, 7, 1), 4000.0, 330.0),  # 5.5
            (1, "run", date(2023, 7, 20), 2000.0, 690.0),  # 11.5
            (1, "walk", date(2023, 8, 5), 3000.0, 900.0),  # 15.0, walks only after
        ],
        "person_id long, sport string, workout_date date, distance_m double, pace_s_per_km double",
    )
    # Before: 3 runs over March-May (3 months) = 1 per month; mean distance 7000; paces 5, 5.5, 6: mean 5.5,
    # quartiles at positions 0.5 and 1.5 -> 5.25 and 5.75.
    # After: 5 runs over June-July = 2.5 per month; mean distance 13000 / 5 = 2600; paces 5, 5.5, 11.5, 12,
    # 13: mean 47 / 5 = 9.4, quartiles at positions 1 and 3 -> 5.5 and 12.
    # Change factors: 2.5, 2600 / 7000 = 0.3714, 9.4 / 5.5 = 1.7091, 5.5 / 5.25 = 1.0476, 12 / 5.75 = 2.087.
    expected = spark.createDataFrame(
        [
            (1, "run", "workouts_per_month", event, 1.0, 2.5, 2.5),
            (1, "run", "mean_distance_m", event, 7000.0, 2600.0, 0.3714),
            (1, "run", "mean_pace_min_per_km", event, 5.5, 9.4, 1.7091),
            (1, "run", "pace_p25_min_per_km", event, 5.25, 5.5, 1.0476),
            (1, "run", "pace_p75_min_per_km", event, 5.75, 12.0, 2.087),
            (1, "walk", "workouts_per_month", event, None, 1.0, None),
            (1, "walk", "mean_distance_m", event, None, 3000.0, None),
            (1, "walk", "mean_pace_min_per_km", event, None, 15.0, None),
            (1, "walk", "pace_p25_min_per_km", event, None, 15.0, None),
            (1, "walk", "pace_p75_min_per_km", event, None, 15.0, None),
        ],
        "person_id long, sport string, metric string, event_date date, before double, after double,"
        " change_factor double",
    )
    assert_approx_df_equality(
        before_after(workouts, event), expected, 1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_before_after_uses_each_persons_own_event_date(spark: SparkSession) -> None:
    # Ana's dog came on 1 March 2024; Ben set no event date, so he has no before/after.
    workouts = spark.createDataFrame(
        [
            ("ana", "run", date(2024, 2, 10), 5000.0, 300.0),  # before: 5.0 min/km
            ("ana", "run", date(2024, 3, 10), 5000.0, 360.0),  # after: 6.0
            ("ben", "run", date(2024, 2, 10), 8000.0, 330.0),
        ],
        "person_id string, sport string, workout_date date, distance_m double, pace_s_per_km double",
    )
    events = spark.createDataFrame(
        [("ana", date(2024, 3, 1)), ("ben", None)], "person_id string, event_date date"
    )
    rows = (
        before_after(workouts, events)
        .where("metric = 'mean_pace_min_per_km'")
        .select("person_id", "event_date", "before", "after")
        .collect()
    )
    assert [tuple(r) for r in rows] == [("ana", date(2024, 3, 1), 5.0, 6.0)]
