"""Two runs at once on one lakehouse: the second exits 3 with a clear message, a third says it waits for the
lock, waits, and then finds nothing to do; the tables end equal to a single run's.

The first run is this test process (the stages `jobs.run` runs, under the same run lock, on the session's warm
Spark): it takes the lock and holds it while two real `python -m jobs.run` processes start against the same
lakehouse: the second, told not to wait, exits 3; the third, told to wait, says on stderr whose lock it waits
for. Only then does the first run load (so the third is waiting while the first writes, whatever the machine's
speed), finish and let go; the third goes ahead and finds every file loaded. The lock is taken before any
stage runs, whichever the stages, so the runs here are bronze runs: the bronze stage's tables and its load
ledger are compared with the uninterrupted run's. (Every stage resuming after a crash, each table equal to an
uninterrupted run's, is `test_kill9`'s.)
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.landing import new_run_id
from lakehouse.runlock import run_lock
from lakehouse.stages import SummaryRow, run_stages
from tests.reliability.conftest import Baseline
from tests.reliability.lakes import differences, finish, lake_settings, run_job, start_job, stop_metastore

BRONZE = ["--stages", "bronze"]
WAIT_S = 300


def _wait_for(what: str, found: Callable[[], bool], timeout: float = WAIT_S) -> None:
    """Poll `found()` (every 0.1 s) until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _locked_by(lock: Path, pid: int) -> bool:
    try:
        return json.loads(lock.read_text() or "{}").get("pid") == pid
    except (OSError, ValueError):
        return False


def test_a_second_run_exits_3_and_a_third_waits_then_finds_nothing_to_do(
    spark: SparkSession, baseline: Baseline, tmp_path: Path
) -> None:
    root = baseline.new_lake(tmp_path / "lake")
    settings = lake_settings(root)
    go, called_off = threading.Event(), threading.Event()
    done: list[list[SummaryRow] | BaseException] = []

    def first_run() -> None:
        try:
            with run_lock(settings, what="run"):
                go.wait()  # set once the others have tried (or by `finally` below, with `called_off`, on a failure)
                if not called_off.is_set():
                    done.append(run_stages(settings, ("bronze",), new_run_id(), spark=spark, with_race=False))
        except BaseException as exc:  # reported by the main thread
            done.append(exc)

    first = threading.Thread(target=first_run, name="first-run")
    first.start()
    output = tmp_path / "waiting"
    waiting = None
    try:
        _wait_for("the first run to take the lock", lambda: _locked_by(root / "tables" / "_run.lock", os.getpid()))
        second = run_job(root, BRONZE, timeout=120)
        assert second.returncode == 3, second.stderr[-2000:]
        assert second.stderr.startswith(f"run: run pid {os.getpid()} (run, started "), second.stderr
        assert "holds the run lock" in second.stderr and "not starting a second run" in second.stderr
        waiting = start_job(root, [*BRONZE, "--wait-lock", "1200"], output=output)
        said = output.with_suffix(".err")
        _wait_for(
            "the third run to say it waits", lambda: "waiting up to" in said.read_text() or waiting.poll() is not None
        )
        assert f"holds the run lock {root / 'tables' / '_run.lock'}; waiting up to 1200s for it" in said.read_text()
        assert first.is_alive() and not done, "the first run let go of the lock before the third one waited"
        go.set()
        first.join(timeout=1200)
        assert not first.is_alive() and done, "the first run did not finish"
        if isinstance(done[0], BaseException):
            raise done[0]
        assert not [r for r in done[0] if r.note.startswith("FAILED")], done[0]
        after = finish(waiting, output=output)
        assert after.returncode == 0, after.stderr[-3000:]
    finally:
        if not go.is_set():
            called_off.set()
            go.set()
        first.join(timeout=1200)
        if waiting is not None and waiting.poll() is None:
            finish(waiting, timeout=1)
        stop_metastore(root)  # the waiting run's (it outlives the job by design)
    assert after.stderr.startswith(f"run: run pid {os.getpid()} (run, started "), after.stderr
    # The waiting run went after the first finished and found every file loaded. (Sources with no landed files
    # at all are listed as skipped.)
    bronze = [line for line in after.stdout.splitlines() if line.startswith("bronze ") and "skipped:" not in line]
    assert bronze and all("no new files" in line for line in bronze), after.stdout
    assert differences(spark, baseline.root, root, prefixes=("bronze.", "ops.bronze_load_ledger")) == []
