"""Saved k-means models read without a JVM, to explain labels: the scaler and centroids come from the model's
registry metadata (models kept whole) or, for a model saved before that as a Spark ML PipelineModel, from its
Parquet files; a workout's label follows from its distances to the centroids (the same rule as
gold.workout_classification)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from lakehouse.gold.workout_classification import FEATURES, PLAUSIBLE_PACE_MIN_PER_MILE


@dataclass(frozen=True)
class KMeansModel:
    """A fitted scaler + k-means: feature means and standard deviations, centroids in standardised space."""

    mean: np.ndarray
    std: np.ndarray
    centroids: np.ndarray  # one row per cluster index
    label_of_cluster: dict[int, str]
    outlier_distance: float

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """Features (rows of FEATURES) -> standardised space: (x - mean) / std, and 0 for a feature whose std is
        0 (as gold and Spark's StandardScaler do)."""
        scale = np.where(self.std > 0, 1.0 / np.where(self.std > 0, self.std, 1.0), 0.0)
        return (features - self.mean) * scale

    def centroids_in_units(self) -> pd.DataFrame:
        """The centroids back in pace (min/mi), miles and minutes."""
        values = self.centroids * self.std + self.mean
        frame = pd.DataFrame(values, columns=list(FEATURES))
        frame.insert(0, "label", [self.label_of_cluster.get(i, "?") for i in range(len(values))])
        frame.insert(0, "cluster", range(len(values)))
        return frame

    def classify(self, features: np.ndarray) -> pd.DataFrame:
        """Cluster, label, confidence and centroid distance per row (gold's rule, in numpy)."""
        z = self.standardise(np.asarray(features, dtype=float))
        distances = np.linalg.norm(z[:, None, :] - self.centroids[None, :, :], axis=2)
        cluster = distances.argmin(axis=1)
        ordered = np.sort(distances, axis=1)
        d1 = ordered[:, 0]
        d2 = ordered[:, 1] if ordered.shape[1] > 1 else d1
        low, high = PLAUSIBLE_PACE_MIN_PER_MILE
        pace = features[:, 0]
        implausible = (pace < low) | (pace > high)
        with np.errstate(invalid="ignore", divide="ignore"):
            confidence = np.where(d1 + d2 > 0, (d2 - d1) / (d2 + d1), 1.0)
        confidence = np.where(implausible, 1.0, confidence)
        labels = np.array([self.label_of_cluster.get(int(c), "?") for c in cluster], dtype=object)
        labels = np.where(implausible | (d1 > self.outlier_distance), "outlier", labels)
        return pd.DataFrame({"cluster": cluster, "label": labels, "confidence": np.round(confidence, 4),
                             "centroid_distance": np.round(d1, 4)})

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Distance of each row to each centroid, in standardised space."""
        z = self.standardise(np.asarray(features, dtype=float))
        return np.linalg.norm(z[:, None, :] - self.centroids[None, :, :], axis=2)


def _vector(value: dict) -> np.ndarray:
    """A Spark ML vector as stored in Parquet ({type, size, indices, values}; type 1 = dense)."""
    values = np.asarray(value["values"], dtype=float)
    if value.get("type") == 1:
        return values
    dense = np.zeros(int(value["size"]))
    dense[np.asarray(value["indices"], dtype=int)] = values
    return dense


def _stage_data(path: Path, kind: str) -> pd.DataFrame:
    stage = next(p for p in sorted((path / "stages").iterdir()) if kind in p.name)
    return pq.read_table(stage / "data").to_pandas()


def load_kmeans(path: str, metadata: str | None) -> KMeansModel:
    """The model registered with `metadata` (whole), or saved at `path` (local) with its labels and threshold
    in the registry's `metadata`."""
    from lakehouse.gold.workout_classification import from_json, is_complete

    if is_complete(metadata):
        whole = from_json(metadata or "")
        return KMeansModel(np.asarray(whole.mean), np.asarray(whole.std), np.asarray(whole.centroids, dtype=float),
                           dict(whole.label_of_cluster), whole.outlier_distance)  # fmt: skip
    root = Path(path.removeprefix("file:"))
    scaler = _stage_data(root, "StandardScaler").iloc[0]
    kmeans = _stage_data(root, "KMeans").sort_values("clusterIdx")
    centroids = np.vstack([_vector(v) for v in kmeans["clusterCenter"]])
    meta = json.loads(metadata or "{}")
    from lakehouse.gold.workout_classification import OUTLIER_DISTANCE

    return KMeansModel(
        mean=_vector(scaler["mean"]),
        std=_vector(scaler["std"]),
        centroids=centroids,
        label_of_cluster={int(k): v for k, v in meta.get("label_of_cluster", {}).items()},
        outlier_distance=float(meta.get("outlier_distance", OUTLIER_DISTANCE)),
    )
