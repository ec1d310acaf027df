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

from lakehouse.config import Settings
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


def test_a_gold_stage_records_its_builds_in_one_commit_also_when_a_table_fails(
    spark: SparkSession, baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _lake_with_new_kudos(spark, baseline, tmp_path / "lake")
    settings = lake_settings(tmp_path / "lake")
    one_at_a_time = replace(settings, spark=replace(settings.spark, table_threads=1))
    before = _commits(tables)

    def broken(ctx: object) -> None:
        raise RuntimeError("the kudos model failed")

    with monkeypatch.context() as patched:
        patched.setattr("lakehouse.gold.run.build_kudos_prediction", broken)  # the last table of the plan
        with pytest.raises(RuntimeError, match="kudos model failed"):
            run_gold(spark, one_at_a_time, "failed")
    # The tables built before the failure (the new kudos changed these two) are recorded, in one commit.
    assert _commits(tables) == before + 1
    assert {"kudos_weekly", "activity_summary_monthly"} <= _recorded(spark, tables, "failed")
    assert "kudos_predictions" not in _recorded(spark, tables, "failed")
    again = {r.table: r.mode for r in run_gold(spark, one_at_a_time, "again")}
    assert again["kudos_weekly"] == again["activity_summary_monthly"] == "unchanged"
    assert {table for table, mode in again.items() if mode not in ("unchanged", "no input")} == {"kudos_predictions"}
    assert _recorded(spark, tables, "again") == {"kudos_predictions"}
    assert _commits(tables) == before + 2


def test_the_build_ledger_writes_at_the_end_or_once_its_last_write_is_old(
    spark: SparkSession, settings: Settings
) -> None:
    from lakehouse.gold.run import BuildLedger, GoldContext

    tables = Tables(settings)
    ctx = GoldContext(spark, settings, "r1", tables, {"workouts": 3, "people": 1})
    waiting = BuildLedger(ctx, every_s=3600.0)
    waiting.add([("streaks", ("workouts",), "full")])
    waiting.add([("consistency_weekly", ("workouts", "people"), "full")])
    assert not (Path(tables.ref("ops", "gold_progress").location) / "_delta_log").exists()  # nothing written yet
    waiting.flush()
    assert _commits(tables) == 1
    rows = read_table(spark, tables.ref("ops", "gold_progress")).select("gold_table", "source_table", "source_version")
    assert sorted(tuple(r) for r in rows.collect()) == [
        ("consistency_weekly", "people", 1), ("consistency_weekly", "workouts", 3), ("streaks", "workouts", 3)
    ]  # fmt: skip
    waiting.flush()  # nothing waits: no commit
    assert _commits(tables) == 1
    eager = BuildLedger(ctx, every_s=0.0)  # every add finds the last write old enough
    eager.add([("eddington", ("workouts",), "full")])
    eager.add([("trend_fits", ("workouts",), "full")])
    assert _commits(tables) == 3
