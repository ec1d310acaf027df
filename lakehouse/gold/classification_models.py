"""Workout classification model versions: retrain with a chosen k and outlier threshold, activate, roll back.

ops.classification_active
    Grain: one row per activation (append-only). Keys: (`person_id`, `activated_at`).
    Which k-means model version (a row of ops.model_registry) classifies an athlete's workouts from then on:
    the latest row per athlete wins. Without a row, gold uses the model of the current data version (k=3),
    as before. Activating (or rolling back to) a version re-labels that athlete's rows of
    gold.workout_classification at once, and later gold runs keep using it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.gold import workout_classification as wc
from lakehouse.storage import literal_uri, open_store
from lakehouse.tables import Tables, append_rows, create_if_missing, read_table, table_exists, table_version

ACTIVE_TABLE = ("ops", "classification_active")
ACTIVE_SCHEMA = T.StructType(
    [
        T.StructField("person_id", T.StringType(), False),
        T.StructField("model_version", T.StringType(), False),
        T.StructField("path", T.StringType(), False),
        T.StructField("k", T.IntegerType()),
        T.StructField("outlier_distance", T.DoubleType()),
        T.StructField("action", T.StringType()),  # activate | rollback
        T.StructField("activated_at", T.TimestampType(), False),
    ]
)
MODEL_NAME = "workout_kmeans"


class ModelVersionError(LookupError):
    """A model version that is not in the registry, or a model that cannot be trained."""


@dataclass(frozen=True)
class ActiveModel:
    """The version classifying one athlete's workouts."""

    person_id: str
    model_version: str
    path: str
    k: int
    outlier_distance: float


def active_models(spark: SparkSession, tables: Tables) -> dict[str, ActiveModel]:
    """The active version per athlete (the latest activation); empty when none was ever activated."""
    ref = tables.ref(*ACTIVE_TABLE)
    if not table_exists(spark, ref):
        return {}
    rows = read_table(spark, ref).collect()
    latest: dict[str, T.Row] = {}
    for row in rows:
        if row["person_id"] not in latest or row["activated_at"] > latest[row["person_id"]]["activated_at"]:
            latest[row["person_id"]] = row
    return {a: ActiveModel(a, r["model_version"], r["path"], int(r["k"]), float(r["outlier_distance"]))
            for a, r in latest.items()}


def model_of(path: str, metadata: str | None, outlier_distance: float | None = None) -> wc.TrainedModel:
    """A registered model: whole from its registry metadata, or, for one saved before models were kept whole
    (a Spark ML PipelineModel at `path`), its scaler and centroids read with Spark ML and its cluster names
    from the metadata. `outlier_distance` overrides the model's own threshold."""
    if wc.is_complete(metadata):
        model = wc.from_json(metadata or "")
    else:
        from pyspark.ml import PipelineModel

        stages = PipelineModel.load(literal_uri(path)).stages  # Spark ML reads it as a glob pattern
        scaler, kmeans = stages[1], stages[-1]
        meta = json.loads(metadata or "{}")
        mean, std = tuple(map(float, scaler.mean.toArray())), tuple(map(float, scaler.std.toArray()))
        centroids = tuple(tuple(map(float, c)) for c in kmeans.clusterCenters())
        names = {int(c): str(n) for c, n in meta.get("label_of_cluster", {}).items()}
        if len(names) != len(centroids):  # named by the centroids' pace, as the clusters' mean pace would
            order = sorted(range(len(centroids)), key=lambda c: (centroids[c][0] * std[0] + mean[0], c))
            names = dict(zip(order, wc.cluster_names(len(order)), strict=True))
        model = wc.TrainedModel(mean, std, centroids, names, int(meta.get("n_train", 0)),
                                float(meta.get("outlier_distance", wc.OUTLIER_DISTANCE)))  # fmt: skip
    return model if outlier_distance is None else model.with_outlier_distance(outlier_distance)


def load_active(spark: SparkSession, tables: Tables, active: Mapping[str, ActiveModel]) -> dict[str, wc.TrainedModel]:
    """The active models by athlete: ops.model_registry read once for all of them."""
    if not active:
        return {}
    from lakehouse.gold.run import REGISTRY_TABLE

    versions = sorted({a.model_version for a in active.values()})
    rows = (
        read_table(spark, tables.ref(*REGISTRY_TABLE))
        .where((F.col("model_name") == MODEL_NAME) & F.col("model_version").isin(versions))
        .select("model_version", "metadata").collect()
    )  # fmt: skip
    metadata = {r["model_version"]: r["metadata"] for r in rows}
    return {person: model_of(a.path, metadata.get(a.model_version), a.outlier_distance) for person, a in active.items()}


def save_model(settings: Settings, key: str, model: wc.TrainedModel) -> str:
    """Write `model` as JSON under the tables root at `key`; its URI."""
    store = open_store(settings.tables_root, settings.s3)
    store.write_bytes(key, wc.to_json(model).encode("utf-8"))
    return store.uri(key)


