"""The race part of the main job (`jobs.pipeline`): a small race, a few stages with every rider.

Which stages and how long they are come from `[race] pipeline_stages` and `pipeline_distance_scale`
(default: a flat stage, a time trial and a mountain stage at a tenth of their length), so the demo
lakehouse has every race table without making the main job much slower. The full Tour is `jobs.race`.
"""

from __future__ import annotations

from lakehouse.config import Settings
from lakehouse_demo.race.landing import RaceSpec


def pipeline_spec(settings: Settings) -> RaceSpec:
    """The small race of the main job."""
    race = settings.race
    return RaceSpec.from_settings(race, stages=race.pipeline_stages, scale=race.pipeline_distance_scale)
