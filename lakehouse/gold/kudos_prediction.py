"""gold.kudos_predictions and ops.kudos_model_runs: how many kudos an activity gets, learned from history.

kudos_predictions
    Grain: one row per Strava activity. Keys: (`athlete_id`, `activity_id`).
    The prediction of the latest model, the actual kudos, and whether the activity was in the training or the
    held-out set of that model.
kudos_model_runs (ops)
    Grain: one row per training run. Keys: (`model_version`).
    Held-out MAE and RMSE beside a naive baseline (the training mean), the data it saw, where it is saved.

Gradient-boosted trees (scikit-learn's histogram GBT: `MAX_ITER` trees of depth `MAX_DEPTH`, learning rate
0.1, fixed seed, no early stopping, so a retrain on the same rows gives the same model) on: sport, distance,
moving time, elevation gain, weekday, local hour, and recent history (the athlete's mean kudos over the
previous `HISTORY_WINDOW` activities, and how long they have been on Strava). Spark builds the features;
the model is fitted on the driver, because a person's activities are thousands of rows, not millions:
Spark MLlib's distributed GBT spent ~200 Spark jobs (28 s) to fit the demo's 400, scikit-learn fits them in
well under a second. The split is by time: the latest `HOLDOUT_SHARE` of activities is held out, as the
model will be used on activities newer than those it learned from. A model is retrained when new
activities land (the set of activity ids changed since the last run), as the seed pipeline did after every
load.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

# scikit-learn, joblib and pandas are imported in the functions that fit, score or save a model:
# together some 5 s of a job's start-up, wasted on a run that trains nothing (nothing new, bronze only).
if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

PREDICTIONS_NAME = "kudos_predictions"
PREDICTIONS_KEYS = ("athlete_id", "activity_id")
RUNS_NAME = "kudos_model_runs"
HISTORY_WINDOW = 5
HOLDOUT_SHARE = 0.2
MIN_ACTIVITIES = 20
SEED = 7
MAX_ITER = 40
MAX_DEPTH = 4
MIN_LEAF = 1  # as MLlib's GBT (minInstancesPerNode 1): a person's few long runs may form their own leaf
NUMERIC_FEATURES = (
    "distance_km", "moving_min", "elevation_gain_m", "weekday", "hour", "recent_kudos_mean", "days_on_strava",
)  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """Held-out errors of the model and of the naive baseline."""

    n_train: int
    n_test: int
    mae: float
    rmse: float
    baseline_mae: float
    baseline_rmse: float


def features(activities: DataFrame) -> DataFrame:
    """silver.strava_activities -> one feature row per activity, with its order in time."""
    history = Window.partitionBy("athlete_id").orderBy("start_time_utc", "activity_id")
    previous = history.rowsBetween(-HISTORY_WINDOW, -1)
    first_day = F.min("activity_date").over(Window.partitionBy("athlete_id"))
    return activities.select(
        "athlete_id", "activity_id", "start_time_utc", "sport_type",
        F.col("kudos_count").cast("double").alias("kudos"),
        (F.col("distance_m") / 1000).alias("distance_km"),
        (F.col("moving_time_s") / 60).alias("moving_min"),
        F.coalesce("elevation_gain_m", F.lit(0.0)).alias("elevation_gain_m"),
        F.dayofweek("activity_date").cast("double").alias("weekday"),
        F.hour("start_time_local").cast("double").alias("hour"),
        F.coalesce(F.avg("kudos_count").over(previous), F.lit(0.0)).alias("recent_kudos_mean"),
        F.datediff("activity_date", first_day).cast("double").alias("days_on_strava"),
        F.percent_rank().over(history).alias("time_rank"),
    )  # fmt: skip


class Regressor(Protocol):
    """What evaluation and prediction need of a fitted model: `predict` on a pandas frame of features."""

    def predict(self, X: pd.DataFrame) -> np.ndarray: ...


def pipeline() -> Pipeline:
    """Sport one-hot + numeric features -> gradient-boosted trees (NULL numbers are missing values)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("sport", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["sport_type"])],
        remainder="passthrough",
    )
    trees = HistGradientBoostingRegressor(
        learning_rate=0.1,
        max_iter=MAX_ITER,
        max_depth=MAX_DEPTH,
        min_samples_leaf=MIN_LEAF,
        early_stopping=False,
        random_state=SEED,
    )
    return Pipeline([("encode", encode), ("trees", trees)])


