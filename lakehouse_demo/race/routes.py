"""The 21 stage routes of a synthetic Tour de France: GPS paths with named checkpoints, seeded.

Each stage starts at a real town and follows a generated road: a heading that wanders at most
`MAX_HEADING_DEVIATION_DEG` from the stage's bearing (so a route never comes back on itself, which keeps
route matching unambiguous), and an altitude profile built from gradients: gentle terrain, then climbs
with a foot and a top (category 4 to HC, gradients and lengths like the real ones), descents after them,
a flat run-in for sprint stages and summit finishes on some mountain stages. Time trials have two splits.

`distance_scale` shrinks a stage in length and height alike, so gradients (and so speeds and VAM) stay real
while tests and the demo run on short stages. The same (seed, stage, scale) always gives the same route,
whichever other stages are generated.

Positions use a local flat projection around the stage start (`to_local` / `to_latlon`); silver matches
GPS points to the route in the same projection.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from lakehouse.race.geo import to_latlon

PATH_SPACING_M = 50.0  # route file resolution at full scale
MIN_ROUTE_POINTS = 40  # short (scaled) stages still get a smooth path
MAX_HEADING_DEVIATION_DEG = 60.0
FINISH_UTC = (15, 15)  # stages are timed to finish around 17:15 in France
EXPECTED_KMH = {"flat": 43.0, "hilly": 40.0, "mountain": 35.0, "itt": 48.0}
ITT_FIRST_START_UTC = (12, 0)
ITT_START_INTERVAL_S = 60  # at full scale; scaled stages start riders closer together
MIN_ITT_START_INTERVAL_S = 10
START_MARGIN_M = 5_000.0
FLAT_RUN_IN_M = 8_000.0

# category -> (length km range, average gradient range)
CLIMB_CATEGORIES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "HC": ((12.0, 19.0), (0.068, 0.085)),
    "1": ((8.0, 13.0), (0.062, 0.078)),
    "2": ((5.0, 8.5), (0.052, 0.068)),
    "3": ((2.5, 5.0), (0.048, 0.065)),
    "4": ((1.0, 3.0), (0.040, 0.060)),
}
CLIMB_NAMES = (
    "Col de Vaujany",
    "Côte de Saint-Brès",
    "Col de la Croix Haute",
    "Col de Peyresourde",
    "Col de la Madeleine",
    "Col de Portet",
    "Col de Larrau",
    "Col de Vars",
    "Col de Bagargui",
    "Col de Marie-Blanque",
    "Col d'Aspin",
    "Col de Menté",
    "Col du Soudet",
    "Côte de Montsalvy",
    "Côte de Laffrey",
    "Montée de Chamrousse",
    "Col de l'Échelle",
    "Côte de Saint-Jean",
    "Col de Cabre",
    "Col du Grand Bois",
    "Col des Fourches",
    "Col du Lautaret",
    "Col du Granon",
    "Col du Noyer",
    "Montée de Plainpalais",
    "Col du Revard",
    "Col du Cucheron",
    "Col de Porte",
    "Côte du Mollard",
    "Col du Chaussy",
    "Montée de Beille",
    "Col d'Agnes",
    "Port de Lers",
    "Montée de Val Louron",
    "Col d'Azet",
    "Côte de l'Ance",
    "Côte de Mauvernay",
    "Côte de Pontis",
    "Col de Sarenne",
    "Col d'Ornon",
    "Montée de Rochebrune",
    "Col d'Allos",
)


class RouteError(ValueError):
    """A route is malformed or not matchable (for example, it comes back too close to itself)."""


@dataclass(frozen=True)
class StagePlan:
    """One stage of the Tour as planned: number, date, kind, length and towns."""

    stage: int
    stage_date: date
    kind: str  # flat | hilly | mountain | itt
    length_km: float
    start_town: str
    finish_town: str
    start_lat: float
    start_lon: float


@dataclass(frozen=True)
class Checkpoint:
    """A named point on the route: start, sprint, split, climb foot or top, finish."""

    name: str
    kind: str  # start | sprint | split | climb_foot | climb_top | finish
    distance_m: float
    climb: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class StageRoute:
    """A stage's path (arrays by route point) and checkpoints, ready to write or to ride."""

    plan: StagePlan
    start_time: datetime  # UTC; for a time trial, the first rider's start
    distance_m: np.ndarray
    x_m: np.ndarray  # east of the start, metres
    y_m: np.ndarray  # north of the start, metres
    altitude_m: np.ndarray
    checkpoints: tuple[Checkpoint, ...]
    scale: float

    @property
    def stage(self) -> int:
        """The stage number."""
        return self.plan.stage

    @property
    def length_m(self) -> float:
        """Distance from start to finish line."""
        return float(self.distance_m[-1])

    @property
    def lat(self) -> np.ndarray:
        """Latitudes of the route points."""
        return to_latlon(self.x_m, self.y_m, self.plan.start_lat, self.plan.start_lon)[0]

    @property
    def lon(self) -> np.ndarray:
        """Longitudes of the route points."""
        return to_latlon(self.x_m, self.y_m, self.plan.start_lat, self.plan.start_lon)[1]

    def gradient(self) -> np.ndarray:
        """Gradient (rise over run) of each segment, point i to i+1; length n - 1."""
        run = np.diff(self.distance_m)
        return np.divide(np.diff(self.altitude_m), run, out=np.zeros_like(run), where=run > 0)

    def itt_interval_s(self) -> int:
        """Seconds between two riders' starts in a time trial (scaled with the stage)."""
        return max(MIN_ITT_START_INTERVAL_S, round(ITT_START_INTERVAL_S * min(1.0, self.scale * 4)))


