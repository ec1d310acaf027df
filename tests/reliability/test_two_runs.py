"""Two runs at once on one lakehouse: the second exits 3 with a clear message, or waits for the lock and then
finds nothing to do; the tables end equal to a single run's.

The first run is this test process (the same stages `jobs.run` runs, under the same run lock, on the
session's warm Spark): it holds the lock while two real `python -m jobs.run` processes start against the
same lakehouse. Only the one that waits starts a JVM, so the test costs one run and one no-op run, not two
cold runs and a no-op one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.runlock import run_lock
from lakehouse.stages import SummaryRow
from tests.reliability.conftest import STAGES, Baseline
from tests.reliability.lakes import (
    differences,
    finish,
    lake_settings,
    run_in_process,
    run_job,
    start_job,
    stop_metastore,
)


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
    settings = lake_settings(root)
    done: list[list[SummaryRow] | BaseException] = []

    def first_run() -> None:
        try:
            with run_lock(settings, what="run"):
                done.append(run_in_process(spark, settings))
        except BaseException as exc:  # reported by the main thread
            done.append(exc)

    first = threading.Thread(target=first_run, name="first-run")
    first.start()
    waiting = None
    try:
        _wait_until_locked_by(root / "tables" / "_run.lock", os.getpid())
        second = run_job(root, STAGES, timeout=120)
        assert second.returncode == 3, second.stderr[-2000:]
        assert second.stderr.startswith(f"run: run pid {os.getpid()} (run, started "), second.stderr
        assert "holds the run lock" in second.stderr and "not starting a second run" in second.stderr
        assert first.is_alive(), "the first run ended before the second one tried: nothing overlapped"
        waiting = start_job(root, [*STAGES, "--wait-lock", "1200"])
        first.join(timeout=1200)
        assert not first.is_alive() and done, "the first run did not finish"
        if isinstance(done[0], BaseException):
            raise done[0]
        assert not [r for r in done[0] if r.note.startswith("FAILED")], done[0]
        after = finish(waiting)
        assert after.returncode == 0, after.stderr[-3000:]
    finally:
        first.join(timeout=1200)
        if waiting is not None and waiting.poll() is None:
            finish(waiting, timeout=1)
        stop_metastore(root)  # the waiting run's (it outlives the job by design)
    # The waiting run went after the first finished and found every file loaded, every batch merged.
    # (Sources with no landed files at all are listed as skipped.)
    bronze = [line for line in after.stdout.splitlines() if line.startswith("bronze ") and "skipped:" not in line]
    assert bronze and all("no new files" in line for line in bronze), after.stdout
    assert differences(spark, baseline.root, root) == []