def to_pandas(feats: DataFrame) -> pd.DataFrame:
    """The feature rows on the driver (one Spark job), in a stable order."""
    columns = ["athlete_id", "activity_id", "sport_type", "kudos", *NUMERIC_FEATURES, "time_rank"]
    pdf = feats.select(*columns).toPandas()
    pdf["sport_type"] = pdf["sport_type"].fillna("").astype(str)
    for column in (*NUMERIC_FEATURES, "kudos", "time_rank"):
        pdf[column] = pdf[column].astype("float64")
    return pdf.sort_values(["athlete_id", "activity_id"], kind="stable").reset_index(drop=True)


def model_inputs(pdf: pd.DataFrame) -> pd.DataFrame:
    """The columns the model reads, in its order."""
    return pdf[["sport_type", *NUMERIC_FEATURES]]


def split_rows(pdf: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, held-out): the latest HOLDOUT_SHARE of each athlete's activities (by time rank) is held out."""
    held_out = pdf["time_rank"] >= 1 - HOLDOUT_SHARE
    return pdf[~held_out], pdf[held_out]


def fit(train: pd.DataFrame) -> Pipeline:
    """The model fitted on the training rows."""
    return pipeline().fit(model_inputs(train), train["kudos"])


def evaluate(model: Regressor, train: pd.DataFrame, test: pd.DataFrame) -> Evaluation:
    """MAE and RMSE on the held-out set, for the model and for predicting the training mean."""
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    mean = float(train["kudos"].mean()) if len(train) else 0.0
    if not len(test):
        nan = float("nan")
        return Evaluation(len(train), 0, nan, nan, nan, nan)
    predicted = model.predict(model_inputs(test))
    baseline = np.full(len(test), mean)
    actual = test["kudos"].to_numpy()
    return Evaluation(
        len(train), len(test),
        float(mean_absolute_error(actual, predicted)), float(root_mean_squared_error(actual, predicted)),
        float(mean_absolute_error(actual, baseline)), float(root_mean_squared_error(actual, baseline)),
    )  # fmt: skip


def serialise(model: Pipeline) -> bytes:
    """The fitted model as bytes (joblib), to store beside the tables."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def predictions(spark: SparkSession, model: Regressor, feats: DataFrame, pdf: pd.DataFrame, model_version: str
                ) -> DataFrame:  # fmt: skip
    """Every activity's predicted kudos beside the actual, and which set it was in."""
    import pandas as pd

    scored = spark.createDataFrame(
        pd.DataFrame(
            {
                "athlete_id": pdf["athlete_id"].astype("int64"),
                "activity_id": pdf["activity_id"].astype("int64"),
                "prediction": np.asarray(model.predict(model_inputs(pdf)), dtype="float64"),
            }
        ),
        "athlete_id long, activity_id long, prediction double",
    )
    return feats.join(scored, on=["athlete_id", "activity_id"], how="inner").select(
        "athlete_id", "activity_id", "start_time_utc", "sport_type",
        F.col("kudos").cast("long").alias("actual_kudos"),
        F.round(F.greatest(F.lit(0.0), F.col("prediction")), 2).alias("predicted_kudos"),
        F.when(F.col("time_rank") < 1 - HOLDOUT_SHARE, "train").otherwise("held_out").alias("split"),
        F.lit(model_version).alias("model_version"),
    )  # fmt: skip
