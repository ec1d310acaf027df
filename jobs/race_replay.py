"""Replay a stage into the landing zone at N times real time, so the live stream can be watched.

    python -m jobs.race_replay --stage 9 --speed 60        # an hour of racing in a minute
    python -m jobs.race_replay --stage 3 --speed 600 --scale 0.1 --file-every 0.5

Lands the stage's route, athletes and start list first, then its telemetry files paced by arrival time.
Exits 0 on success; on failure prints a one-line reason and exits 1 (2 for bad arguments or settings).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from lakehouse.cli import progress, run_job
from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.storage import open_store
from lakehouse_demo.race.landing import RaceSpec
from lakehouse_demo.race.replay import ReplayedFile, replay_stage


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments (`--env` is added by the shared CLI helper)."""
    parser = argparse.ArgumentParser(prog="race_replay", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=int, required=True, help="the stage to replay (1..21)")
    parser.add_argument("--speed", type=float, default=60.0, help="times real time (default 60)")
    parser.add_argument("--file-every", type=float, default=1.0, help="seconds of wall time between files")
    parser.add_argument("--scale", type=float, default=None, help="distance scale (default: [race] setting)")
    parser.add_argument("--max-files", type=int, default=None, help="stop after this many files")
    return parser


def body(args: argparse.Namespace, settings: Settings) -> int:
    """Drop the stage's files into the landing zone at N times real time."""
    if not 1 <= args.stage <= 21:
        print(f"race_replay: --stage must be 1..21, got {args.stage}", file=sys.stderr)
        return 2
    spec = RaceSpec.from_settings(settings.race, stages=(args.stage,), scale=args.scale)
    landing = LandingZone(open_store(settings.landing_root, settings.s3))
    started = time.monotonic()

    def report(f: ReplayedFile) -> None:
        progress(
            f"replay: +{f.race_seconds / 60:6.1f} race min  {f.landed.records:6d} points  {f.landed.key}"
        )

    try:
        files = replay_stage(landing, spec, args.stage, args.speed, args.file_every, report, args.max_files)
    except KeyboardInterrupt:
        progress("replay: stopped")
        return 0
    points = sum(f.landed.records for f in files)
    print(
        f"replayed stage {args.stage}: {len(files)} files, {points} points "
        f"in {time.monotonic() - started:.0f}s"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.race_replay` (the demo lakehouse unless --env says otherwise)."""
    return run_job("race_replay", build_parser(), body, argv, default_env="demo")


if __name__ == "__main__":
    sys.exit(main())
