"""gold.forecast_monthly: statsmodels' OLS trend and intervals checked against the textbook formulas in numpy
(b = (X'X)^-1 X'y; s^2 = SSE / (n - 2); mean interval t s sqrt(x0'(X'X)^-1 x0); prediction interval
t s sqrt(1 + x0'(X'X)^-1 x0)), and the Spark transform on literal rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import SparkSession
from scipy import stats

from lakehouse.gold import forecast

MONTHS = [date(2023, m, 1) for m in range(1, 13)]
VALUES = [3.0, 4.0, 2.0, 5.0, 6.0, 5.0, 7.0, 8.0, 6.0, 9.0, 10.0, 9.0]


def textbook(values: list[float], horizon: int) -> pd.DataFrame:
    """The OLS line and its 95 % intervals, by the formulas (numpy + the t quantile from scipy)."""
    y = np.array(values)
    n = len(y)
    x = np.arange(n, dtype=float)
    design = np.column_stack([np.ones(n), x])
    xtx_inv = np.linalg.inv(design.T @ design)
    b = xtx_inv @ design.T @ y
    s2 = float(((y - design @ b) ** 2).sum() / (n - 2))
    t = stats.t.ppf(0.975, n - 2)
    x0 = np.column_stack([np.ones(n + horizon), np.arange(n + horizon, dtype=float)])
    leverage = np.einsum("ij,jk,ik->i", x0, xtx_inv, x0)
    fitted = x0 @ b
    mean_half, pred_half = t * np.sqrt(s2 * leverage), t * np.sqrt(s2 * (1 + leverage))
    return pd.DataFrame(
        {
            "fitted": fitted,
            "mean_low": fitted - mean_half,
            "mean_high": fitted + mean_half,
            "pred_low": fitted - pred_half,
            "pred_high": fitted + pred_half,
        }
    )


def test_the_trend_and_its_intervals_match_the_textbook_formulas() -> None:
    out = forecast.fit_series(pd.DataFrame({"month": MONTHS, "value": VALUES}), horizon=3)
    expected = textbook(VALUES, 3).clip(lower=0.0)
    assert list(out["kind"]) == ["history"] * 12 + ["forecast"] * 3
    assert list(out["month"][-3:]) == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    for column in expected.columns:
        np.testing.assert_allclose(out[column].to_numpy(), expected[column].to_numpy(), atol=1e-5, err_msg=column)
    # By hand: x = 0..11, Sxx = 143, Sxy = sum(xy) - n mean(x) mean(y) = 498 - 407 = 91; slope = 91 / 143.
    assert out["fitted"].iloc[1] - out["fitted"].iloc[0] == pytest.approx(91 / 143, abs=1e-5)
    assert (out["pred_high"] - out["pred_low"] > out["mean_high"] - out["mean_low"]).all()


def test_too_short_a_series_gets_no_rows() -> None:
    short = pd.DataFrame({"month": MONTHS[: forecast.MIN_MONTHS - 1], "value": VALUES[: forecast.MIN_MONTHS - 1]})
    assert forecast.fit_series(short).empty


def test_forecast_per_athlete_sport_and_metric_in_spark(spark: SparkSession) -> None:
    rows = [("ana", "run", m, int(v), v * 5.0) for m, v in zip(MONTHS, VALUES, strict=True)]
    rows += [("ben", "walk", m, 1, 2.0) for m in MONTHS[:3]]  # too short: no rows
    trends = spark.createDataFrame(
        rows, "person_id string, sport string, month date, workouts long, distance_km double"
    )
    actual = (
        forecast.forecast(trends)
        .where("kind = 'forecast'")
        .select("person_id", "sport", "metric", "month", "fitted", "pred_low", "pred_high")
    )
    expected_rows = []
    for metric, scale in (("workouts", 1.0), ("distance_km", 5.0)):
        book = textbook([v * scale for v in VALUES], forecast.HORIZON_MONTHS).clip(lower=0.0).iloc[12:]
        for i, (_, r) in enumerate(book.iterrows()):
            month = date(2024, 1 + i, 1)
            expected_rows.append(
                ("ana", "run", metric, month, float(r["fitted"]), float(r["pred_low"]), float(r["pred_high"]))
            )
    expected = spark.createDataFrame(expected_rows, actual.schema)
    assert_approx_df_equality(actual, expected, 1e-4, ignore_row_order=True, ignore_nullable=True)