def _d(month: int, day: int) -> date:
    return date(2024, month, day)


# stage, date, kind, km, start town, finish town, start latitude, longitude
TOUR: tuple[StagePlan, ...] = tuple(
    StagePlan(*row)
    for row in (
        (1, _d(6, 29), "hilly", 195.0, "Lille", "Arras", 50.6292, 3.0573),
        (2, _d(6, 30), "hilly", 185.0, "Amiens", "Rouen", 49.8941, 2.2958),
        (3, _d(7, 1), "flat", 210.0, "Caen", "Rennes", 49.1829, -0.3707),
        (4, _d(7, 2), "flat", 175.0, "Vannes", "Nantes", 47.6582, -2.7608),
        (5, _d(7, 3), "flat", 200.0, "La Rochelle", "Bordeaux", 46.1603, -1.1511),
        (6, _d(7, 4), "itt", 25.0, "Saint-Émilion", "Libourne", 44.8940, -0.1557),
        (7, _d(7, 5), "hilly", 180.0, "Périgueux", "Brive-la-Gaillarde", 45.1846, 0.7214),
        (8, _d(7, 6), "flat", 185.0, "Agen", "Toulouse", 44.2033, 0.6163),
        (9, _d(7, 7), "mountain", 150.0, "Pau", "Hautacam", 43.2951, -0.3708),
        (10, _d(7, 9), "mountain", 200.0, "Tarbes", "Saint-Lary-Soulan", 43.2328, 0.0781),
        (11, _d(7, 10), "mountain", 145.0, "Lourdes", "Plateau de Beille", 43.0947, -0.0459),
        (12, _d(7, 11), "flat", 200.0, "Foix", "Carcassonne", 42.9653, 1.6079),
        (13, _d(7, 12), "hilly", 180.0, "Nîmes", "Mende", 43.8367, 4.3601),
        (14, _d(7, 13), "flat", 165.0, "Montélimar", "Valence", 44.5581, 4.7509),
        (15, _d(7, 14), "mountain", 175.0, "Grenoble", "Alpe d'Huez", 45.1885, 5.7245),
        (16, _d(7, 16), "mountain", 195.0, "Gap", "Barcelonnette", 44.5594, 6.0786),
        (17, _d(7, 17), "hilly", 180.0, "Embrun", "Digne-les-Bains", 44.5636, 6.4958),
        (18, _d(7, 18), "flat", 185.0, "Arles", "Marseille", 43.6768, 4.6303),
        (19, _d(7, 19), "mountain", 145.0, "Briançon", "Isola 2000", 44.8986, 6.6435),
        (20, _d(7, 20), "mountain", 135.0, "Nice", "Col de la Couillole", 43.7102, 7.2620),
        (21, _d(7, 21), "itt", 34.0, "Monaco", "Nice", 43.7384, 7.4246),
    )
)
STAGE_NUMBERS = tuple(p.stage for p in TOUR)


