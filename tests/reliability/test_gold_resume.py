"""Gold killed between a kudos model's predictions and its model-run row: the next run retrains and predicts
with the new model (the run row is what says the predictions are current, so it is written last)."""

from __future__ import annotations

import shutil
from dataclasses import replace
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


def _lake_with_new_kudos(spark: SparkSession, baseline: Baseline, root: Path) -> Tables:
    """A copy of the baseline lake in which a re-pulled week brought new kudos (several gold tables to rebuild)."""
    shutil.copytree(baseline.root, root, ignore=shutil.ignore_patterns("_metastore", "_run.lock"))
    tables = Tables(lake_settings(root))
    DeltaTable.forPath(spark, tables.ref("silver", "strava_activities").location).update(
        F.col("activity_id") % 7 == 0, {"kudos_count": F.col("kudos_count") + 3}
    )
    return tables


def _commits(tables: Tables) -> int:
    return len(list((Path(tables.ref("ops", "gold_progress").location) / "_delta_log").glob("*.json")))


def _recorded(spark: SparkSession, tables: Tables, run_id: str) -> set[str]:
    progress = read_table(spark, tables.ref("ops", "gold_progress")).where(F.col("run_id") == run_id)
    return {r[0] for r in progress.select("gold_table").distinct().collect()}


def test_a_gold_stage_records_every_table_it_built_in_one_commit(
    spark: SparkSession, baseline: Baseline, tmp_path: Path
) -> None:
    tables = _lake_with_new_kudos(spark, baseline, tmp_path / "lake")
    before = _commits(tables)
    results = run_gold(spark, lake_settings(tmp_path / "lake"), "weekly")
    built = {r.table for r in results if r.mode not in ("unchanged", "no input")}
    assert {"kudos_weekly", "kudos_predictions", "activity_summary_monthly"} <= built  # the kudos changed them
    assert _commits(tables) == before + 1
    assert _recorded(spark, tables, "weekly") == built
    # Recorded: the next run builds nothing.
    assert {r.mode for r in run_gold(spark, lake_settings(tmp_path / "lake"), "again")} <= {"unchanged", "no input"}


def test_when_a_table_fails_the_tables_built_before_it_are_recorded(
    spark: SparkSession, baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _lake_with_new_kudos(spark, baseline, tmp_path / "lake")
    settings = lake_settings(tmp_path / "lake")
    one_at_a_time = replace(settings, spark=replace(settings.spark, table_threads=1))

    def broken(ctx: object) -> None:
        raise RuntimeError("the kudos model failed")

    with monkeypatch.context() as patched:
        patched.setattr("lakehouse.gold.run.build_kudos_prediction", broken)
        with pytest.raises(RuntimeError, match="kudos model failed"):
            run_gold(spark, one_at_a_time, "failed")
    assert {"kudos_weekly", "activity_summary_monthly"} <= _recorded(spark, tables, "failed")
    assert "kudos_predictions" not in _recorded(spark, tables, "failed")
    again = {r.table: r.mode for r in run_gold(spark, one_at_a_time, "again")}
    assert again["kudos_weekly"] == again["activity_summary_monthly"] == "unchanged"
    assert again["kudos_predictions"] == "full"


def test_a_long_gold_stage_writes_its_build_ledger_as_it_goes(
    spark: SparkSession, baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _lake_with_new_kudos(spark, baseline, tmp_path / "lake")
    before = _commits(tables)
    monkeypatch.setattr("lakehouse.gold.run.RECORD_EVERY_S", 0.0)  # every build is "a minute" after the last write
    built = [r for r in run_gold(spark, lake_settings(tmp_path / "lake"), "slow") if r.mode != "unchanged"]
    assert len(built) >= 3 and _commits(tables) - before >= 2  # written as it went, not once at the end
