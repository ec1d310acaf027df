"""gold.workout_classification: each on-foot workout labelled real_run, pup_walk, mixed or outlier.

Grain: one row per on-foot workout (sport family run or walk). Keys: (`workout_id`).

Per athlete, k-means (Spark MLlib, k=3) on standardised pace (min/mi), distance and duration. Clusters are
named by their mean pace: the fastest `real_run`, the slowest `pup_walk`, the middle one `mixed`. A workout
whose pace is physically implausible, or that lies more than `OUTLIER_DISTANCE` standardised units from its
centroid, is an `outlier`. Confidence = (d2 - d1) / (d2 + d1) with d1, d2 the distances to the nearest and
second-nearest centroids (1 = unambiguous, 0 = on the border).
Fallbacks (the workout-intelligence seed): fewer than `MIN_WORKOUTS` workouts -> era defaults around the
event date (before: real_run, after: pup_walk, confidence 0.5); k-means impossible (fewer than k distinct
points) -> pace thresholds. `method` says which produced each label.

The model is saved under `<tables_root>/models/workout_kmeans/person=<id>/k=<k>/data_version=<v>/` together
with the Delta version of silver.workouts it was trained on, and listed in `ops.model_registry`: the same
data version reloads the same model, so a result can be reproduced later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

NAME = "workout_classification"
KEYS = ("workout_id",)
K = 3
SEED = 42
MIN_WORKOUTS = 5
OUTLIER_DISTANCE = 3.0
PLAUSIBLE_PACE_MIN_PER_MILE = (4.0, 45.0)
PACE_THRESHOLDS_MIN_PER_MILE = (14.0, 18.0)  # <= first: real_run, >= second: pup_walk, between: mixed
ERA_DEFAULT_CONFIDENCE = 0.5
THRESHOLD_CONFIDENCE = 0.6
METRES_PER_MILE = 1609.344
FEATURES = ("pace_min_per_mile", "distance_mi", "duration_min")
LABELS_BY_PACE = ("real_run", "mixed", "pup_walk")


@dataclass(frozen=True)
class TrainedModel:
    """A fitted k-means pipeline and what its clusters mean."""

    model: PipelineModel
    label_of_cluster: dict[int, str]
    centroids: list[list[float]]  # in standardised feature space
    k: int = K
    outlier_distance: float = OUTLIER_DISTANCE


def features(workouts: DataFrame) -> DataFrame:
    """On-foot workouts with the three features; rows missing a feature are left out."""
    return workouts.where(F.col("sport").isin("run", "walk")).select(
        "workout_id", "person_id", "workout_date", "sport",
        (F.col("pace_s_per_km") / 60 * METRES_PER_MILE / 1000).alias("pace_min_per_mile"),
        (F.col("distance_m") / METRES_PER_MILE).alias("distance_mi"),
        (F.col("duration_s") / 60).alias("duration_min"),
    ).where(" AND ".join(f"{c} IS NOT NULL AND {c} > 0" for c in FEATURES))  # fmt: skip


def plausible(df: DataFrame) -> DataFrame:
    """Rows whose pace a human on foot can hold (GPS glitches and forgotten stop buttons removed)."""
    low, high = PLAUSIBLE_PACE_MIN_PER_MILE
    return df.where(F.col("pace_min_per_mile").between(low, high))


def train(df: DataFrame, k: int = K, outlier_distance: float = OUTLIER_DISTANCE) -> TrainedModel:
    """Fit scaler + k-means (`k` clusters) on plausible workouts and name the clusters by mean pace."""
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(FEATURES), outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features", withMean=True, withStd=True),
            KMeans(k=k, seed=SEED, featuresCol="features", predictionCol="cluster"),
        ]
    )
    # One partition in a fixed row order: k-means|| samples its first centres partition by partition and sums
    # distances per partition, so the same rows split differently (a cluster's executors, another file
    # layout) would give other clusters. A person's workouts are thousands of rows: one task fits them.
    model = pipeline.fit(df.repartition(1).sortWithinPartitions("workout_id"))
    return describe(model, df, outlier_distance)


def cluster_names(n: int) -> tuple[str, ...]:
    """Names of `n` clusters ordered by mean pace: the fastest real_run, the slowest pup_walk, between mixed."""
    if n <= 1:
        return ("real_run",)[:n]
    return ("real_run", *(["mixed"] * (n - 2)), "pup_walk")


def describe(model: PipelineModel, df: DataFrame, outlier_distance: float = OUTLIER_DISTANCE) -> TrainedModel:
    """Name a fitted model's clusters: fastest mean pace -> real_run, slowest -> pup_walk, between -> mixed."""
    paces = {
        r["cluster"]: r["pace"]
        for r in model.transform(df).groupBy("cluster").agg(F.avg("pace_min_per_mile").alias("pace")).collect()
    }
    ordered = sorted(paces, key=lambda c: paces[c])
    names = cluster_names(len(ordered))
    label_of_cluster = {c: names[i] for i, c in enumerate(ordered)}
    centroids = [list(map(float, c)) for c in model.stages[-1].clusterCenters()]
    return TrainedModel(model, label_of_cluster, centroids, len(centroids), outlier_distance)


