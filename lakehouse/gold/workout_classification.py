"""gold.workout_classification: each on-foot workout labelled real_run, pup_walk, mixed or outlier.

Grain: one row per on-foot workout (sport family run or walk). Keys: (`workout_id`).

Per athlete, k-means (scikit-learn, k=3, run for every athlete at once in one grouped Spark pass) on
standardised pace (min/mi), distance and duration. Clusters are named by their mean pace: the fastest
`real_run`, the slowest `pup_walk`, the middle one `mixed`. A workout whose pace is physically implausible, or
that lies more than `OUTLIER_DISTANCE` standardised units from its centroid, is an `outlier`. Confidence =
(d2 - d1) / (d2 + d1) with d1, d2 the distances to the nearest and second-nearest centroids (1 = unambiguous,
0 = on the border).
Fallbacks (the workout-intelligence seed): fewer than `MIN_WORKOUTS` workouts -> era defaults around the
event date (before: real_run, after: pup_walk, confidence 0.5); k-means impossible (fewer than k distinct
points) -> pace thresholds. `method` says which produced each label.

A model is its scaler (feature means and sample standard deviations), its centroids in standardised space and
the name of each cluster: small enough to keep whole in `ops.model_registry`'s metadata and in a JSON file
under `<tables_root>/models/workout_kmeans/person=<id>/k=<k>/data_version=<v>/model.json`, with the Delta
version of silver.workouts it was trained on: the same data version reloads the same model, so a result can
be reproduced later. Labelling is column arithmetic on that model (one query for every athlete, no Python).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

if TYPE_CHECKING:  # pandas is imported where a frame is made (on the executors): not at a job's start
    import pandas as pd

NAME = "workout_classification"
KEYS = ("workout_id",)
K = 3
SEED = 42
N_INIT = 10
MIN_WORKOUTS = 5
OUTLIER_DISTANCE = 3.0
PLAUSIBLE_PACE_MIN_PER_MILE = (4.0, 45.0)
PACE_THRESHOLDS_MIN_PER_MILE = (14.0, 18.0)  # <= first: real_run, >= second: pup_walk, between: mixed
ERA_DEFAULT_CONFIDENCE = 0.5
THRESHOLD_CONFIDENCE = 0.6
METRES_PER_MILE = 1609.344
FEATURES = ("pace_min_per_mile", "distance_mi", "duration_min")
LABELS_BY_PACE = ("real_run", "mixed", "pup_walk")
FITTED_SCHEMA = "person_id string, model string"
NO_PERSON = "(none)"  # the key of workouts without a person_id: they are clustered together, not dropped
MODEL_SCHEMA = T.StructType(
    [
        T.StructField("model_person", T.StringType(), False),
        T.StructField("model_mean", T.ArrayType(T.DoubleType(), False), False),
        T.StructField("model_scale", T.ArrayType(T.DoubleType(), False), False),
        T.StructField("model_centroids", T.ArrayType(T.ArrayType(T.DoubleType(), False), False), False),
        T.StructField("model_labels", T.ArrayType(T.StringType(), False), False),
        T.StructField("model_outlier_distance", T.DoubleType(), False),
    ]
)


@dataclass(frozen=True)
class TrainedModel:
    """A fitted scaler + k-means and what its clusters mean.

    `mean` and `std` are the features' mean and sample standard deviation over the training rows; a workout is
    standardised as (x - mean) / std, and a feature that did not vary (std 0) standardises to 0 (as Spark's
    StandardScaler does). `centroids` are in that standardised space, one per cluster index."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    label_of_cluster: Mapping[int, str]
    n_train: int = 0
    outlier_distance: float = OUTLIER_DISTANCE

    @property
    def k(self) -> int:
        """The number of clusters."""
        return len(self.centroids)

    def scale(self) -> tuple[float, ...]:
        """What multiplies (x - mean): 1 / std, or 0 for a feature that did not vary."""
        return tuple(1.0 / s if s > 0 else 0.0 for s in self.std)

    def with_outlier_distance(self, outlier_distance: float) -> TrainedModel:
        """The same model with another outlier threshold."""
        return TrainedModel(self.mean, self.std, self.centroids, self.label_of_cluster, self.n_train, outlier_distance)


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


def person_key() -> Column:
    """Whose model labels a row: its person_id as a string (`NO_PERSON` when it has none)."""
    return F.coalesce(F.col("person_id").cast("string"), F.lit(NO_PERSON))


