"""A small race for the race tests: 4 riders, a flat stage and a time trial at 2 % of their length.

Loading reference files (routes, riders, start lists) through the shared loader takes a while, so it is
done once per session into a template lakehouse; each test gets its own copy of it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.race import run, stream
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table
from lakehouse_demo.race.landing import RaceSpec, land_reference, land_telemetry

RACE = RaceSpec(seed=7, riders=4, stages=(3, 6), distance_scale=0.02, file_seconds=60, max_file_rows=100_000)
CALM_BATCHES = stream.StreamOptions(files_per_trigger=5)  # the race's 15 telemetry files in three micro-batches
LINEAGE = ("_source_file", "_ingested_at")


def rows(df: DataFrame, leave_out: tuple[str, ...] = LINEAGE) -> list[tuple[object, ...]]:
    """Every row, lineage columns left out, sorted: for exact comparison of whole tables."""
    keep = [c for c in df.columns if c not in leave_out]
    return sorted((tuple(r) for r in df.select(*keep).collect()), key=repr)


def table(spark: SparkSession, settings: Settings, layer: str, name: str) -> DataFrame:
    """A table of the lakehouse `settings` point at."""
    return read_table(spark, Tables(settings).ref(layer, name))


def copy_of(settings: Settings, root: Path) -> Settings:
    """A copy of the lakehouse (landing zone and tables) under `root`, and its settings."""
    copy = settings.with_roots(str(root / "landing"), str(root / "tables"))
    shutil.copytree(settings.landing_root, copy.landing_root)
    shutil.copytree(settings.tables_root, copy.tables_root)
    return copy


@pytest.fixture(scope="session")
def race_template(spark: SparkSession, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference files landed and loaded to silver; the race's telemetry landed beside, not loaded."""
    root = tmp_path_factory.mktemp("race-template")
    settings = base_settings.with_roots(str(root / "landing"), str(root / "tables"))
    land_reference(LandingZone(LocalStore(settings.landing_root)), RACE)
    land_telemetry(LandingZone(LocalStore(str(root / "telemetry"))), RACE)
    run.bronze_reference(spark, settings, "template")
    run.silver_reference(spark, settings, "template")
    return root


def copy_lake(template: Path, settings: Settings, with_telemetry: bool) -> Settings:
    """Copy the template into `settings`' roots (optionally with the race's telemetry landed)."""
    shutil.copytree(template / "landing", settings.landing_root)
    shutil.copytree(template / "tables", settings.tables_root)
    if with_telemetry:
        shutil.copytree(template / "telemetry", settings.landing_root, dirs_exist_ok=True)
    return settings


@dataclass(frozen=True)
class Streamed:
    """A lakehouse the race's telemetry was streamed into, calmly: read it, or copy it (`copy_of`) to change it."""

    settings: Settings
    micro_batches: int  # those that had landed lines


@pytest.fixture(scope="session")
def streamed_race(
    spark: SparkSession, race_template: Path, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Streamed:
    """The template with the race's telemetry landed and streamed (availableNow, `CALM_BATCHES`), no gold rebuilt."""
    root = tmp_path_factory.mktemp("race-streamed")
    settings = base_settings.with_roots(str(root / "landing"), str(root / "tables"))
    copy_lake(race_template, settings, with_telemetry=True)
    log = stream.run_available_now(spark, settings, options=CALM_BATCHES)
    return Streamed(settings, len([e for e in log.events if e["query"] == stream.LIVE_QUERY and e["input_rows"]]))


@pytest.fixture
def race_lake(race_template: Path, settings: Settings) -> Settings:
    """This test's lakehouse: reference tables loaded, the race's telemetry landed but not loaded."""
    return copy_lake(race_template, settings, with_telemetry=True)


@pytest.fixture
def empty_race_lake(race_template: Path, settings: Settings) -> Settings:
    """This test's lakehouse: reference tables loaded, no telemetry landed."""
    return copy_lake(race_template, settings, with_telemetry=False)