def classify(df: DataFrame, trained: TrainedModel) -> DataFrame:
    """Label every workout with the trained model: label, confidence, distance to its centroid."""
    centroids = trained.centroids
    labels = F.create_map(*[x for c, name in trained.label_of_cluster.items() for x in (F.lit(c), F.lit(name))])
    scored = trained.model.transform(df).withColumn("v", vector_to_array("features"))
    dist = [F.sqrt(sum((F.col("v")[i] - F.lit(c[i])) ** 2 for i in range(len(FEATURES)))) for c in centroids]
    d_sorted = F.array_sort(F.array(*dist))
    d1, d2 = d_sorted[0], d_sorted[1] if len(dist) > 1 else d_sorted[0]
    low, high = PLAUSIBLE_PACE_MIN_PER_MILE
    implausible = ~F.col("pace_min_per_mile").between(low, high)
    far = d1 > trained.outlier_distance
    return scored.select(
        "workout_id", "person_id", "workout_date", "sport", *FEATURES,
        F.col("cluster").cast("int").alias("cluster"),
        F.when(implausible | far, F.lit("outlier"))
        .otherwise(F.try_element_at(labels, F.col("cluster")))
        .alias("label"),
        F.round(F.when(implausible, F.lit(1.0)).when(d2 + d1 > 0, (d2 - d1) / (d2 + d1)).otherwise(F.lit(1.0)), 4)
        .alias("confidence"),
        F.round(d1, 4).alias("centroid_distance"),
        F.lit("kmeans").alias("method"),
    )  # fmt: skip


def era_defaults(df: DataFrame, event_date: date) -> DataFrame:
    """Too few workouts to cluster: before the event date real_run, after it pup_walk, confidence 0.5."""
    return df.select(
        "workout_id", "person_id", "workout_date", "sport", *FEATURES,
        F.lit(None).cast("int").alias("cluster"),
        F.when(F.col("workout_date") < F.lit(event_date), "real_run").otherwise("pup_walk").alias("label"),
        F.lit(ERA_DEFAULT_CONFIDENCE).alias("confidence"),
        F.lit(None).cast("double").alias("centroid_distance"),
        F.lit("era_default").alias("method"),
    )  # fmt: skip


def pace_thresholds(df: DataFrame) -> DataFrame:
    """The last fallback: fixed pace bands (min/mi)."""
    fast, slow = PACE_THRESHOLDS_MIN_PER_MILE
    low, high = PLAUSIBLE_PACE_MIN_PER_MILE
    pace = F.col("pace_min_per_mile")
    return df.select(
        "workout_id", "person_id", "workout_date", "sport", *FEATURES,
        F.lit(None).cast("int").alias("cluster"),
        F.when(~pace.between(low, high), "outlier").when(pace <= fast, "real_run").when(pace >= slow, "pup_walk")
        .otherwise("mixed").alias("label"),
        F.lit(THRESHOLD_CONFIDENCE).alias("confidence"),
        F.lit(None).cast("double").alias("centroid_distance"),
        F.lit("pace_threshold").alias("method"),
    )  # fmt: skip


def sizes(feats: DataFrame) -> DataFrame:
    """Per person, in one pass: their workouts, their plausible workouts (what k-means trains on), and their
    distinct plausible feature vectors (k-means needs at least k of them to have something to separate)."""
    low, high = PLAUSIBLE_PACE_MIN_PER_MILE
    is_plausible = F.col("pace_min_per_mile").between(low, high)
    return feats.groupBy("person_id").agg(
        F.count(F.lit(1)).alias("workouts"),
        F.count(F.when(is_plausible, 1)).alias("plausible"),
        F.count_distinct(F.when(is_plausible, F.struct(*FEATURES))).alias("distinct_plausible"),
    )


def metadata(trained: TrainedModel) -> str:
    """What the registry stores beside the model: the cluster names and centroids."""
    return json.dumps(
        {
            "label_of_cluster": {str(k): v for k, v in trained.label_of_cluster.items()},
            "centroids": np.round(np.array(trained.centroids), 6).tolist(),
            "features": list(FEATURES),
            "k": trained.k,
            "seed": SEED,
            "outlier_distance": trained.outlier_distance,
        }
    )