def key_of(person_id: object) -> str:
    """`person_key` of one person_id value, on the driver."""
    return NO_PERSON if person_id is None else str(person_id)


def cluster_names(n: int) -> tuple[str, ...]:
    """Names of `n` clusters ordered by mean pace: the fastest real_run, the slowest pup_walk, between mixed."""
    if n <= 1:
        return ("real_run",)[:n]
    return ("real_run", *(["mixed"] * (n - 2)), "pup_walk")


def fit(points: np.ndarray, k: int, outlier_distance: float = OUTLIER_DISTANCE) -> TrainedModel:
    """Standardise `points` (rows of FEATURES, in a fixed order), run k-means and name the clusters by the mean
    pace of their points. Deterministic: the same rows in the same order give the same model."""
    from sklearn.cluster import KMeans

    points = np.asarray(points, dtype=float)
    mean = points.mean(axis=0)
    std = points.std(axis=0, ddof=1) if len(points) > 1 else np.zeros(points.shape[1])
    scale = np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 0.0)
    fitted = KMeans(n_clusters=k, n_init=N_INIT, random_state=SEED).fit((points - mean) * scale)
    paces = [points[fitted.labels_ == c, 0].mean() for c in range(k)]
    names = cluster_names(k)
    ordered = sorted(range(k), key=lambda c: (paces[c], c))
    return TrainedModel(
        tuple(map(float, mean)), tuple(map(float, std)),
        tuple(tuple(map(float, c)) for c in fitted.cluster_centers_),
        {c: names[i] for i, c in enumerate(ordered)}, len(points), outlier_distance,
    )  # fmt: skip


def _fit_person(group: pd.DataFrame) -> pd.DataFrame:  # columns person_key, workout_id, FEATURES, k
    """One athlete's plausible workouts (and their k) -> one row: the athlete and the model as JSON."""
    import pandas as pd

    ordered = group.sort_values("workout_id", kind="stable")
    model = fit(ordered[list(FEATURES)].to_numpy(dtype=float), int(ordered["k"].iloc[0]))
    return pd.DataFrame({"person_id": [group["person_key"].iloc[0]], "model": [to_json(model)]})


def train(
    df: DataFrame, k: int | Mapping[str, int] = K, outlier_distance: float = OUTLIER_DISTANCE
) -> dict[str, TrainedModel]:
    """Fit one model per athlete on their plausible workouts `df`, every athlete in one grouped Spark pass (the
    fitting runs on the executors). `k` is one for all or per athlete (by person_id as a string); the models
    are returned by `person_key`."""
    person = person_key()
    k_of = F.create_map(*[F.lit(x) for p, n in (k.items() if isinstance(k, Mapping) else []) for x in (p, n)])
    k_column = F.lit(k) if isinstance(k, int) else k_of[person]
    fitted = (
        df.select(person.alias("person_key"), "workout_id", *FEATURES, k_column.cast("int").alias("k"))
        .groupBy("person_key").applyInPandas(_fit_person, schema=FITTED_SCHEMA).collect()
    )  # fmt: skip
    return {r["person_id"]: from_json(r["model"]).with_outlier_distance(outlier_distance) for r in fitted}


def to_json(model: TrainedModel) -> str:
    """The whole model as JSON (the registry's metadata, the model file)."""
    return json.dumps(
        {
            "mean": list(model.mean),
            "std": list(model.std),
            "centroids": [list(c) for c in model.centroids],
            "label_of_cluster": {str(c): name for c, name in sorted(model.label_of_cluster.items())},
            "features": list(FEATURES),
            "k": model.k,
            "seed": SEED,
            "n_init": N_INIT,
            "n_train": model.n_train,
            "outlier_distance": model.outlier_distance,
            "algorithm": "sklearn.cluster.KMeans",
        }
    )


def from_json(text: str) -> TrainedModel:
    """A model written by `to_json`."""
    meta = json.loads(text)
    return TrainedModel(
        tuple(map(float, meta["mean"])), tuple(map(float, meta["std"])),
        tuple(tuple(map(float, c)) for c in meta["centroids"]),
        {int(c): str(name) for c, name in meta["label_of_cluster"].items()},
        int(meta.get("n_train", 0)), float(meta.get("outlier_distance", OUTLIER_DISTANCE)),
    )  # fmt: skip


