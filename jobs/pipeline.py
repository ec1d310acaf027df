"""The demo: land a generated sample (Strava, Fitbit, MapMyRun and a small race), then bronze -> silver -> gold.

    python -m jobs.pipeline                      # every stage, the demo lakehouse under ./data/demo
    python -m jobs.pipeline --stage bronze       # one stage alone (land, bronze, silver, gold)
    python -m jobs.pipeline --env test --force   # other settings; reload every landing file
    python -m jobs.pipeline --recheck            # run the stages even when nothing changed since the last run
    spark-submit jobs/pipeline.py --stage silver # the same job on a cluster (see spark-submit.sh)

Your own data is `python -m jobs.run`. Exit codes: 0 done, 1 failed (one line on stderr, the traceback in
the log file it names), 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from pyspark.sql import SparkSession

from lakehouse.cli import EXIT_FAILED, EXIT_OK, progress, run_job
from lakehouse.config import Settings
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.stages import STAGES as TABLE_STAGES
from lakehouse.stages import SummaryRow, report, run_stages
from lakehouse.storage import open_store

STAGES = ("land", *TABLE_STAGES)


def land(settings: Settings) -> list[SummaryRow]:
    """Generate the seeded sample data set and the small race, and land them (identical files are left alone)."""
    from lakehouse_demo.race.landing import land_summary
    from lakehouse_demo.race.pipeline import pipeline_spec
    from lakehouse_demo.sample import land_sample

    started = time.monotonic()
    landing = LandingZone(open_store(settings.landing_root, settings.s3))
    files = land_sample(landing, settings.sample)
    rows: dict[str, SummaryRow] = {}
    for landed in files:
        folder = "/".join(landed.key.split("/")[:2])
        row = rows.setdefault(folder, SummaryRow("land", folder, 0, 0, 0, None, 0.0))
        row.files_in = (row.files_in or 0) + 1
        row.rows_in = (row.rows_in or 0) + landed.records
        row.rows_written = (row.rows_written or 0) + (landed.records if landed.written else 0)
    elapsed = time.monotonic() - started
    for row in rows.values():
        row.seconds = elapsed / max(len(rows), 1)
        if not row.rows_written:
            row.note = "already landed"
    out = list(rows.values())
    if settings.race.pipeline_stages:
        progress(f"race: landing stages {', '.join(map(str, settings.race.pipeline_stages))}")
        out += [SummaryRow(r.layer, r.table, r.files_in, r.rows_in, r.rows_out, r.quarantined, r.seconds, r.note)
                for r in land_summary(settings, pipeline_spec(settings), progress)]  # fmt: skip
    return out


def run(
    settings: Settings,
    stages: Sequence[str],
    force: bool = False,
    spark: SparkSession | None = None,
    full_gold: bool = False,
    skip_unchanged: bool = False,
) -> list[SummaryRow]:
    """Run the given stages in pipeline order; returns the summary rows. With `skip_unchanged`, the table stages
    are not run when nothing changed since the last good run (`lakehouse.runstate`)."""
    rows: list[SummaryRow] = []
    if "land" in stages:
        progress(f"land: sample data -> {settings.landing_root}")
        rows += land(settings)
    with_race = any(s in stages for s in TABLE_STAGES)
    return rows + run_stages(settings, stages, new_run_id(), spark=spark, force=force, full_gold=full_gold,
                             with_race=with_race, skip_unchanged=skip_unchanged)  # fmt: skip


def body(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo and print its summary."""
    started = time.monotonic()
    stages = STAGES if args.stage == "all" else (args.stage,)
    rows = run(settings, stages, force=args.force, full_gold=args.full_gold, skip_unchanged=not args.recheck)
    if not report("pipeline", rows, settings, started):
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.pipeline` and spark-submit."""
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=(*STAGES, "all"), default="all", help="run one stage alone")
    parser.add_argument("--force", action="store_true", help="bronze: reload every landing file")
    parser.add_argument("--full-gold", action="store_true", help="gold: recompute everything, not just what changed")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="run the stages (their own checks) even when nothing changed since the last good run",
    )
    return run_job("pipeline", parser, body, argv, lock=True, default_env="demo")


if __name__ == "__main__":
    sys.exit(main())
