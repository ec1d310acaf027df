"""kill -9 at every stage: the real job, killed at a named point, run again, ends equal to an uninterrupted run.

One chain keeps the cost down: the run is killed at point 1, run again and killed at point 2, ... (a point's
hit count `:n` and the work already done make each run get further), then run to completion. The first kills
are real (`python -m jobs.run` as a subprocess, SIGKILL to its process group, one of them a seeded timer that
lands inside a Delta write); the rest raise `SimulatedKill` at the point in this process, which saves a JVM
start-up per kill (20 s on CI, minutes on a loaded machine). The points walk through bronze (between plan,
data, quarantine and ledger; between entities), silver (between quality gate and MERGE, MERGE and progress,
tables, people and workouts; a table just created) and gold (between tables, a table built before its
build-ledger row, a model saved before its registry row, predictions before their model-run row). The
finished lakehouse is compared with an uninterrupted run's, every table as a row multiset and its change
feed setting (`lakes.differences`), and one more run commits nothing.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config import Settings
from tests.reliability.conftest import STAGES, Baseline
from tests.reliability.lakes import (
    SimulatedKill,
    differences,
    lake_settings,
    run_in_process,
    run_job,
    stop_metastore,
    table_paths,
)

SEED = 20261201
# The killed processes run in a zone far from UTC (+13:45, daylight time in December), the rest of the chain in
# UTC: a lakehouse moved between machines, or a laptop that travels, ends as one that never did.
FAR_ZONE = "Pacific/Chatham"


def real_kills() -> list[str]:
    """Killed for real (a subprocess, SIGKILL to its process group, JVM and all): the first Strava load dies
    after its data commit, then the re-run (Strava resumed) dies a seeded few ms into Fitbit's data write."""
    rng = random.Random(SEED)
    return ["bronze.after_data_write:1", f"bronze.after_plan:1+{rng.randint(20, 400)}ms"]


def simulated_kills() -> list[tuple[str, int]]:
    """The rest of the chain in this process (`SimulatedKill` at the point: no JVM start-up per kill), in the
    order a run meets them, with the tables built at once (`[spark] table_threads`). Bronze has three
    entities here: Strava, Fitbit, MapMyRun.

    One table at a time keeps the chain's arithmetic exact (the n-th hit of a point is a known table, and
    enough tables are left for the next point); the first gold kill builds two tables at once, so a table
    finishes beside the one that dies, as it does in a real run with the default two threads."""
    return [
        # bronze (Fitbit's plan is pending or done, depending on where the timer landed)
        ("bronze.after_quarantine_write:1", 1),  # data and quarantine written, the ledger not
        ("bronze.after_parse:1", 1),  # MapMyRun parsed, nothing planned
        ("bronze.after_plan:1", 1),  # MapMyRun planned
        ("bronze.after_data_write:1", 1),  # MapMyRun resumed: data written, quarantine not
        ("bronze.after_ledger:1", 1),  # MapMyRun committed, the stage not finished
        # silver
        ("merge.after_create:1", 1),  # silver.strava_activities created (change feed on), no rows yet
        ("silver.after_gate:1", 1),  # quarantine and check results written, MERGE not done
        ("silver.after_merge:1", 1),  # MERGEd, its progress row not written
        ("silver.after_progress:2", 1),  # between tables
        ("silver.after_people:1", 1),  # people MERGEd, workouts not
        ("silver.before_workouts_merge:1", 1),
        # gold (the build ledger is written when the stage ends: a killed stage rebuilds what it built)
        ("gold.after_table:1", 2),  # built, not yet in the build ledger; the table beside it finishes
        ("gold.before_table:3", 1),  # between tables
        ("gold.after_model_save:1", 1),  # a k-means model saved, its registry row not written
        ("gold.after_table:4", 1),
        ("gold.before_model_run_row:1", 1),  # kudos predictions MERGEd, the model run row not written
    ]


def test_killed_at_every_stage_then_rerun_equals_an_uninterrupted_run(
    spark: SparkSession, baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = baseline.new_lake(tmp_path / "killed")
    settings = lake_settings(killed)
    log = []
    try:
        for point in real_kills():
            started = time.monotonic()
            run = run_job(killed, STAGES, crash_at=point, tz=FAR_ZONE)
            log.append(f"{point}: rc {run.returncode} in {time.monotonic() - started:.0f}s")
            assert run.returncode == -9, (point, run.returncode, run.stderr[-3000:], log)
    finally:
        stop_metastore(killed)
    for point, threads in simulated_kills():
        started = time.monotonic()
        with pytest.raises(SimulatedKill):
            run_in_process(spark, with_threads(settings, threads), point, monkeypatch)
        log.append(f"{point} ({threads} at once): killed in {time.monotonic() - started:.0f}s")
    rows = run_in_process(spark, settings)  # the default: two tables at once
    print("\n".join(log))
    assert not [r for r in rows if r.note.startswith("FAILED")], rows
    assert differences(spark, baseline.root, killed) == []
    assert len(table_paths(killed)) >= 30  # bronze, silver, gold and ops: the comparison saw them all
    # Done is done: one more run commits to no table.
    versions = _versions(killed)
    run_in_process(spark, settings)
    assert _versions(killed) == versions


def with_threads(settings: Settings, threads: int) -> Settings:
    return replace(settings, spark=replace(settings.spark, table_threads=threads))


def _versions(root: Path) -> dict[str, int]:
    return {name: len(list((path / "_delta_log").glob("*.json"))) for name, path in table_paths(root).items()}


@pytest.mark.parametrize("spec", ["nope", "a.b:0", "a.b:x", "a.b+5s"])
def test_a_malformed_crash_spec_is_a_clear_error(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakehouse.faults import CRASH_ENV, CrashSpecError, crash_point

    monkeypatch.setenv(CRASH_ENV, spec)
    if spec == "nope":  # a bare name is a valid point that is simply never reached here
        crash_point("somewhere.else")
        return
    with pytest.raises(CrashSpecError, match="expected <point>"):
        crash_point("a.b")
