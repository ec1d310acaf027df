"""gold.kudos_predictions' building blocks on literal activities: features, the time split, the baseline."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.kudos_prediction import (
    NUMERIC_FEATURES,
    evaluate,
    features,
    fit,
    model_inputs,
    split_rows,
    to_pandas,
)

ACTIVITIES = (
    "athlete_id long, activity_id long, start_time_utc timestamp, start_time_local timestamp_ntz,"
    " activity_date date, sport_type string, kudos_count int, distance_m double, moving_time_s long,"
    " elevation_gain_m double"
)


def _activity(athlete: int, activity: int, utc: datetime, sport: str, kudos: int, metres: float, seconds: int,
              elevation: float | None) -> tuple:  # fmt: skip
    local = utc + timedelta(hours=1)  # the athlete lives at UTC+1
    return (athlete, activity, utc, local, local.date(), sport, kudos, metres, seconds, elevation)


def test_features_recent_kudos_over_the_previous_five_activities(spark: SparkSession) -> None:
    activities = spark.createDataFrame(
        [
            _activity(1, 101, datetime(2024, 1, 1, 7), "Run", 3, 5000.0, 1500, 20.0),  # Monday
            _activity(1, 102, datetime(2024, 1, 3, 18, 30), "Run", 5, 10000.0, 3000, None),  # Wednesday
            _activity(1, 103, datetime(2024, 1, 6, 9), "Ride", 10, 40000.0, 4800, 300.0),  # Saturday
            _activity(1, 104, datetime(2024, 1, 7, 7), "Walk", 0, 2000.0, 1200, 5.0),  # Sunday
            _activity(1, 105, datetime(2024, 1, 10, 6), "Run", 2, 8000.0, 2400, 30.0),  # Wednesday
            _activity(1, 106, datetime(2024, 1, 13, 8), "Run", 8, 21097.5, 6600, 100.0),  # Saturday
            _activity(1, 107, datetime(2024, 1, 14, 10), "Walk", 4, 3000.0, 1800, 0.0),  # Sunday
            _activity(2, 201, datetime(2024, 2, 1, 12), "Run", 7, 6000.0, 1800, 10.0),  # Thursday
        ],
        ACTIVITIES,
    )
    # Recent kudos mean of the (up to) 5 activities before: none -> 0; 3; (3+5)/2 = 4; 18/3 = 6; 18/4 = 4.5;
    # (3+5+10+0+2)/5 = 4; (5+10+0+2+8)/5 = 5. Weekday: Spark's dayofweek, Sunday = 1 ... Saturday = 7.
    # Hour: local. Days on Strava: since the athlete's first activity. Time rank: percent rank, i / (n - 1).
    expected = spark.createDataFrame(
        [
            (1, 101, datetime(2024, 1, 1, 7), "Run", 3.0, 5.0, 25.0, 20.0, 2.0, 8.0, 0.0, 0.0, 0.0),
            (1, 102, datetime(2024, 1, 3, 18, 30), "Run", 5.0, 10.0, 50.0, 0.0, 4.0, 19.0, 3.0, 2.0, 1 / 6),
            (1, 103, datetime(2024, 1, 6, 9), "Ride", 10.0, 40.0, 80.0, 300.0, 7.0, 10.0, 4.0, 5.0, 2 / 6),
            (1, 104, datetime(2024, 1, 7, 7), "Walk", 0.0, 2.0, 20.0, 5.0, 1.0, 8.0, 6.0, 6.0, 3 / 6),
            (1, 105, datetime(2024, 1, 10, 6), "Run", 2.0, 8.0, 40.0, 30.0, 4.0, 7.0, 4.5, 9.0, 4 / 6),
            (1, 106, datetime(2024, 1, 13, 8), "Run", 8.0, 21.0975, 110.0, 100.0, 7.0, 9.0, 4.0, 12.0, 5 / 6),
            (1, 107, datetime(2024, 1, 14, 10), "Walk", 4.0, 3.0, 30.0, 0.0, 1.0, 11.0, 5.0, 13.0, 1.0),
            (2, 201, datetime(2024, 2, 1, 12), "Run", 7.0, 6.0, 30.0, 10.0, 5.0, 13.0, 0.0, 0.0, 0.0),
        ],
        "athlete_id long, activity_id long, start_time_utc timestamp, sport_type string, kudos double,"
        " distance_km double, moving_min double, elevation_gain_m double, weekday double, hour double,"
        " recent_kudos_mean double, days_on_strava double, time_rank double",
    )
    assert_approx_df_equality(features(activities), expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_split_holds_out_each_athletes_latest_fifth(spark: SparkSession) -> None:
    start = datetime(2024, 3, 1, 7)
    rows = [
        # athlete 1: ten activities, ids running backwards in time: the split must follow time, not ids
        *[_activity(1, 110 - i, start + timedelta(days=i), "Run", i, 5000.0, 1500, 0.0) for i in range(10)],
        *[_activity(2, 200 + i, start + timedelta(days=i), "Run", i, 5000.0, 1500, 0.0) for i in range(5)],
        _activity(3, 300, start, "Run", 1, 5000.0, 1500, 0.0),
    ]
    train, held_out = split_rows(to_pandas(features(spark.createDataFrame(rows, ACTIVITIES))))
    actual = spark.createDataFrame(
        [(int(a), int(b), "train") for a, b in zip(train["athlete_id"], train["activity_id"], strict=True)]
        + [(int(a), int(b), "held_out") for a, b in zip(held_out["athlete_id"], held_out["activity_id"], strict=True)],
        "athlete_id long, activity_id long, set string",
    )
    # Percent ranks: athlete 1 i/9, the last two (8/9, 9/9) are >= 0.8; athlete 2 i/4, only the last (1.0);
    # athlete 3's single activity has rank 0.
    expected = spark.createDataFrame(
        [(1, 110 - i, "train" if i < 8 else "held_out") for i in range(10)]
        + [(2, 200 + i, "train" if i < 4 else "held_out") for i in range(5)]
        + [(3, 300, "train")],
        "athlete_id long, activity_id long, set string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


class OneHigh:
    """A stand-in model that always predicts one kudo more than the activity's distance in km."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X["distance_km"].to_numpy() + 1.0


