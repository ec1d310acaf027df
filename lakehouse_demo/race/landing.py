"""Landing the race data: the athletes sheet, one route file per stage, time-trial start lists, telemetry.

Layout under the landing root (names are deterministic, so landing the same race twice writes nothing):

    race/athletes/athletes-<tag>.csv
    race/stages/stage=07/route-<tag>.csv
    race/start_lists/stage=07/start-list-<tag>.csv          # time trials only
    race/telemetry/date=2024-07-05/stage07-<tag>-w<seconds>-<window>-<part>.csv

`<tag>` names the generator's parameters (seed, scale, riders). Telemetry is partitioned by the stage's
date; each file holds the points that reached the zone in one arrival window (`file_seconds` of race time,
split into parts of at most `max_file_rows`), so late and duplicate points sit in later files, as they
would arrive from a live feed.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lakehouse.config import RaceSettings, Settings
from lakehouse.landing import LandedFile, LandingZone
from lakehouse.race.layout import ATHLETES_PREFIX, STAGES_PREFIX, START_LISTS_PREFIX, TELEMETRY_PREFIX
from lakehouse.race.run import StepResult
from lakehouse.storage import open_store
from lakehouse_demo.race.athletes import Rider, athletes_csv, generate_riders
from lakehouse_demo.race.routes import StageRoute, generate_route, route_csv
from lakehouse_demo.race.telemetry import (
    Defects,
    StagePoints,
    arrival_windows,
    itt_start_order,
    points_csv,
    simulate_stage,
    starters,
)


@dataclass(frozen=True)
class RaceSpec:
    """What to generate: which stages, how many riders, at what scale, with which defects."""

    seed: int
    riders: int
    stages: tuple[int, ...]
    distance_scale: float
    file_seconds: int
    max_file_rows: int
    defects: Defects = field(default_factory=Defects)

    @classmethod
    def from_settings(
        cls, race: RaceSettings, stages: tuple[int, ...] | None = None, scale: float | None = None
    ) -> RaceSpec:
        """The race of the settings, optionally with other stages or scale."""
        return cls(
            seed=race.seed,
            riders=race.riders,
            stages=tuple(stages if stages is not None else race.stages),
            distance_scale=scale if scale is not None else race.distance_scale,
            file_seconds=race.file_seconds,
            max_file_rows=race.max_file_rows,
        )

    @property
    def tag(self) -> str:
        """The generator parameters in a file name."""
        return f"seed{self.seed}-x{self.distance_scale:g}-n{self.riders}"


def start_list_csv(route: StageRoute, riders: list[Rider]) -> bytes:
    """A time trial's start list: rider id and start time (UTC), in start order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("stage", "rider_id", "start_time"))
    first = route.start_time.timestamp()
    for i, rider in enumerate(itt_start_order(riders)):
        start = datetime.fromtimestamp(first + i * route.itt_interval_s(), UTC)
        writer.writerow((route.stage, rider.rider_id, start.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return out.getvalue().encode("utf-8")


def telemetry_key(spec: RaceSpec, route: StageRoute, stem: str, window_s: float) -> str:
    """The landing key of one telemetry file (the window length is in the name: a replay's finer files
    never collide with a batch landing's)."""
    stage_part, rest = stem.split("-", 1)
    folder = f"{TELEMETRY_PREFIX}date={route.plan.stage_date.isoformat()}"
    return f"{folder}/{stage_part}-{spec.tag}-w{window_s:g}-{rest}.csv"


def telemetry_files(
    spec: RaceSpec, route: StageRoute, points: StagePoints, window_s: float | None = None
) -> Iterator[tuple[str, bytes, int, float]]:
    """(key, CSV bytes, rows, last arrival second) of each telemetry file of a stage, in arrival order."""
    window = window_s or spec.file_seconds
    for stem, chunk in arrival_windows(points, window, spec.max_file_rows):
        yield (
            telemetry_key(spec, route, stem, window),
            points_csv(chunk),
            len(chunk),
            float(chunk.arrival_s.max()),
        )


def land_reference(landing: LandingZone, spec: RaceSpec) -> list[LandedFile]:
    """Land the athletes sheet, the route of every stage, and the start list of each time trial."""
    riders = generate_riders(spec.seed, spec.riders)
    files = [
        landing.write_bytes(f"{ATHLETES_PREFIX}athletes-{spec.tag}.csv", athletes_csv(riders), len(riders))
    ]
    for stage in spec.stages:
        route = generate_route(stage, spec.seed, spec.distance_scale)
        data = route_csv(route)
        files.append(
            landing.write_bytes(
                f"{STAGES_PREFIX}stage={stage:02d}/route-{spec.tag}.csv", data, data.count(b"\n") - 1
            )
        )
        if route.plan.kind == "itt":
            started = starters(spec.seed, riders, stage)
            files.append(
                landing.write_bytes(
                    f"{START_LISTS_PREFIX}stage={stage:02d}/start-list-{spec.tag}.csv",
                    start_list_csv(route, started),
                    len(started),
                )
            )
    return files


def stage_points(spec: RaceSpec, stage: int) -> tuple[StageRoute, StagePoints]:
    """The route and every telemetry point of one stage."""
    riders = generate_riders(spec.seed, spec.riders)
    route = generate_route(stage, spec.seed, spec.distance_scale)
    return route, simulate_stage(route, riders, spec.seed, spec.defects)


def land_telemetry(
    landing: LandingZone, spec: RaceSpec, progress: Callable[[str], None] | None = None
) -> list[LandedFile]:
    """Simulate each stage and land its telemetry files."""
    files: list[LandedFile] = []
    for stage in spec.stages:
        route, points = stage_points(spec, stage)
        if progress:
            progress(f"race: stage {stage}: {len(points)} telemetry points")
        for key, data, rows, _ in telemetry_files(spec, route, points):
            files.append(landing.write_bytes(key, data, rows))
    return files


def land_race(
    landing: LandingZone, spec: RaceSpec, progress: Callable[[str], None] | None = None
) -> list[LandedFile]:
    """Land a whole race: reference files, then telemetry."""
    return land_reference(landing, spec) + land_telemetry(landing, spec, progress)


def land_summary(
    settings: Settings, spec: RaceSpec, progress: Callable[[str], None] | None = None
) -> list[StepResult]:
    """Generate and land the race; one summary row per landing folder."""
    started = time.monotonic()
    files = land_race(LandingZone(open_store(settings.landing_root, settings.s3)), spec, progress)
    rows: dict[str, StepResult] = {}
    for landed in files:
        folder = "/".join(landed.key.split("/")[:2])
        row = rows.setdefault(folder, StepResult("land", folder, 0, 0, files_in=0))
        row.files_in = (row.files_in or 0) + 1
        row.rows_in = (row.rows_in or 0) + landed.records
        row.rows_out = (row.rows_out or 0) + (landed.records if landed.written else 0)
    for row in rows.values():
        row.seconds = (time.monotonic() - started) / max(len(rows), 1)
        row.note = "" if row.rows_out else "already landed"
    return list(rows.values())
