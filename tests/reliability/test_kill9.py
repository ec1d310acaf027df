"""kill -9 at every stage: the real job, killed at a named point, run again, ends equal to an uninterrupted run.

One chain keeps the JVM start-ups few: the job is killed at point 1, run again and killed at point 2, ... (a
point's hit count `:n` and the work already done make each run get further), then run to completion. The
points walk through bronze (between plan, data, quarantine and ledger; between entities), silver (between
quality gate and MERGE, MERGE and progress, tables, people and workouts; a table created but its change feed
not yet on) and gold (between tables, a model saved before its registry row, before the build ledger), with
seeded timer kills that land inside a Delta write. The finished lakehouse is compared with one built by a
single uninterrupted run, every table as a row multiset (`lakes.differences`), and a re-run changes nothing.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.reliability.conftest import STAGES, Baseline
from tests.reliability.lakes import differences, run_job, stop_metastore, table_paths

SEED = 20261201


def kill_chain() -> list[str]:
    """The crash points, in the order a run meets them (three bronze entities: Strava, Fitbit, MapMyRun)."""
    rng = random.Random(SEED)
    return [
        # bronze: Strava's plan committed, then its data, then its quarantine rows, none yet in the ledger
        "bronze.after_plan:1",
        "bronze.after_data_write:1",
        "bronze.after_quarantine_write:1",
        "bronze.after_ledger:2",  # Strava committed, Fitbit loaded, MapMyRun not started
        "bronze.after_parse:1",  # MapMyRun parsed, nothing planned
        f"bronze.after_plan:1+{rng.randint(20, 400)}ms",  # inside MapMyRun's data write
        # silver
        "merge.after_create:1",  # silver.strava_activities created empty, change feed not yet on
        "silver.after_gate:1",  # quarantine and check results written, MERGE not done
        "silver.after_merge:2",  # the second table MERGEd, its progress row not written
        "silver.after_progress:2",  # between tables
        "silver.after_people:1",  # people MERGEd, workouts not
        f"silver.before_workouts_merge:1+{rng.randint(20, 400)}ms",  # inside the workouts MERGE
        # gold
        "gold.after_table:2",
        "gold.after_model_save:1",  # a model saved, its registry / run row not written
        f"gold.before_table:5+{rng.randint(20, 400)}ms",
        "gold.after_table:9",
        "gold.before_progress:1",  # every table built, the build ledger not written
    ]


def test_killed_at_every_stage_then_rerun_equals_an_uninterrupted_run(
    spark: SparkSession, baseline: Baseline, tmp_path: Path
) -> None:
    killed = baseline.new_lake(tmp_path / "killed")
    try:
        log = []
        for point in kill_chain():
            started = time.monotonic()
            run = run_job(killed, STAGES, crash_at=point)
            log.append(f"{point}: rc {run.returncode} in {time.monotonic() - started:.0f}s")
            assert run.returncode == -9, (point, run.returncode, run.stderr[-3000:], log)
        finished = run_job(killed, STAGES)
        assert finished.returncode == 0, (finished.stderr[-3000:], log)
        print("\n".join(log))
        assert differences(spark, baseline.root, killed) == []
        assert len(table_paths(killed)) >= 30  # bronze, silver, gold and ops: the comparison saw them all
        # Done is done: one more run commits to no table.
        versions = _versions(killed)
        again = run_job(killed, STAGES)
        assert again.returncode == 0, again.stderr[-3000:]
        assert _versions(killed) == versions
    finally:
        stop_metastore(killed)


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