def is_complete(metadata: str | None) -> bool:
    """Whether registry metadata holds the whole model (models saved before this held only the centroids)."""
    try:
        meta = json.loads(metadata or "{}")
    except ValueError:
        return False
    return all(key in meta for key in ("mean", "std", "centroids", "label_of_cluster"))


def model_frame(spark: SparkSession, models: Mapping[str, TrainedModel]) -> DataFrame:
    """One row per athlete's model (by `person_key`), the columns `classify` reads."""
    rows = [
        (person, list(m.mean), list(m.scale()), [list(c) for c in m.centroids],
         [m.label_of_cluster.get(c, "?") for c in range(m.k)], float(m.outlier_distance))
        for person, m in sorted(models.items())
    ]  # fmt: skip
    return spark.createDataFrame(rows, MODEL_SCHEMA)


def classify(df: DataFrame, models: Mapping[str, TrainedModel]) -> DataFrame:
    """Label every workout of an athlete with a model: cluster, label, confidence, distance to its centroid.
    Workouts of athletes without a model are left out. One query for every athlete: the models are a small
    broadcast table, the distances column arithmetic."""
    frame = model_frame(df.sparkSession, models)
    joined = df.join(F.broadcast(frame), person_key() == F.col("model_person"))
    z = [(F.col(f) - F.col("model_mean")[i]) * F.col("model_scale")[i] for i, f in enumerate(FEATURES)]
    dist = F.transform(
        "model_centroids", lambda c: F.sqrt(sum(((z[i] - c[i]) ** 2 for i in range(len(FEATURES))), F.lit(0.0)))
    )
    scored = joined.withColumn("d", dist).withColumn("d_sorted", F.array_sort("d"))
    d1 = F.col("d_sorted")[0]
    d2 = F.when(F.size("d_sorted") > 1, F.col("d_sorted")[1]).otherwise(d1)
    cluster = (F.array_position("d", d1) - 1).cast("int")
    low, high = PLAUSIBLE_PACE_MIN_PER_MILE
    implausible = ~F.col("pace_min_per_mile").between(low, high)
    far = d1 > F.col("model_outlier_distance")
    label = F.when(implausible | far, F.lit("outlier")).otherwise(F.element_at("model_labels", cluster + 1))
    confidence = F.round(
        F.when(implausible, F.lit(1.0)).when(d2 + d1 > 0, (d2 - d1) / (d2 + d1)).otherwise(F.lit(1.0)), 4
    )
    return scored.select(*_labelled_columns(cluster, label, confidence, F.round(d1, 4), "kmeans"))


def _labelled_columns(cluster: Column, label: Column, confidence: Column, distance: Column, method: str) -> list:
    """The output columns, in order."""
    return [
        "workout_id", "person_id", "workout_date", "sport", *FEATURES,
        cluster.cast("int").alias("cluster"), label.cast("string").alias("label"),
        confidence.cast("double").alias("confidence"), distance.cast("double").alias("centroid_distance"),
        F.lit(method).alias("method"),
    ]  # fmt: skip


def era_defaults(df: DataFrame, event_date: date | Column) -> DataFrame:
    """Too few workouts to cluster: before the event date real_run, after it pup_walk, confidence 0.5.
    `event_date` is one date for every row, or a column (each athlete's own)."""
    event = F.lit(event_date) if isinstance(event_date, date) else event_date
    label = F.when(F.col("workout_date") < event, "real_run").otherwise("pup_walk")
    return df.select(*_labelled_columns(F.lit(None), label, F.lit(ERA_DEFAULT_CONFIDENCE), F.lit(None), "era_default"))


def pace_thresholds(df: DataFrame) -> DataFrame:
    """The last fallback: fixed pace bands (min/mi)."""
    fast, slow = PACE_THRESHOLDS_MIN_PER_MILE
    low, high = PLAUSIBLE_PACE_MIN_PER_MILE
    pace = F.col("pace_min_per_mile")
    label = (F.when(~pace.between(low, high), "outlier").when(pace <= fast, "real_run")
             .when(pace >= slow, "pup_walk").otherwise("mixed"))  # fmt: skip
    return df.select(*_labelled_columns(F.lit(None), label, F.lit(THRESHOLD_CONFIDENCE), F.lit(None), "pace_threshold"))


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

