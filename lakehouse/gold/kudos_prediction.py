"""gold.kudos_predictions and ops.kudos_model_runs: how many kudos an activity gets, learned from history.

kudos_predictions
    Grain: one row per Strava activity. Keys: (`athlete_id`, `activity_id`).
    The prediction of the latest model, the actual kudos, and whether the activity was in the training or the
    held-out set of that model.
kudos_model_runs (ops)
    Grain: one row per training run. Keys: (`model_version`).
    Held-out MAE and RMSE beside a naive baseline (the training mean), the data it saw, where it is saved.

Spark MLlib gradient-boosted trees on: sport, distance, moving time, elevation gain, weekday, local hour,
and recent history (the athlete's mean kudos over the previous `HISTORY_WINDOW` activities, and how long
they have been on Strava). The split is by time: the latest `HOLDOUT_SHARE` of activities is held out, as
the model will be used on activities newer than those it learned from. A model is retrained when new
activities land (the set of activity ids changed since the last run), as the seed pipeline did after every
load.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PREDICTIONS_NAME = "kudos_predictions"
PREDICTIONS_KEYS = ("athlete_id", "activity_id")
RUNS_NAME = "kudos_model_runs"
HISTORY_WINDOW = 5
HOLDOUT_SHARE = 0.2
MIN_ACTIVITIES = 20
SEED = 7
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


def split(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(train, held-out): the latest HOLDOUT_SHARE of each athlete's activities is held out."""
    return df.where(F.col("time_rank") < 1 - HOLDOUT_SHARE), df.where(F.col("time_rank") >= 1 - HOLDOUT_SHARE)


def pipeline() -> Pipeline:
    """Sport one-hot + numeric features -> gradient-boosted trees."""
    return Pipeline(
        stages=[
            StringIndexer(inputCol="sport_type", outputCol="sport_index", handleInvalid="keep"),
            OneHotEncoder(inputCol="sport_index", outputCol="sport_vector", handleInvalid="keep"),
            VectorAssembler(inputCols=["sport_vector", *NUMERIC_FEATURES], outputCol="features"),
            GBTRegressor(featuresCol="features", labelCol="kudos", maxIter=40, maxDepth=4, seed=SEED),
        ]
    )


def evaluate(model: PipelineModel, train: DataFrame, test: DataFrame) -> Evaluation:
    """MAE and RMSE on the held-out set, for the model and for predicting the training mean."""
    mean = train.agg(F.avg("kudos")).first()[0] or 0.0
    predicted = model.transform(test).withColumn("baseline", F.lit(float(mean)))
    metric = {
        name: RegressionEvaluator(labelCol="kudos", predictionCol=col, metricName=name).evaluate(predicted)
        for name, col in (("mae", "prediction"), ("rmse", "prediction"))
    }
    base = {
        name: RegressionEvaluator(labelCol="kudos", predictionCol="baseline", metricName=name).evaluate(predicted)
        for name in ("mae", "rmse")
    }
    return Evaluation(train.count(), test.count(), metric["mae"], metric["rmse"], base["mae"], base["rmse"])


def predictions(model: PipelineModel, df: DataFrame, model_version: str) -> DataFrame:
    """Every activity's predicted kudos beside the actual, and which set it was in."""
    return model.transform(df).select(
        "athlete_id", "activity_id", "start_time_utc", "sport_type",
        F.col("kudos").cast("long").alias("actual_kudos"),
        F.round(F.greatest(F.lit(0.0), F.col("prediction")), 2).alias("predicted_kudos"),
        F.when(F.col("time_rank") < 1 - HOLDOUT_SHARE, "train").otherwise("held_out").alias("split"),
        F.lit(model_version).alias("model_version"),
    )  # fmt: skip
