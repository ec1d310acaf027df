"""Replay a stage live: drop its telemetry into the landing zone at N times real time.

The stage is simulated as for a batch landing, then cut into files by arrival time, one file per
`speed * file_every_s` seconds of race time, and each file is written when its last point would have
arrived: at `speed` = 60 an hour of racing lands in a minute, a file every `file_every_s` seconds of wall
time. Late and duplicate points arrive in later files, as they do live. The stream
(`jobs.race_stream --trigger processing-time`) picks the files up as they land.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.landing import LandedFile, LandingZone
from lakehouse_demo.race.landing import RaceSpec, land_reference, stage_points, telemetry_files

MIN_WINDOW_S = 1.0


class ReplayError(ValueError):
    """The replay's speed or pacing is not usable."""


@dataclass(frozen=True)
class ReplayedFile:
    """One file the replay landed, and when (monotonic clock)."""

    landed: LandedFile
    at_monotonic: float
    race_seconds: float  # race time of the file's last arrival, from the first file's


def replay_stage(
    landing: LandingZone,
    spec: RaceSpec,
    stage: int,
    speed: float,
    file_every_s: float = 1.0,
    on_file: Callable[[ReplayedFile], None] | None = None,
    max_files: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ReplayedFile]:
    """Land the stage's reference files, then its telemetry paced at `speed` times real time."""
    if speed <= 0 or file_every_s <= 0:
        raise ReplayError(f"speed and file interval must be positive (got {speed}, {file_every_s})")
    single = RaceSpec(spec.seed, spec.riders, (stage,), spec.distance_scale, spec.file_seconds,
                      spec.max_file_rows, spec.defects)  # fmt: skip
    land_reference(landing, single)
    route, points = stage_points(single, stage)
    window = max(MIN_WINDOW_S, speed * file_every_s)
    files = list(telemetry_files(single, route, points, window_s=window))
    if max_files is not None:
        files = files[:max_files]
    out: list[ReplayedFile] = []
    if not files:
        return out
    race_start = files[0][3]
    wall_start = time.monotonic()
    for key, data, rows, last_arrival in files:
        due = wall_start + (last_arrival - race_start) / speed
        wait = due - time.monotonic()
        if wait > 0:
            sleep(wait)
        landed = landing.write_bytes(key, data, rows)
        replayed = ReplayedFile(landed, time.monotonic(), last_arrival - race_start)
        out.append(replayed)
        if on_file:
            on_file(replayed)
    return out