def plan_of(stage: int) -> StagePlan:
    """The plan of stage 1..21."""
    if stage not in STAGE_NUMBERS:
        raise RouteError(f"there is no stage {stage}; stages are 1..{len(TOUR)}")
    return TOUR[stage - 1]


def _smooth_noise(rng: np.random.Generator, s: np.ndarray, wavelengths_m: tuple[float, ...]) -> np.ndarray:
    """A sum of sinusoids with random phases, scaled to [-1, 1]: gentle, repeatable terrain."""
    total = np.zeros_like(s)
    for wavelength in wavelengths_m:
        total += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * s / wavelength + rng.uniform(0, 2 * np.pi))
    peak = np.max(np.abs(total))
    return total / peak if peak > 0 else total


@dataclass(frozen=True)
class _Climb:
    foot_m: float
    length_m: float
    grade: float
    category: str
    name: str
    descent_m: float


def _climb_categories(kind: str, rng: np.random.Generator) -> list[str]:
    if kind == "flat":
        return ["4"] * int(rng.integers(0, 3))
    if kind == "itt":
        return ["4"] * int(rng.integers(0, 2))
    if kind == "hilly":
        pool = ["4", "3", "3", "2", "4"]
        return [pool[i] for i in rng.permutation(len(pool))[: int(rng.integers(3, 6))]]
    count = int(rng.integers(3, 6))
    early = list(rng.choice(["2", "1", "2", "1"], count - 1, replace=False))
    return [*(str(c) for c in early), str(rng.choice(["HC", "HC", "1"]))]


def _place_climbs(kind: str, length_m: float, rng: np.random.Generator, summit_finish: bool) -> list[_Climb]:
    """Climbs in order along the stage, each followed by its descent, with random flat gaps between."""
    categories = _climb_categories(kind, rng)
    names = rng.choice(len(CLIMB_NAMES), size=len(categories), replace=False)
    climbs: list[_Climb] = []
    for i, category in enumerate(categories):
        (lo_km, hi_km), (lo_g, hi_g) = CLIMB_CATEGORIES[category]
        name = CLIMB_NAMES[int(names[i])]
        length = rng.uniform(lo_km, hi_km) * 1000
        last = i == len(categories) - 1
        descent = 0.0 if (last and summit_finish) else length * rng.uniform(0.8, 1.2)
        climbs.append(_Climb(0.0, length, rng.uniform(lo_g, hi_g), category, name, descent))
    end_margin = 0.0 if summit_finish else (FLAT_RUN_IN_M if kind != "mountain" else 3_000.0)
    blocks = sum(c.length_m + c.descent_m for c in climbs)
    room = length_m - START_MARGIN_M - end_margin
    if blocks > room * 0.85 and climbs:
        shrink = room * 0.85 / blocks
        climbs = [
            _Climb(0.0, c.length_m * shrink, c.grade, c.category, c.name, c.descent_m * shrink)
            for c in climbs
        ]
        blocks = room * 0.85
    gaps = (room - blocks) * rng.dirichlet(np.ones(len(climbs) + 1)) if climbs else np.array([room])
    if summit_finish and climbs:
        # The last climb ends on the finish line: its gap moves to before it.
        gaps = np.append(gaps[:-2], gaps[-2] + gaps[-1])
        gaps = np.append(gaps, 0.0)
    placed: list[_Climb] = []
    position = START_MARGIN_M
    for climb, gap in zip(climbs, gaps[:-1], strict=False):
        position += float(gap)
        placed.append(
            _Climb(position, climb.length_m, climb.grade, climb.category, climb.name, climb.descent_m)
        )
        position += climb.length_m + climb.descent_m
    return placed


