"""The real recorded Strava pages, served as recorded, ingested into silver: all 1,132 activities, each once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.entities import STRAVA_ACTIVITIES
from lakehouse.bronze.loader import load_entity
from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.silver.run import SPECS, run_silver_table
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table
from lakehouse_demo.standins.strava import StravaStandin

CASSETTE = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "strava" / "all_athlete_activities.yml"


def recorded_ids() -> list[int]:
    """Activity ids straight from the cassette's response bodies (independent of the stand-in's reader)."""
    interactions = yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))["http_interactions"]
    ids: list[int] = []
    for interaction in interactions:
        ids.extend(a["id"] for a in json.loads(interaction["response"]["body"]["string"]))
    return ids


@pytest.mark.skipif(not CASSETTE.is_file(), reason="../shared/realdata is not beside the checkout")
def test_recorded_pages_land_and_merge_every_activity_once(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    expected = recorded_ids()
    assert len(expected) == 1132 and len(set(expected)) == 1132

    clock = ManualClock(datetime(2025, 10, 20, 21, 25, tzinfo=UTC))
    landing = LandingZone(LocalStore(settings.landing_root))
    with StravaStandin.from_recording(CASSETTE, clock=clock) as standin:
        strava = StravaSettings(
            client_id=standin.client_id,
            client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token),
            token_file=tmp_path / "token.json",
            base_url=standin.base_url,
            per_page=30,
        )
        report = sync_strava(strava, landing, clock=clock, progress=None)
    assert report.completed, report.message

    loaded = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="recorded")
    assert loaded.records_quarantined == 0
    spec = next(s for s in SPECS if s.name == "strava_activities")
    run_silver_table(spark, settings, spec, "recorded")
    silver = read_table(spark, Tables(settings).ref("silver", "strava_activities"))

    ids = [r["activity_id"] for r in silver.select("activity_id").collect()]
    assert sorted(ids) == sorted(expected)
    assert silver.groupBy("athlete_id", "activity_id").count().where(F.col("count") > 1).count() == 0
    # Real quirks survived typing: [] lat/lng became nulls, TrailRun kept apart from its Run type.
    assert silver.where(F.col("start_lat").isNull()).count() > 0
    assert silver.where((F.col("sport_type") == "TrailRun") & (F.col("activity_type") == "Run")).count() == 6
