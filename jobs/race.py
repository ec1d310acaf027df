"""The race in batch: land the Tour (or some stages), then bronze -> silver -> gold, and compare riders.

    python -m jobs.race                                  # the stages of [race] in conf (default: full Tour)
    python -m jobs.race --stages 1-3 --scale 0.1         # three short stages
    python -m jobs.race --step gold --force-gold         # rebuild gold from silver
    python -m jobs.race --step compare --stage 9 --riders 11,21 --segment "Col du Tourmalet"

`--step compare` writes gold.race_segment_gaps for two riders on a segment (default: the stage's first
two finishers on its last climb) and an animated GIF under <tables>/artifacts/race/segments/.
Exits 0 on success; on failure prints a one-line reason and exits 1 (2 for bad arguments or settings).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from lakehouse.cli import progress, run_job
from lakehouse.config import Settings
from lakehouse.landing import new_run_id
from lakehouse.race import run
from lakehouse.race.run import StepResult
from lakehouse.spark import get_spark
from lakehouse.stages import SummaryRow, format_summary
from lakehouse_demo.race.landing import RaceSpec, land_summary

STEPS = ("land", "bronze", "silver", "gold", "compare")


def parse_stages(text: str) -> tuple[int, ...]:
    """`1-3,7,9-10` -> (1, 2, 3, 7, 9, 10)."""
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        try:
            out.extend(range(int(low), int(high or low) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError(f"stages look like 1-3,7 (got {text!r})") from None
    if not out or any(not 1 <= s <= 21 for s in out):
        raise argparse.ArgumentTypeError(f"stages are 1..21 (got {text!r})")
    return tuple(sorted(set(out)))


def summary_rows(steps: Sequence[StepResult]) -> list[SummaryRow]:
    """Step results in the main job's summary format."""
    return [
        SummaryRow(s.layer, s.table, s.files_in, s.rows_in, s.rows_out, s.quarantined, s.seconds, s.note) for s in steps
    ]


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments (`--env` is added by the shared CLI helper)."""
    parser = argparse.ArgumentParser(prog="race", description=__doc__.splitlines()[0])
    parser.add_argument("--step", choices=(*STEPS, "all"), default="all", help="run one step alone")
    parser.add_argument("--stages", type=parse_stages, default=None, help="stages to land, e.g. 1-21 or 3,9")
    parser.add_argument("--scale", type=float, default=None, help="distance scale (1.0 = real stage lengths)")
    parser.add_argument("--rider-count", type=int, default=None, help="riders with telemetry (default 88)")
    parser.add_argument("--force-gold", action="store_true", help="rebuild gold even if silver is unchanged")
    parser.add_argument("--stage", type=int, default=None, help="compare: the stage (default: the last landed)")
    parser.add_argument("--riders", default=None, help="compare: two rider ids, e.g. 11,21")
    parser.add_argument("--segment", default=None, help="compare: a climb name, 'finale' or '<km>-<km>'")
    parser.add_argument("--no-gif", action="store_true", help="compare: skip the GIF")
    return parser


def body(args: argparse.Namespace, settings: Settings) -> int:
    """Generate (by default into the demo lakehouse) and build the race; print the summary."""
    spec = RaceSpec.from_settings(settings.race, stages=args.stages, scale=args.scale)
    if args.rider_count:
        spec = RaceSpec(spec.seed, args.rider_count, spec.stages, spec.distance_scale, spec.file_seconds,
                        spec.max_file_rows)  # fmt: skip
    steps = STEPS if args.step == "all" else (args.step,)
    run_id = new_run_id()
    started = time.monotonic()
    results: list[StepResult] = []
    if "land" in steps:
        progress(f"land: race stages {spec.stages[0]}..{spec.stages[-1]} at scale {spec.distance_scale:g}")
        results += land_summary(settings, spec, progress)
    if any(s in steps for s in STEPS[1:]):
        spark = get_spark(settings)
        if "bronze" in steps:
            progress("bronze: race files")
            results += run.bronze(spark, settings, run_id)
        if "silver" in steps:
            progress("silver: race tables")
            results += run.silver(spark, settings, run_id)
        if "gold" in steps:
            progress("gold: race tables")
            results += run.gold(spark, settings, run_id, force=args.force_gold)
        if "compare" in steps:
            riders = [int(r) for r in args.riders.split(",")] if args.riders else [None, None]
            if len(riders) != 2:
                raise ValueError("--riders takes two rider ids, e.g. 11,21")
            stage = args.stage or spec.stages[-1]
            progress(f"gold: comparing riders on stage {stage}")
            row, gif = run.compare(spark, settings, stage, riders[0], riders[1], args.segment,
                                   gif=not args.no_gif)  # fmt: skip
            results.append(row)
            if gif:
                progress(f"gold: GIF written to {gif}")
    print(format_summary(summary_rows(results)))
    print(f"\ntables: {settings.tables_root}/{{bronze,silver,gold}}/race_*")
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.race` (the demo lakehouse unless --env says otherwise)."""
    return run_job("race", build_parser(), body, argv, default_env="demo")


if __name__ == "__main__":
    sys.exit(main())
