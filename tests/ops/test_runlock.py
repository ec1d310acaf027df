"""The run lock: two processes never run at once; the second waits, or exits with a clear message."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.runlock import RunLockedError, lock_path, run_lock

REPO = Path(__file__).resolve().parents[2]

# A separate process that takes the lock, says so on stdout, holds it for `hold` seconds, then exits.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from lakehouse.config import load_settings
    from lakehouse.runlock import run_lock
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": sys.argv[1]})
    with run_lock(settings, wait_seconds=float(sys.argv[3]), what="holder"):
        print("locked", time.time(), flush=True)
        time.sleep(float(sys.argv[2]))
        print("released", time.time(), flush=True)
    """
)


def _holder(root: Path, hold: float, wait: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), str(hold), str(wait)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(proc: subprocess.Popen[str], word: str) -> float:
    line = proc.stdout.readline()
    assert line.startswith(word), (line, proc.stderr.read() if proc.poll() is not None else "")
    return float(line.split()[1])


def test_second_run_exits_with_a_clear_message(tmp_path: Path) -> None:
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": str(tmp_path)})
    first = _holder(tmp_path, hold=30)
    try:
        _wait_for_line(first, "locked")
        with pytest.raises(RunLockedError, match=rf"run pid {first.pid} \(holder, started .*\) holds the run lock"):
            with run_lock(settings):
                pytest.fail("a second run got the lock while the first held it")
    finally:
        first.kill()
        first.wait()
    # The kernel released the killed holder's lock: the next run goes ahead.
    with run_lock(settings) as path:
        assert path == lock_path(settings)


def test_second_run_waits_for_the_first_then_runs(tmp_path: Path) -> None:
    first = _holder(tmp_path, hold=2)
    second = None
    try:
        _wait_for_line(first, "locked")
        second = _holder(tmp_path, hold=0, wait=30)
        released = _wait_for_line(first, "released")
        second_locked = _wait_for_line(second, "locked")
        assert second_locked >= released  # never both inside at once
        assert second.wait(timeout=30) == 0
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()


def test_a_waiting_run_says_once_who_it_waits_for(tmp_path: Path) -> None:
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": str(tmp_path)})
    first = _holder(tmp_path, hold=2)
    said: list[str] = []
    try:
        _wait_for_line(first, "locked")
        with run_lock(settings, wait_seconds=30, on_wait=said.append):
            released = _wait_for_line(first, "released")  # the first let go before this one got in
    finally:
        first.kill()
        first.wait()
    assert released > 0 and len(said) == 1, said  # once, though it polled for about two seconds
    holder = re.escape(f"run pid {first.pid} (holder, started ") + r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)"
    waits = re.escape(f" holds the run lock {lock_path(settings)}; waiting up to 30s for it")
    assert re.fullmatch(holder + waits, said[0]), said


def test_nobody_is_told_of_a_wait_when_the_lock_is_free(tmp_path: Path) -> None:
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": str(tmp_path)})
    said: list[str] = []
    with run_lock(settings, wait_seconds=30, on_wait=said.append):
        pass
    assert said == []


def test_waiting_gives_up_after_the_timeout(tmp_path: Path) -> None:
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": str(tmp_path)})
    first = _holder(tmp_path, hold=30)
    try:
        _wait_for_line(first, "locked")
        started = time.monotonic()
        with pytest.raises(RunLockedError, match=r"after waiting 1s"):
            with run_lock(settings, wait_seconds=1):
                pass
        assert 0.9 <= time.monotonic() - started < 10
    finally:
        first.kill()
        first.wait()


def test_the_pipeline_job_exits_3_while_another_run_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jobs.pipeline import main

    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path))
    first = _holder(tmp_path, hold=30)
    try:
        _wait_for_line(first, "locked")
        assert main(["--env", "test", "--stage", "bronze"]) == 3  # before any Spark work
    finally:
        first.kill()
        first.wait()
    err = capsys.readouterr().err
    assert err.startswith(f"pipeline: run pid {first.pid} (holder, started ")
    assert "holds the run lock" in err and "not starting a second run" in err
