"""Benchmark of the main job on a bigger sample than the demo: seconds and rows per second per stage.

    .venv/bin/python bench/pipeline_bench.py                    # 10 years of Strava, 90 Fitbit days, 2,000 MapMyRun
    .venv/bin/python bench/pipeline_bench.py --years 4 --fitbit-days 21 --mapmyrun 240   # the demo's size

It builds a fresh lakehouse in a temporary folder, runs every stage once (cold), then again (a re-run with
nothing new), then lands one more week of activities and runs again (the weekly incremental run), and prints
a table; with --json it also writes the figures to bench/results/pipeline-<timestamp>.json. Not a test: the
numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from jobs.pipeline import STAGES, SummaryRow, run
from lakehouse.config import load_settings
from lakehouse.landing import LandingZone
from lakehouse.spark import get_spark
from lakehouse.storage import LocalStore
from lakehouse_demo.sample import strava as sample_strava


def stage_totals(rows: list[SummaryRow]) -> dict[str, dict[str, float]]:
    """Seconds and rows written per stage."""
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        stage = out.setdefault(row.stage, {"seconds": 0.0, "rows_in": 0, "rows_written": 0})
        stage["seconds"] += row.seconds
        stage["rows_in"] += row.rows_in or 0
        stage["rows_written"] += row.rows_written or 0
    return out


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--fitbit-days", type=int, default=90)
    parser.add_argument("--mapmyrun", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="also write bench/results/pipeline-<time>.json")
    args = parser.parse_args()

    end = date(2024, 12, 31)
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-") as root:
        base = load_settings("local", environ={"LAKEHOUSE_ROOT": root})
        settings = replace(
            base,
            sample=replace(base.sample, start_date=date(end.year - args.years + 1, 1, 1), end_date=end,
                           fitbit_days=args.fitbit_days, mapmyrun_workouts=args.mapmyrun),
        )  # fmt: skip
        spark = get_spark(settings)
        phases: dict[str, dict[str, object]] = {}
        for phase in ("cold", "rerun"):
            started = time.monotonic()
            rows = run(settings, STAGES, spark=spark)
            phases[phase] = {"wall_seconds": round(time.monotonic() - started, 1), "stages": stage_totals(rows)}
        activities = sorted(sample_strava.generate_activities(settings.sample), key=lambda a: str(a["start_date"]))
        week = [sample_strava.shifted(a, 7, int(a["id"]) + 10_000_000) for a in activities[-7:]]
        LandingZone(LocalStore(settings.landing_root)).write_json_month(
            "strava", "activities", str(week[-1]["start_date"])[:7], "bench-week", week
        )
        started = time.monotonic()
        rows = run(settings, ("bronze", "silver", "gold"), spark=spark)
        phases["weekly"] = {"wall_seconds": round(time.monotonic() - started, 1), "stages": stage_totals(rows)}
        spark.stop()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sample: {args.years} years of Strava, {args.fitbit_days} Fitbit days at 1 min, {args.mapmyrun} MapMyRun")
    print(f"{'phase':<8} {'stage':<8} {'seconds':>8} {'rows in':>10} {'rows written':>13} {'rows/s':>9}")
    for phase, figures in phases.items():
        for stage, t in figures["stages"].items():  # type: ignore[union-attr]
            rate = t["rows_written"] / t["seconds"] if t["seconds"] else 0.0
            print(f"{phase:<8} {stage:<8} {t['seconds']:>8.1f} {int(t['rows_in']):>10} {int(t['rows_written']):>13}"
                  f" {rate:>9.0f}")  # fmt: skip
        print(f"{phase:<8} {'total':<8} {figures['wall_seconds']:>8}")
    print(f"driver peak RSS: {peak_mb:.0f} MB (Python process; the JVM is separate)")
    if args.json:
        out = Path(__file__).parent / "results" / f"pipeline-{time.strftime('%Y%m%dT%H%M%S')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), "phases": phases}, indent=2))
        print(f"written: {out}")


if __name__ == "__main__":
    main()