def _grades(
    kind: str, s: np.ndarray, length_m: float, climbs: list[_Climb], rng: np.random.Generator
) -> np.ndarray:
    """Gradient at each path step: terrain, climbs, descents, and a flat run-in for sprints."""
    terrain_amplitude = {"flat": 0.010, "hilly": 0.022, "mountain": 0.025, "itt": 0.012}[kind]
    grade = terrain_amplitude * _smooth_noise(rng, s, (2_300.0, 5_100.0, 9_700.0, 17_000.0))
    for climb in climbs:
        on = (s >= climb.foot_m) & (s < climb.foot_m + climb.length_m)
        if on.any():
            wiggle = 0.015 * _smooth_noise(rng, s[on] - climb.foot_m, (700.0, 1_900.0, 3_300.0))
            grade[on] = climb.grade + wiggle - wiggle.mean()
        top = climb.foot_m + climb.length_m
        down = (s >= top) & (s < top + climb.descent_m)
        if down.any():
            rise = climb.grade * climb.length_m
            grade[down] = -rise * rng.uniform(0.75, 0.95) / climb.descent_m
    if kind in ("flat", "itt"):
        run_in = s > length_m - FLAT_RUN_IN_M / 2
        grade[run_in] *= 0.2
    return grade


def _start_time(plan: StagePlan) -> datetime:
    day = datetime(plan.stage_date.year, plan.stage_date.month, plan.stage_date.day, tzinfo=UTC)
    if plan.kind == "itt":
        return day.replace(hour=ITT_FIRST_START_UTC[0], minute=ITT_FIRST_START_UTC[1])
    finish = day.replace(hour=FINISH_UTC[0], minute=FINISH_UTC[1])
    start = finish - timedelta(hours=plan.length_km / EXPECTED_KMH[plan.kind])
    start = start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
    return max(start, day.replace(hour=10))


def generate_route(stage: int, seed: int, scale: float = 1.0) -> StageRoute:
    """The route of one stage: the same (stage, seed, scale) always gives the same route."""
    if scale <= 0:
        raise RouteError(f"distance scale must be positive, got {scale}")
    plan = plan_of(stage)
    rng = np.random.default_rng([seed, stage, 7])
    full_length = plan.length_km * 1000
    s = np.arange(0.0, full_length + PATH_SPACING_M / 2, PATH_SPACING_M)
    s[-1] = full_length
    summit_finish = plan.kind == "mountain" and bool(rng.random() < 0.6)
    climbs = _place_climbs(plan.kind, full_length, rng, summit_finish)
    grade = _grades(plan.kind, s, full_length, climbs, rng)
    base_altitude = {"flat": (20, 150), "hilly": (80, 300), "mountain": (350, 750), "itt": (10, 60)}[
        plan.kind
    ]
    step = np.diff(s, prepend=0.0)
    altitude = rng.uniform(*base_altitude) + np.cumsum(grade * step)
    altitude += max(0.0, 5.0 - float(altitude.min()))

    bearing = math.radians(rng.uniform(0, 360))
    wander = math.radians(MAX_HEADING_DEVIATION_DEG) * _smooth_noise(rng, s, (1_700.0, 6_100.0, 23_000.0))
    heading = bearing + wander
    x = np.concatenate([[0.0], np.cumsum(np.sin(heading[1:]) * np.diff(s))])
    y = np.concatenate([[0.0], np.cumsum(np.cos(heading[1:]) * np.diff(s))])

    # Scale length and height together (gradients unchanged), then resample the path evenly.
    length = full_length * scale
    spacing = min(PATH_SPACING_M, length / MIN_ROUTE_POINTS)
    d = np.arange(0.0, length, spacing)
    d = np.append(d, length) if length - d[-1] > spacing * 0.25 else np.append(d[:-1], length)
    altitude_scaled = altitude[0] + (altitude - altitude[0]) * scale
    xs, ys, alts = (np.interp(d, s * scale, v) for v in (x * scale, y * scale, altitude_scaled))

    checkpoints = [Checkpoint("Start", "start", 0.0)]
    if plan.kind == "itt":
        checkpoints += [
            Checkpoint("Split 1", "split", round(length / 3, 1)),
            Checkpoint("Split 2", "split", round(2 * length / 3, 1)),
        ]
    else:
        sprint = full_length * rng.uniform(0.35, 0.6)
        for c in climbs:
            if c.foot_m - 1_000 <= sprint <= c.foot_m + c.length_m + c.descent_m:
                sprint = max(START_MARGIN_M / 2, c.foot_m - 2_000)
        checkpoints.append(Checkpoint("Sprint", "sprint", round(sprint * scale, 1)))
    for c in climbs:
        foot, top = round(c.foot_m * scale, 1), round(min(c.foot_m + c.length_m, full_length) * scale, 1)
        checkpoints.append(Checkpoint(f"{c.name} (foot)", "climb_foot", foot, c.name, c.category))
        checkpoints.append(Checkpoint(f"{c.name} (top)", "climb_top", top, c.name, c.category))
    checkpoints.append(Checkpoint("Finish", "finish", round(length, 1)))
    checkpoints.sort(key=lambda c: (c.distance_m, c.kind == "finish"))

    # Every checkpoint is also a route point, so its altitude and position are exact.
    extra = np.array([c.distance_m for c in checkpoints])
    all_d = np.unique(np.round(np.concatenate([d, extra]), 1))
    xs, ys, alts = (np.interp(all_d, d, v) for v in (xs, ys, alts))
    return StageRoute(
        plan=plan,
        start_time=_start_time(plan),
        distance_m=all_d,
        x_m=xs,
        y_m=ys,
        altitude_m=alts,
        checkpoints=tuple(checkpoints),
        scale=scale,
    )


