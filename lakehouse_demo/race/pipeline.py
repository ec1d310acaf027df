"""The race part of the main job (`jobs.pipeline`): a small race, a few stages with every rider.

Which stages and how long they are come from `[race] pipeline_stages` and `pipeline_distance_scale`
(default: a flat stage, a time trial and a mountain stage at a tenth of their length), so the demo
lakehouse has every race table without making the main job much slower. The full Tour is `jobs.race`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.race import run
from lakehouse.race.run import StepResult
from lakehouse_demo.race.landing import RaceSpec, land_summary


def pipeline_spec(settings: Settings) -> RaceSpec:
    """The small race of the main job."""
    race = settings.race
    return RaceSpec.from_settings(race, stages=race.pipeline_stages, scale=race.pipeline_distance_scale)


def race_steps(
    settings: Settings,
    stages: Sequence[str],
    run_id: str,
    spark_factory: Callable[[], SparkSession],
    progress: Callable[[str], None] | None = None,
) -> list[StepResult]:
    """Run the main job's `stages` (land, bronze, silver, gold) for the small race."""
    if not settings.race.pipeline_stages:
        return []
    out: list[StepResult] = []
    if "land" in stages:
        if progress:
            progress(f"race: landing stages {', '.join(map(str, settings.race.pipeline_stages))}")
        out += land_summary(settings, pipeline_spec(settings), progress)
    if not any(s in stages for s in ("bronze", "silver", "gold")):
        return out
    spark = spark_factory()
    if "bronze" in stages:
        if progress:
            progress("race: bronze")
        out += run.bronze(spark, settings, run_id)
    if "silver" in stages:
        if progress:
            progress("race: silver")
        out += run.silver(spark, settings, run_id)
    if "gold" in stages:
        if progress:
            progress("race: gold")
        out += run.gold(spark, settings, run_id)
    return out
