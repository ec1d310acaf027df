"""The one story every sample source tells: a runner, then a dog ("the Choco effect"), then daily walks.

Shared by the Strava and MapMyRun generators so both sources agree on paces, distances and frequencies.
Before `dog_era_start` the athlete trains about 4 times a month, almost always running (8-12 min/mi).
From that date short slow dog walks (1.5-3 km at 20-28 min/mi, 20-35 minutes) come on about every other
day and real runs continue, a little less often: about 4-5x more workouts a month, most of them walks.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

METRES_PER_MILE = 1609.344
KM_PER_MILE = METRES_PER_MILE / 1000

# Bounds the story promises (and tests check); draws stay inside them with a margin.
RUN_PACE_MIN_PER_MILE = (8.0, 12.0)
WALK_PACE_MIN_PER_MILE = (20.0, 28.0)
DOG_WALK_KM = (1.5, 3.0)
DOG_WALK_MINUTES = (20.0, 35.0)

_RUN_PACE_DRAW = (8.2, 11.6)
_DOG_WALK_PACE_DRAW = (20.6, 26.8)
_PRE_ERA_RUN_PACE = (9.0, 0.6)  # mean, sd in min/mi ("~9 min/mi before Choco")
_DOG_ERA_RUN_PACE = (9.6, 0.7)


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """A `random.Random` for one stream of the sample (string seeds hash the same in every process)."""
    return random.Random(":".join(str(p) for p in ("lakehouse-sample", seed, *parts)))


def days(start: date, end: date) -> list[date]:
    """Every date from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def draw_run_pace(rng: random.Random, dog_era: bool, slower_by: float = 0.0) -> float:
    """A running pace in min/mi, always inside `RUN_PACE_MIN_PER_MILE` (drawn from `_RUN_PACE_DRAW`)."""
    mean, sd = _DOG_ERA_RUN_PACE if dog_era else _PRE_ERA_RUN_PACE
    low, high = _RUN_PACE_DRAW
    return min(high, max(low, rng.gauss(mean + slower_by, sd)))


def draw_dog_walk(rng: random.Random) -> tuple[float, float]:
    """A dog walk as (metres, seconds): 1.5-3 km at 20.6-26.8 min/mi, aimed at 20-35 minutes."""
    pace = rng.uniform(*_DOG_WALK_PACE_DRAW)
    minutes = rng.uniform(*DOG_WALK_MINUTES)
    km_low, km_high = DOG_WALK_KM
    km = min(km_high - 0.02, max(km_low + 0.02, minutes / pace * KM_PER_MILE))
    return km * 1000, km / KM_PER_MILE * pace * 60
