"""gold.forecast_monthly: each athlete's monthly trend with its 95 % interval, and the next months forecast.

Grain: one row per athlete per sport family per metric per month: every month of history (`kind` =
"history", with the actual value) and `HORIZON_MONTHS` months after the last one (`kind` = "forecast").
Keys: (`person_id`, `sport`, `metric`, `month`).

Model: statsmodels OLS of the monthly metric (workouts, distance_km from gold.trends_monthly) on the month
index, a linear trend. `fitted` is the trend line; `mean_low`/`mean_high` the 95 % confidence interval of the
trend (where the mean lies); `pred_low`/`pred_high` the 95 % prediction interval (where one month's value
lies: trend uncertainty plus the month-to-month scatter). Series with fewer than `MIN_MONTHS` months get no
rows. Counts and distances cannot go below zero, so the intervals and forecasts are clipped at 0.
Applied per (athlete, sport, metric) with Spark's `groupBy(...).applyInPandas`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

if TYPE_CHECKING:  # pandas is imported where a frame is made (on the executors): not at a job's start
    import pandas as pd

NAME = "forecast_monthly"
KEYS = ("person_id", "sport", "metric", "month")
METRICS = ("workouts", "distance_km")
HORIZON_MONTHS = 6
MIN_MONTHS = 6
ALPHA = 0.05
MODEL = "ols_linear_trend"
SCHEMA = (
    "person_id string, sport string, metric string, month date, kind string, actual double, fitted double, "
    "mean_low double, mean_high double, pred_low double, pred_high double, model string, n_months long"
)
OUTPUT_COLUMNS = [c.split()[0] for c in SCHEMA.split(", ")]


def fit_series(series: pd.DataFrame, horizon: int = HORIZON_MONTHS, alpha: float = ALPHA) -> pd.DataFrame:
    """One (athlete, sport, metric) series of `month`, `value` -> history and forecast rows (OUTPUT_COLUMNS)."""
    import pandas as pd
    import statsmodels.api as sm

    series = series.dropna(subset=["value"]).sort_values("month")
    if len(series) < MIN_MONTHS:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    months = pd.to_datetime(series["month"])
    first = months.iloc[0]
    x = np.asarray((months.dt.year - first.year) * 12 + (months.dt.month - first.month), dtype=float)
    y = series["value"].to_numpy(dtype=float)
    fit = sm.OLS(y, sm.add_constant(x, has_constant="add")).fit()
    last = int(x.max())
    x_all = np.concatenate([x, np.arange(last + 1, last + horizon + 1, dtype=float)])
    frame = fit.get_prediction(sm.add_constant(x_all, has_constant="add")).summary_frame(alpha=alpha)
    n_hist = len(x)
    month_all = [(first + pd.DateOffset(months=int(i))).date() for i in x_all]
    out = pd.DataFrame(
        {
            "month": month_all,
            "kind": ["history"] * n_hist + ["forecast"] * horizon,
            "actual": np.concatenate([y, np.full(horizon, np.nan)]),
            "fitted": frame["mean"].to_numpy(),
            "mean_low": frame["mean_ci_lower"].to_numpy(),
            "mean_high": frame["mean_ci_upper"].to_numpy(),
            "pred_low": frame["obs_ci_lower"].to_numpy(),
            "pred_high": frame["obs_ci_upper"].to_numpy(),
        }
    )
    for column in ("fitted", "mean_low", "mean_high", "pred_low", "pred_high"):
        out[column] = out[column].clip(lower=0.0).round(6)
    out["model"] = MODEL
    out["n_months"] = n_hist
    return out


def _fit_group(group: pd.DataFrame) -> pd.DataFrame:
    out = fit_series(group[["month", "value"]])
    for key in ("person_id", "sport", "metric"):
        out[key] = group[key].iloc[0]
    return out[OUTPUT_COLUMNS]


def forecast(monthly_trends: DataFrame) -> DataFrame:
    """gold.trends_monthly -> history and forecast rows per (athlete, sport, metric, month)."""
    stack = ", ".join(f"'{m}', CAST({m} AS DOUBLE)" for m in METRICS)
    long = monthly_trends.select(
        F.col("person_id").cast("string").alias("person_id"), "sport", "month",
        F.expr(f"stack({len(METRICS)}, {stack}) AS (metric, value)"),
    )  # fmt: skip
    return long.groupBy("person_id", "sport", "metric").applyInPandas(_fit_group, schema=SCHEMA)
