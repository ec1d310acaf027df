"""Where the test suite's minutes go: each worker's timeline and each pytest-xdist group's seconds.

    SUITE_TIMELINE=/tmp/suite.jsonl CI=true .venv/bin/python -m pytest -p no:cacheprovider -p bench.suite_timeline
    .venv/bin/python -m bench.suite_timeline /tmp/suite.jsonl          # the report

As a pytest plugin (`-p bench.suite_timeline`) it appends one JSON line per test phase (setup, call, teardown) to
the file `SUITE_TIMELINE` names: when it ended, its seconds, the worker and the test. The report prints when each
worker finished, the groups each ran (start, end, seconds) and the groups' seconds longest first, in the form of
`tests/conftest.py`'s `LONG_GROUPS`: the suite's wall time is the last worker's end, and with the cores busy
(the suite is CPU-bound on 2 cores) only less work, or the long groups started first, shortens it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ENV = "SUITE_TIMELINE"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record a test phase on the worker that ran it (the controller's copy of the report is left out)."""
    out = os.environ.get(ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if not out or (getattr(report, "node", None) is not None):  # `node` is set on the controller's copy
        return
    line = {"ended": time.time(), "seconds": report.duration, "worker": worker, "test": report.nodeid,
            "phase": report.when, "outcome": report.outcome}  # fmt: skip
    with open(out, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def group(test: str) -> str:
    """A test's group as pytest-xdist reports it: `path::name@group`, else its module."""
    return test.rsplit("@", 1)[1] if "@" in test else test.split("::", 1)[0]


def report(lines: list[dict[str, Any]], shown_from: float = 15.0) -> str:
    """The text report of a timeline's lines."""
    if not lines:
        return "no tests recorded"
    start = min(line["ended"] - line["seconds"] for line in lines)
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    totals: dict[str, float] = defaultdict(float)
    for line in lines:
        by_worker[line["worker"]].append(line)
        totals[group(line["test"])] += line["seconds"]
    out = []
    for worker, own in sorted(by_worker.items()):
        own.sort(key=lambda line: line["ended"])
        busy = sum(line["seconds"] for line in own)
        out.append(f"{worker}: ended at {own[-1]['ended'] - start:.0f} s, busy {busy:.0f} s")
        spans: dict[str, list[float]] = {}
        for line in own:
            span = spans.setdefault(group(line["test"]), [line["ended"] - line["seconds"] - start, 0.0, 0.0])
            span[1] = line["ended"] - start
            span[2] += line["seconds"]
        out += [f"  {s:6.0f} - {e:6.0f} s  {d:6.0f} s  {name}" for name, (s, e, d) in spans.items() if d >= shown_from]
    out.append(f"groups, longest first ({sum(totals.values()):.0f} s in all):")
    out += [f"  {seconds:6.0f} s  {name}" for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:20]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("timeline", type=Path, help="the file SUITE_TIMELINE named")
    parser.add_argument("--shown-from", type=float, default=15.0, help="leave out a worker's groups under this")
    args = parser.parse_args(argv)
    lines = [json.loads(text) for text in args.timeline.read_text(encoding="utf-8").splitlines() if text.strip()]
    print(report(lines, args.shown_from))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