def generate_tour(seed: int, stages: tuple[int, ...] = STAGE_NUMBERS, scale: float = 1.0) -> list[StageRoute]:
    """The routes of the given stages."""
    return [generate_route(stage, seed, scale) for stage in stages]


def check_clearance(route: StageRoute, min_gap_m: float, along_m: float) -> None:
    """Raise `RouteError` if two route points more than `along_m` apart along it lie within `min_gap_m`."""
    cell = np.floor(np.stack([route.x_m, route.y_m], axis=1) / min_gap_m).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, (cx, cy) in enumerate(cell):
        buckets.setdefault((int(cx), int(cy)), []).append(i)
    for i, (cx, cy) in enumerate(cell):
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in buckets.get((int(cx) + dx, int(cy) + dy), ()):
                    if abs(route.distance_m[j] - route.distance_m[i]) <= along_m:
                        continue
                    gap = math.hypot(route.x_m[j] - route.x_m[i], route.y_m[j] - route.y_m[i])
                    if gap < min_gap_m:
                        raise RouteError(
                            f"stage {route.stage}: the route passes within {gap:.0f} m of itself "
                            f"(at {route.distance_m[i]:.0f} m and {route.distance_m[j]:.0f} m)"
                        )


ROUTE_COLUMNS = (
    "stage", "stage_date", "stage_kind", "start_time", "start_town", "finish_town", "point", "lat", "lon",
    "altitude_m", "distance_m", "checkpoint", "checkpoint_kind", "climb", "climb_category",
)  # fmt: skip


def route_csv(route: StageRoute) -> bytes:
    """The stage's route file: one row per route point; checkpoint rows carry the checkpoint's name."""
    by_distance = {round(c.distance_m, 1): [] for c in route.checkpoints}
    for c in route.checkpoints:
        by_distance[round(c.distance_m, 1)].append(c)
    lat, lon = route.lat, route.lon
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROUTE_COLUMNS)
    plan = route.plan
    common = (
        plan.stage,
        plan.stage_date.isoformat(),
        plan.kind,
        route.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        plan.start_town,
        plan.finish_town,
    )
    point = 0
    for i, distance in enumerate(route.distance_m):
        here = by_distance.get(round(float(distance), 1)) or [None]
        for checkpoint in here:
            writer.writerow(
                (
                    *common,
                    point,
                    f"{lat[i]:.6f}",
                    f"{lon[i]:.6f}",
                    f"{route.altitude_m[i]:.1f}",
                    f"{distance:.1f}",
                    checkpoint.name if checkpoint else "",
                    checkpoint.kind if checkpoint else "",
                    (checkpoint.climb or "") if checkpoint else "",
                    (checkpoint.category or "") if checkpoint else "",
                )
            )
            point += 1
    return out.getvalue().encode("utf-8")
