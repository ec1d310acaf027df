"""Gold killed between a kudos model's predictions and its model-run row: the next run retrains and predicts
with the new model (the run row is what says the predictions are current, so it is written last)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.gold.run import run_gold
from lakehouse.tables import Tables, read_table
from tests.reliability.conftest import Baseline
from tests.reliability.lakes import SimulatedKill, lake_settings, simulated_crash


def test_kudos_predictions_follow_the_newest_model_after_a_kill(
    spark: SparkSession, baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lake"
    shutil.copytree(baseline.root, root, ignore=shutil.ignore_patterns("_metastore", "_run.lock"))
    settings = lake_settings(root)
    tables = Tables(settings)
    activities = tables.ref("silver", "strava_activities")
    # New kudos on a few activities (a re-pulled week): the kudos model must be retrained.
    DeltaTable.forPath(spark, activities.location).update(
        F.col("activity_id") % 7 == 0, {"kudos_count": F.col("kudos_count") + 3}
    )
    with simulated_crash(monkeypatch, "gold.before_model_run_row:1"), pytest.raises(SimulatedKill):
        run_gold(spark, settings, "killed")
    run_gold(spark, settings, "resumed")

    runs = read_table(spark, tables.ref("ops", "kudos_model_runs")).orderBy(F.col("trained_at").desc())
    newest = runs.first()["model_version"]
    predicted = read_table(spark, tables.ref("gold", "kudos_predictions"))
    assert {r[0] for r in predicted.select("model_version").distinct().collect()} == {newest}
    actual = read_table(spark, activities).where(F.coalesce(F.col("source_route"), F.lit("api")) == "api")
    want = {(r[0], r[1]) for r in actual.select("activity_id", "kudos_count").collect()}
    got = {(r["activity_id"], r["actual_kudos"]) for r in predicted.select("activity_id", "actual_kudos").collect()}
    assert got == want
