"""gold.workout_classification on literal workouts: k-means labels, the outlier rule and both fallbacks.

The k-means check is independent of the k-means library: with three tight, well-separated groups the centroids are the
group means, so labels, confidences and centroid distances follow from standardising the features (mean and
sample standard deviation of the plausible workouts) in plain Python below.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.gold.workout_classification import (
    NO_PERSON,
    TrainedModel,
    classify,
    era_defaults,
    features,
    from_json,
    is_complete,
    pace_thresholds,
    plausible,
    sizes,
    to_json,
    train,
)

FEATURES = (
    "workout_id string, person_id long, workout_date date, sport string, pace_min_per_mile double,"
    " distance_mi double, duration_min double"
)
LABELLED = f"{FEATURES}, cluster int, label string, confidence double, centroid_distance double, method string"
MILE = 1609.344


def test_features_in_minutes_per_mile_miles_and_minutes(spark: SparkSession) -> None:
    workouts = spark.createDataFrame(
        [
            # 3 miles in 27 minutes: 9:00 min/mi; pace in s/km = 1620 s / 4.828032 km
            ("a", 1, date(2024, 1, 1), "run", 1620 / (3 * MILE / 1000), 3 * MILE, 1620.0),
            # 2 miles in 48 minutes: 24:00 min/mi
            ("b", 1, date(2024, 1, 2), "walk", 2880 / (2 * MILE / 1000), 2 * MILE, 2880.0),
            ("c", 1, date(2024, 1, 3), "ride", 120.0, 20000.0, 2400.0),  # not on foot
            ("d", 1, date(2024, 1, 4), "run", None, 0.0, 600.0),  # no distance, no pace
        ],
        "workout_id string, person_id long, workout_date date, sport string, pace_s_per_km double,"
        " distance_m double, duration_s double",
    )
    expected = spark.createDataFrame(
        [
            ("a", 1, date(2024, 1, 1), "run", 9.0, 3.0, 27.0),
            ("b", 1, date(2024, 1, 2), "walk", 24.0, 2.0, 48.0),
        ],
        FEATURES,
    )
    assert_approx_df_equality(features(workouts), expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


GROUPS = {
    "fast": [(9.0, 5.0, 45.0), (8.8, 5.2, 45.76), (9.2, 4.8, 44.16), (9.0, 6.0, 54.0)],
    "walk": [(24.0, 1.5, 36.0), (23.5, 1.6, 37.6), (24.5, 1.4, 34.3), (24.0, 1.2, 28.8)],
    "middle": [(15.0, 3.0, 45.0), (15.5, 2.8, 43.4), (14.5, 3.2, 46.4), (15.0, 3.1, 46.5)],
}
LABEL_OF_GROUP = {"fast": "real_run", "walk": "pup_walk", "middle": "mixed"}


def _expected_kmeans() -> list[tuple[str, str, float, float]]:
    """(workout id, label, confidence, centroid distance) by plain Python."""
    points = {f"{g}{i}": p for g, group in GROUPS.items() for i, p in enumerate(group)}
    columns = list(zip(*points.values(), strict=True))
    means = [sum(c) / len(c) for c in columns]
    stds = [math.sqrt(sum((x - m) ** 2 for x in c) / (len(c) - 1)) for c, m in zip(columns, means, strict=True)]

    def scaled(p: tuple[float, ...]) -> list[float]:
        return [(x - m) / s for x, m, s in zip(p, means, stds, strict=True)]

    centroids = {g: [sum(v) / len(group) for v in zip(*map(scaled, group), strict=True)] for g, group in GROUPS.items()}
    rows = []
    for workout_id, p in [*points.items(), ("glitch", (2.0, 10.0, 20.0))]:
        d = sorted((math.dist(scaled(p), c), g) for g, c in centroids.items())
        (d1, nearest), (d2, _) = d[0], d[1]
        if workout_id == "glitch":  # 2:00 min/mi is not a human on foot
            rows.append((workout_id, "outlier", 1.0, d1))
        else:
            assert d1 <= 3.0  # not far from its centroid
            rows.append((workout_id, LABEL_OF_GROUP[nearest], (d2 - d1) / (d2 + d1), d1))
    return rows


def test_kmeans_labels_three_obvious_groups_and_an_implausible_pace(spark: SparkSession) -> None:
    rows = [
        (f"{g}{i}", 1, date(2024, 1, 1 + i), "run" if g == "fast" else "walk", *p)
        for g, group in GROUPS.items()
        for i, p in enumerate(group)
    ]
    df = spark.createDataFrame([*rows, ("glitch", 1, date(2024, 2, 1), "run", 2.0, 10.0, 20.0)], FEATURES)
    trained = train(plausible(df))
    actual = classify(df, trained).select("workout_id", "label", "confidence", "centroid_distance", "method")
    expected = spark.createDataFrame(
        [(*r, "kmeans") for r in _expected_kmeans()],
        "workout_id string, label string, confidence double, centroid_distance double, method string",
    )
    assert_approx_df_equality(actual, expected, 1e-3, ignore_row_order=True, ignore_nullable=True)


def test_era_defaults_around_the_event_date(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("a", 1, date(2023, 5, 31), "run", 9.0, 3.0, 27.0),
            ("b", 1, date(2023, 6, 1), "walk", 24.0, 1.0, 24.0),  # the event day itself: after
            ("c", 1, date(2023, 7, 1), "run", 10.0, 2.0, 20.0),
        ],
        FEATURES,
    )
    expected = spark.createDataFrame(
        [
            ("a", 1, date(2023, 5, 31), "run", 9.0, 3.0, 27.0, None, "real_run", 0.5, None, "era_default"),
            ("b", 1, date(2023, 6, 1), "walk", 24.0, 1.0, 24.0, None, "pup_walk", 0.5, None, "era_default"),
            ("c", 1, date(2023, 7, 1), "run", 10.0, 2.0, 20.0, None, "pup_walk", 0.5, None, "era_default"),
        ],
        LABELLED,
    )
    assert_df_equality(era_defaults(df, date(2023, 6, 1)), expected, ignore_row_order=True, ignore_nullable=True)


def test_pace_thresholds_bands_and_implausible_paces(spark: SparkSession) -> None:
    # <= 14 min/mi real_run, >= 18 pup_walk, between mixed; outside 4-45 min/mi outlier (bounds inclusive).
    bands = {
        "p3.9": (3.9, "outlier"), "p4": (4.0, "real_run"), "p14": (14.0, "real_run"), "p14.5": (14.5, "mixed"),
        "p17.9": (17.9, "mixed"), "p18": (18.0, "pup_walk"), "p45": (45.0, "pup_walk"), "p45.5": (45.5, "outlier"),
    }  # fmt: skip
    day = date(2024, 1, 1)
    df = spark.createDataFrame([(w, 1, day, "run", pace, 2.0, 2 * pace) for w, (pace, _) in bands.items()], FEATURES)
    expected = spark.createDataFrame(
        [
            (w, 1, day, "run", pace, 2.0, 2 * pace, None, label, 0.6, None, "pace_threshold")
            for w, (pace, label) in bands.items()
        ],
        LABELLED,
    )
    assert_df_equality(pace_thresholds(df), expected, ignore_row_order=True, ignore_nullable=True)


def test_sizes_count_workouts_plausible_ones_and_distinct_plausible_vectors_per_person(spark: SparkSession) -> None:
    d = date(2024, 1, 1)
    feats = spark.createDataFrame(
        [
            ("a1", 1, d, "run", 9.0, 3.0, 27.0),
            ("a2", 1, d, "run", 9.0, 3.0, 27.0),  # the same vector again: one distinct
            ("a3", 1, d, "run", 2.0, 3.0, 6.0),  # 2:00 min/mi is not plausible: not counted as distinct
            ("b1", 2, d, "walk", 20.0, 1.0, 20.0),
            ("b2", 2, d, "walk", 21.0, 1.0, 21.0),
        ],
        FEATURES,
    )
    expected = spark.createDataFrame(
        [(1, 3, 2, 1), (2, 2, 2, 2)], "person_id long, workouts long, plausible long, distinct_plausible long"
    )
    assert_df_equality(sizes(feats), expected, ignore_row_order=True, ignore_nullable=True)


def test_every_person_trained_in_one_pass_with_their_own_k(spark: SparkSession) -> None:
    # Person 1: the three groups with k=3. Person 2: only the fast and walk groups, k=2. Each person's labels
    # follow from their own scaler and centroids, computed by hand below.
    rows = [(f"p1-{g}{i}", 1, date(2024, 1, 1), "run", *p) for g, group in GROUPS.items() for i, p in enumerate(group)]
    two = {g: GROUPS[g] for g in ("fast", "walk")}
    rows += [(f"p2-{g}{i}", 2, date(2024, 1, 1), "run", *p) for g, group in two.items() for i, p in enumerate(group)]
    df = spark.createDataFrame(rows, FEATURES)
    models = train(df, {"1": 3, "2": 2})
    assert sorted(models) == ["1", "2"]
    assert (models["1"].k, models["2"].k) == (3, 2)
    assert (models["1"].n_train, models["2"].n_train) == (12, 8)
    assert sorted(models["2"].label_of_cluster.values()) == ["pup_walk", "real_run"]
    points = [p for group in two.values() for p in group]
    columns = list(zip(*points, strict=True))
    means = [sum(c) / len(c) for c in columns]
    stds = [math.sqrt(sum((x - m) ** 2 for x in c) / (len(c) - 1)) for c, m in zip(columns, means, strict=True)]
    assert models["2"].mean == pytest.approx(means) and models["2"].std == pytest.approx(stds)
    actual = {r["workout_id"]: r["label"] for r in classify(df, models).collect()}
    expected = {w: "real_run" if "fast" in w else "pup_walk" for w in actual if w.startswith("p2-")}
    expected |= {f"p1-{g}{i}": LABEL_OF_GROUP[g] for g, group in GROUPS.items() for i in range(len(group))}
    assert actual == expected


def test_a_feature_that_never_varied_standardises_to_zero(spark: SparkSession) -> None:
    # Every workout lasts 30 minutes: duration's std is 0 and its standardised value 0 for any workout, so a
    # 90-minute workout is as near the centroids as a 30-minute one with the same pace and distance.
    runs = [("r1", 9.0, 3.0), ("r2", 9.2, 3.2), ("w1", 24.0, 1.2), ("w2", 24.4, 1.3)]
    df = spark.createDataFrame([(w, 1, date(2024, 1, 1), "run", p, d, 30.0) for w, p, d in runs], FEATURES)
    models = train(df, 2)
    assert models["1"].std[2] == 0.0
    probe = spark.createDataFrame(
        [("long", 1, date(2024, 1, 2), "run", 9.1, 3.1, 90.0), ("short", 1, date(2024, 1, 2), "run", 9.1, 3.1, 30.0)],
        FEATURES,
    )
    out = {r["workout_id"]: (r["label"], r["centroid_distance"]) for r in classify(probe, models).collect()}
    assert out["long"] == out["short"]
    # By hand: pace and distance standardised with the four workouts' mean and sample std; the fast centroid is
    # the mean of r1 and r2 in that space, i.e. (9.1, 3.1) itself: distance 0.
    assert out["long"] == ("real_run", 0.0)


def test_a_model_survives_json_and_old_metadata_is_not_whole() -> None:
    model = TrainedModel((1.0, 2.0, 3.0), (0.5, 0.0, 2.0), ((0.1, 0.2, 0.3), (-0.1, -0.2, -0.3)),
                         {0: "pup_walk", 1: "real_run"}, 7, 2.5)  # fmt: skip
    assert from_json(to_json(model)) == model
    assert is_complete(to_json(model))
    old = '{"label_of_cluster": {"0": "real_run"}, "centroids": [[0.1, 0.2, 0.3]], "k": 1}'
    assert not is_complete(old) and not is_complete(None) and not is_complete("not json")


def test_a_model_saved_by_spark_ml_before_is_still_read(spark: SparkSession, tmp_path) -> None:
    # Lakehouses built before the models were kept whole hold Spark ML PipelineModels: their scaler and
    # centroids are read back. Expected: the means and sample stds of the points (by hand), and the three
    # group means in that space as the centroids (the groups are far apart, so any k-means finds them).
    from pyspark.ml import Pipeline
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    from lakehouse.gold.classification_models import model_of

    points = [p for group in GROUPS.values() for p in group]
    df = spark.createDataFrame([(f"w{i}", *p) for i, p in enumerate(points)],
                               "workout_id string, pace_min_per_mile double, distance_mi double, duration_min double")
    pipeline = Pipeline(stages=[
        VectorAssembler(inputCols=["pace_min_per_mile", "distance_mi", "duration_min"], outputCol="raw"),
        StandardScaler(inputCol="raw", outputCol="features", withMean=True, withStd=True),
        KMeans(k=3, seed=42, featuresCol="features", predictionCol="cluster"),
    ])  # fmt: skip
    path = str(tmp_path / "old-model")
    pipeline.fit(df.repartition(1)).write().save(path)
    model = model_of(path, '{"label_of_cluster": {"0": "a", "1": "b", "2": "c"}, "outlier_distance": 2.0}')
    columns = list(zip(*points, strict=True))
    means = [sum(c) / len(c) for c in columns]
    stds = [math.sqrt(sum((x - m) ** 2 for x in c) / (len(c) - 1)) for c, m in zip(columns, means, strict=True)]
    assert model.mean == pytest.approx(means) and model.std == pytest.approx(stds)
    expected = sorted(
        tuple((sum(p[i] for p in group) / len(group) - means[i]) / stds[i] for i in range(3))
        for group in GROUPS.values()
    )
    assert sorted(model.centroids) == [pytest.approx(c) for c in expected]
    assert model.label_of_cluster == {0: "a", 1: "b", 2: "c"} and model.outlier_distance == 2.0


def test_workouts_without_a_person_are_clustered_together_not_dropped(spark: SparkSession) -> None:
    two = {g: GROUPS[g] for g in ("fast", "walk")}
    df = spark.createDataFrame(
        [(f"{g}{i}", None, date(2024, 1, 1), "run", *p) for g, group in two.items() for i, p in enumerate(group)],
        FEATURES,
    )
    models = train(df, 2)
    assert list(models) == [NO_PERSON]
    actual = {r["workout_id"]: (r["person_id"], r["label"]) for r in classify(df, models).collect()}
    assert actual == {f"{g}{i}": (None, "real_run" if g == "fast" else "pup_walk") for g in two for i in range(4)}