def _rows(kudos: list[float]) -> pd.DataFrame:
    # distance_km carries the actual kudos so the stand-in can be "one high"; the other features are zero.
    frame = pd.DataFrame({"sport_type": "Run", "kudos": kudos, "time_rank": 0.0})
    for column in NUMERIC_FEATURES:
        frame[column] = 0.0
    frame["distance_km"] = kudos
    return frame


def test_evaluate_reports_the_training_mean_baseline() -> None:
    train, test = _rows([2.0, 4.0, 6.0]), _rows([1.0, 7.0, 4.0])
    # The model is always one kudo high: MAE 1, RMSE 1.
    # Baseline: the training mean 4 -> errors 3, 3, 0: MAE 2, RMSE sqrt(18 / 3) = sqrt(6) = 2.449.
    result = evaluate(OneHigh(), train, test)
    assert (result.n_train, result.n_test) == (3, 3)
    assert (result.mae, result.rmse, result.baseline_mae, result.baseline_rmse) == pytest.approx(
        (1.0, 1.0, 2.0, math.sqrt(6))
    )


def test_the_model_learns_kudos_that_follow_distance_and_retrains_to_the_same_predictions() -> None:
    # 60 runs whose kudos are their distance in km, 60 rides that always get 2: trees must separate them.
    rows = []
    for i in range(60):
        rows.append({"sport_type": "Run", "kudos": float(5 + i % 10), "distance_km": float(5 + i % 10)})
        rows.append({"sport_type": "Ride", "kudos": 2.0, "distance_km": float(20 + i % 30)})
    frame = pd.DataFrame(rows)
    for column in NUMERIC_FEATURES:
        if column != "distance_km":
            frame[column] = 0.0
    probe = frame.iloc[[0, 1, 18, 19]]  # runs of 5 and 14 km, rides of 20 and 29 km
    first, second = fit(frame).predict(model_inputs(probe)), fit(frame).predict(model_inputs(probe))
    assert list(first) == list(second)  # fixed seed, no early stopping: the same trees each time
    assert first == pytest.approx([5.0, 2.0, 14.0, 2.0], abs=0.5)
