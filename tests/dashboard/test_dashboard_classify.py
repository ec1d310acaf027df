"""Model versions: `jobs.classify --k 4 --activate` trains and registers a new k-means version and re-labels
gold with it; the gold stage then keeps the active version; `--rollback` restores the earlier labels. The
numpy reading of a saved model (the Models page's explanation) gives the labels Spark stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from jobs import classify
from lakehouse.config import Settings
from lakehouse.dashboard.models import load_kmeans
from lakehouse.gold import workout_classification as wc
from lakehouse.gold.run import GoldContext, build_classification
from lakehouse.tables import Tables, read_table, table_version
from tests.conftest import DemoLakehouse


@pytest.fixture
def lake_copy(demo_lakehouse: DemoLakehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the demo lakehouse this test may change (the jobs read LAKEHOUSE_ROOT)."""
    shutil.copytree(demo_lakehouse.root, tmp_path / "lake")
    monkeypatch.setenv("LAKEHOUSE_ENV", "test")
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKEHOUSE_TABLES_ROOT", raising=False)
    return demo_lakehouse.settings.with_roots(str(tmp_path / "lake" / "landing"), str(tmp_path / "lake" / "tables"))


def labels(spark: SparkSession, settings: Settings) -> dict[str, tuple[str, str | None]]:
    rows = read_table(spark, Tables(settings).ref("gold", wc.NAME)).collect()
    return {r["workout_id"]: (r["label"], r["model_path"]) for r in rows if r["method"] == "kmeans"}


def numpy_matches_spark(spark: SparkSession, settings: Settings, registry_row) -> None:
    """The saved model read with pyarrow + numpy labels every k-means workout as Spark did."""
    model = load_kmeans(registry_row["path"], registry_row["metadata"])
    gold = read_table(spark, Tables(settings).ref("gold", wc.NAME)).where("method = 'kmeans'").toPandas()
    mine = model.classify(gold[list(wc.FEATURES)].to_numpy(dtype=float))
    assert (mine["label"].to_numpy() == gold["label"].to_numpy()).all()
    np.testing.assert_allclose(mine["confidence"], gold["confidence"], atol=2e-4)


def test_retrain_activate_keep_and_roll_back(spark: SparkSession, lake_copy: Settings) -> None:
    tables = Tables(lake_copy)
    registry = tables.ref("ops", "model_registry")
    before = labels(spark, lake_copy)
    assert before
    original = read_table(spark, registry).where("model_name = 'workout_kmeans'").collect()
    assert len(original) == 1
    numpy_matches_spark(spark, lake_copy, original[0])

    assert classify.main(["--k", "4", "--outlier-distance", "2.5", "--activate"]) == 0
    versions = read_table(spark, registry).where("model_name = 'workout_kmeans'").orderBy("trained_at").collect()
    assert len(versions) == 2
    new = versions[-1]
    meta = json.loads(new["metadata"])
    assert meta["k"] == 4 and meta["outlier_distance"] == 2.5 and len(meta["centroids"]) == 4
    after = labels(spark, lake_copy)
    assert set(after) == set(before)
    assert {path for _, path in after.values()} == {new["path"]}
    clusters = read_table(spark, tables.ref("gold", wc.NAME)).where("method = 'kmeans'").select("cluster").distinct()
    assert clusters.count() == 4
    numpy_matches_spark(spark, lake_copy, new)

    # The gold stage's classification build (what every later gold run does) keeps the active version.
    versions = {name: table_version(spark, tables.ref("silver", name)) for name in ("workouts", "people")}
    build_classification(GoldContext(spark, lake_copy, "after-activate", tables, versions, full=True))
    assert labels(spark, lake_copy) == after

    assert classify.main(["--rollback", original[0]["model_version"]]) == 0
    assert labels(spark, lake_copy) == before
    active = read_table(spark, tables.ref("ops", "classification_active")).orderBy("activated_at").collect()
    assert [r["action"] for r in active] == ["activate", "rollback"]


def test_bad_requests_fail_with_a_reason(lake_copy: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert classify.main(["--rollback", "no-such-version"]) == 1
    assert "no model version 'no-such-version'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        classify.main(["--k", "1"])
