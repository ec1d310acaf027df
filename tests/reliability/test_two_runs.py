"""Two runs at once on one lakehouse: the second exits 3 with a clear message, or waits for the lock and then
finds nothing to do; the tables end equal to a single run's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.reliability.conftest import STAGES, Baseline
from tests.reliability.lakes import differences, finish, run_job, start_job, stop_metastore

pytestmark = pytest.mark.slow  # minutes: outside the suite's budget (pyproject.toml)


def _wait_until_locked_by(lock: Path, pid: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads(lock.read_text() or "{}").get("pid") == pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never took the run lock {lock}")


def test_a_second_run_exits_3_and_a_third_waits_then_finds_nothing_to_do(
    spark: SparkSession, baseline: Baseline, tmp_path: Path
) -> None:
    root = baseline.new_lake(tmp_path / "lake")
    first = start_job(root, STAGES)
    waiting = None
    try:
        _wait_until_locked_by(root / "tables" / "_run.lock", first.pid)
        second = run_job(root, STAGES, timeout=120)
        assert second.returncode == 3, second.stderr[-2000:]
        assert second.stderr.startswith(f"run: run pid {first.pid} (run, started "), second.stderr
        assert "holds the run lock" in second.stderr and "not starting a second run" in second.stderr
        waiting = start_job(root, [*STAGES, "--wait-lock", "1200"])
        done = finish(first)
        assert done.returncode == 0, done.stderr[-3000:]
        after = finish(waiting)
        assert after.returncode == 0, after.stderr[-3000:]
    finally:
        for proc in (first, waiting):
            if proc is not None and proc.poll() is None:
                finish(proc, timeout=1)
        stop_metastore(root)
    # The waiting run went after the first finished and found every file loaded, every batch merged.
    # (Sources with no landed files at all are listed as skipped.)
    bronze = [line for line in after.stdout.splitlines() if line.startswith("bronze ") and "skipped:" not in line]
    assert bronze and all("no new files" in line for line in bronze), after.stdout
    assert differences(spark, baseline.root, root) == []