def train_version(
    spark: SparkSession, settings: Settings, person_id: str, k: int, outlier_distance: float
) -> dict[str, object]:
    """Train a new k-means version for `person_id` on the current silver.workouts; save and register it."""
    from lakehouse.gold.run import REGISTRY_SCHEMA, REGISTRY_TABLE

    tables = Tables(settings)
    workouts_ref = tables.ref("silver", "workouts")
    if not table_exists(spark, workouts_ref):
        raise ModelVersionError("no silver.workouts yet: run the pipeline first")
    version = table_version(spark, workouts_ref)
    feats = wc.features(read_table(spark, workouts_ref, version)).where(F.col("person_id") == person_id)
    plausible = wc.plausible(feats)
    distinct = plausible.select(*wc.FEATURES).distinct().limit(k).count()
    if k < 2 or distinct < k:
        raise ModelVersionError(
            f"athlete {person_id}: k must be 2 or more and at most the {distinct} distinct workouts"
        )
    trained = wc.train(plausible, k=k, outlier_distance=outlier_distance)[str(person_id)]
    model_version = f"{person_id}-{version}-k{k}-{uuid.uuid4().hex[:6]}"
    path = save_model(settings, f"models/{MODEL_NAME}/person={person_id}/version={model_version}/model.json", trained)
    registry = tables.ref(*REGISTRY_TABLE)
    create_if_missing(spark, registry, spark.createDataFrame([], REGISTRY_SCHEMA))
    row = (MODEL_NAME, person_id, model_version, "silver.workouts", version, path, trained.n_train,
           wc.to_json(trained), datetime.now(UTC))
    append_rows(spark, [row], REGISTRY_SCHEMA, registry)
    return {"model_version": model_version, "path": path, "k": k, "outlier_distance": outlier_distance,
            "data_version": version, "n_train": row[6]}


def registry_entry(spark: SparkSession, settings: Settings, model_version: str) -> T.Row:
    """The registry row of `model_version`, or `ModelVersionError` listing the known ones."""
    from lakehouse.gold.run import REGISTRY_TABLE

    ref = Tables(settings).ref(*REGISTRY_TABLE)
    if not table_exists(spark, ref):
        raise ModelVersionError("no models registered yet: run the gold stage first")
    rows = read_table(spark, ref).where(F.col("model_name") == MODEL_NAME).collect()
    match = [r for r in rows if r["model_version"] == model_version]
    if not match:
        known = ", ".join(sorted(r["model_version"] for r in rows))
        raise ModelVersionError(f"no model version {model_version!r} (known: {known})")
    return match[0]


def activate(spark: SparkSession, settings: Settings, model_version: str, action: str = "activate") -> ActiveModel:
    """Make `model_version` the athlete's active model and re-label their workouts with it."""
    entry = registry_entry(spark, settings, model_version)
    meta = json.loads(entry["metadata"] or "{}")
    active = ActiveModel(str(entry["person_id"]), model_version, entry["path"], int(meta.get("k", wc.K)),
                         float(meta.get("outlier_distance", wc.OUTLIER_DISTANCE)))
    tables = Tables(settings)
    ref = tables.ref(*ACTIVE_TABLE)
    create_if_missing(spark, ref, spark.createDataFrame([], ACTIVE_SCHEMA))
    row = (active.person_id, model_version, active.path, active.k, active.outlier_distance, action, datetime.now(UTC))
    append_rows(spark, [row], ACTIVE_SCHEMA, ref)
    relabel(spark, settings, active)
    return active


def relabel(spark: SparkSession, settings: Settings, active: ActiveModel) -> int:
    """Replace the athlete's rows of gold.workout_classification with the active model's labels."""
    from lakehouse.tables.merge import merge_replace, with_row_hash

    tables = Tables(settings)
    workouts_ref = tables.ref("silver", "workouts")
    version = table_version(spark, workouts_ref)
    feats = wc.features(read_table(spark, workouts_ref, version)).where(F.col("person_id") == active.person_id)
    models = load_active(spark, tables, {active.person_id: active})
    rows = (wc.classify(feats, models).withColumn("data_version", F.lit(version).cast("long"))
            .withColumn("model_path", F.lit(active.path).cast("string")))
    counts = merge_replace(spark, tables.ref("gold", wc.NAME), with_row_hash(rows), wc.KEYS,
                           f"t.person_id = '{active.person_id}'")
    return counts["inserted"] + counts["updated"] + counts["deleted"]


def athletes(spark: SparkSession, settings: Settings) -> list[str]:
    """Athletes with on-foot workouts in silver.workouts."""
    ref = Tables(settings).ref("silver", "workouts")
    if not table_exists(spark, ref):
        return []
    feats = wc.features(read_table(spark, ref))
    return sorted(str(r[0]) for r in feats.select("person_id").distinct().collect() if r[0] is not None)
