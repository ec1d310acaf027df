"""A run with nothing new as a user's scheduled job makes it: a new process (Python, imports, a new JVM).

The bench's in-session re-run (`bench.run_all`, phase `rerun`) reuses the warm session of the phases before it;
a weekly cron job pays the start as well. `measure` times this module run as a child process over a size's
lakehouse, from the child's start to its exit; the child builds the same settings the bench built the
lakehouse with (`bench.history.bench_settings`), so the run finds nothing new, and runs bronze, silver and gold
(`jobs.pipeline.run`, the run `jobs.run` makes, with its own Spark session). Twice with `--recheck` (every
stage's own checks through Spark, as before the record of the last good run), then once as `jobs.run` runs by
default: when nothing changed since the last good run (`lakehouse.runstate`), no stage and no Spark.

    .venv/bin/python -m bench.new_process --env test --session-root DIR --root DIR --people 1 --years 10 \\
        --fitbit-days 365 --mapmyrun-workouts 500 [--recheck]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import history
from lakehouse.config import REPO_ROOT, Settings, load_settings

TIMEOUT_S = 1800.0
RESULT_PREFIX = "new-process result: "


def size_settings(env: str, session_root: Path, root: Path, size: history.HistorySize) -> Settings:
    """The settings `bench.run_all.bench_size` builds a size's lakehouse with."""
    base = load_settings(env, environ={"LAKEHOUSE_ROOT": str(session_root)})
    return history.bench_settings(base.with_roots(str(root / "landing"), str(root / "tables")), size)


def measure(env: str, session_root: Path, root: Path, size: history.HistorySize) -> dict[str, Any]:
    """Wall seconds of the child process as `jobs.run` runs by default (start to exit), its exit code, whether
    it found nothing changed and ran no stage (`skipped`), the seconds of its run (`run_seconds`: without
    Python's start and the imports), the rows it wrote per table (`rows_written`: none when nothing was new),
    each table's seconds and note; the same for a run with `--recheck` (`recheck`: every stage through Spark,
    the second of two, the first's wall seconds in `first_run_wall_seconds`); the end of the error output of
    a failed child."""
    from lakehouse.stages import SKIPPED_ROW

    command = [sys.executable, "-m", "bench.new_process", "--env", env, "--session-root", str(session_root),
               "--root", str(root), "--people", str(size.people), "--years", str(size.years),
               "--fitbit-days", str(size.fitbit_days), "--mapmyrun-workouts", str(size.mapmyrun_workouts)]  # fmt: skip
    # The lakehouse's own metastore (`<tables_root>/_metastore`, which the bench's session does not use) is made
    # and every table named in it by the first run, once, as on a user's first run: the second is timed.
    first, first_wall = _timed([*command, "--recheck"])
    if first.returncode != 0:
        return {"wall_seconds": first_wall, "returncode": first.returncode, "stderr_tail": first.stderr[-2000:]}
    recheck = _result(*_timed([*command, "--recheck"]))
    out = _result(*_timed(command)) | {"first_run_wall_seconds": first_wall, "recheck": recheck}
    out["skipped"] = SKIPPED_ROW in out.get("notes", {})  # the row only a run that ran no stage has
    return out


def _result(done: subprocess.CompletedProcess[str], wall: float) -> dict[str, Any]:
    """The child's wall seconds, exit code and what it printed as its result."""
    out: dict[str, Any] = {"wall_seconds": wall, "returncode": done.returncode}
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            out |= json.loads(line.removeprefix(RESULT_PREFIX))
    if done.returncode != 0:
        out["stderr_tail"] = done.stderr[-2000:]
    return out


def _timed(command: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """The child's run and its wall seconds, start to exit."""
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    return done, round(time.monotonic() - started, 2)


def main(argv: Sequence[str] | None = None) -> int:
    from jobs.pipeline import run
    from lakehouse.stages import STAGES, failed

    parser = argparse.ArgumentParser(prog="python -m bench.new_process", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--session-root", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    for name in ("people", "years", "fitbit-days", "mapmyrun-workouts"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--recheck", action="store_true", help="run every stage even when nothing changed")
    args = parser.parse_args(argv)
    size = history.HistorySize(args.people, args.years, args.fitbit_days, args.mapmyrun_workouts)
    started = time.monotonic()
    rows = run(size_settings(args.env, args.session_root, args.root, size), STAGES, skip_unchanged=not args.recheck)
    # What the run did (a run with nothing new writes no row) and how long it took once the imports were done.
    written = {r.table: r.rows_written for r in rows if r.rows_written}
    seconds = {r.table: round(r.seconds, 2) for r in rows if r.seconds >= 0.5}  # where the run's time went
    print(RESULT_PREFIX + json.dumps({"run_seconds": round(time.monotonic() - started, 2), "rows_written": written,
                                      "table_seconds": seconds, "notes": {r.table: r.note for r in rows}}))
    bad = failed(rows)
    for row in bad:
        print(f"{row.table}: {row.note}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
