"""The own-data run (`jobs.run`, conf/local.toml) on lakehouses fed by one real source each, or none.

Each runs every stage with exit 0 and builds the tables its source allows; what it cannot build is skipped
with a note. Expected counts are read from the real files independently of the code under test.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import ingest as ingest_job
from jobs import run as run_job
from lakehouse.config import Settings, load_settings
from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table, table_exists
from lakehouse_demo.standins.strava import StravaStandin

pytestmark = pytest.mark.e2e

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
CASSETTE = REALDATA / "strava" / "all_athlete_activities.yml"
needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not beside the checkout")
WORKOUT_GOLD = ("workout_classification", "consistency_weekly", "consistency_monthly", "workout_anomalies",
                "trends_monthly", "trend_fits", "streaks", "eddington", "training_load_daily")  # fmt: skip


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark: SparkSession) -> Iterator[Callable[[str], Settings]]:
    """Own-data settings rooted in this test's folder; the argument is the people file's text."""
    del spark  # the jobs reuse the test run's session (`get_spark` returns the active one)

    def make(people: str = "") -> Settings:
        (tmp_path / "people.toml").write_text(people, encoding="utf-8")
        monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
        monkeypatch.setenv("LAKEHOUSE_LOG_DIR", str(tmp_path / "logs"))
        monkeypatch.setenv("LAKEHOUSE_PEOPLE", str(tmp_path / "people.toml"))
        for name in ("LAKEHOUSE_ENV", "LAKEHOUSE_LANDING_ROOT", "LAKEHOUSE_TABLES_ROOT", "STRAVA_CLIENT_ID",
                     "STRAVA_CLIENT_SECRET", "STRAVA_REFRESH_TOKEN"):  # fmt: skip
            monkeypatch.delenv(name, raising=False)
        return load_settings("local")

    yield make


def run_all() -> int:
    return run_job.main(["--env", "local"])


def table(spark: SparkSession, settings: Settings, label: str):
    layer, name = label.split(".")
    return read_table(spark, Tables(settings).ref(layer, name))


def exists(spark: SparkSession, settings: Settings, label: str) -> bool:
    layer, name = label.split(".")
    return table_exists(spark, Tables(settings).ref(layer, name))


def test_an_empty_lakehouse_has_nothing_to_do(own, capsys: pytest.CaptureFixture[str]) -> None:
    own()
    assert run_all() == 0
    assert "nothing to do" in capsys.readouterr().err


@needs_realdata
def test_strava_only_from_the_recorded_pages(own, spark: SparkSession, tmp_path: Path, capsys) -> None:
    settings = own()  # no people file: the athlete is their own person
    interactions = yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))["http_interactions"]
    recorded = [a for i in interactions for a in json.loads(i["response"]["body"]["string"])]
    athletes = {a["athlete"]["id"] for a in recorded}
    clock = ManualClock(datetime(2025, 10, 20, 21, 25, tzinfo=UTC))
    with StravaStandin.from_recording(CASSETTE, clock=clock) as standin:
        strava = StravaSettings(client_id=standin.client_id, client_secret=Secret(standin.client_secret),
                                refresh_token=Secret(standin.refresh_token), token_file=tmp_path / "token.json",
                                base_url=standin.base_url, per_page=30)  # fmt: skip
        assert sync_strava(strava, LandingZone(LocalStore(settings.landing_root)), clock=clock, progress=None).completed

    assert run_all() == 0
    out = capsys.readouterr().out
    activities = table(spark, settings, "silver.strava_activities")
    assert activities.count() == len(recorded) == len({a["id"] for a in recorded})
    (athlete,) = athletes
    people = [tuple(r) for r in table(spark, settings, "silver.people").select("person_id", "configured").collect()]
    assert people == [(f"strava-{athlete}", False)]
    workouts = table(spark, settings, "silver.workouts")
    assert workouts.count() == len(recorded)
    assert workouts.where(F.col("person_id") != f"strava-{athlete}").count() == 0
    for name in (*WORKOUT_GOLD, "activity_summary_monthly", "kudos_weekly", "kudos_predictions"):
        assert exists(spark, settings, f"gold.{name}"), name
        assert table(spark, settings, f"gold.{name}").count() > 0, name
    assert not exists(spark, settings, "gold.fitbit_daily_summary")
    assert re.search(r"gold\.fitbit_daily_summary .*skipped: no Fitbit", out)
    assert re.search(r"race .*skipped: no race files landed", out)


@needs_realdata
def test_mapmyrun_only_from_a_real_export(own, spark: SparkSession) -> None:
    export = REALDATA / "mapmyrun" / "JD_workout_history_2021-01-31.csv"
    settings = own('[[person]]\nid = "jd"\nmapmyrun_files = ["JD_*"]\nevent_date = "2020-06-01"\n'
                   'timezone = "Europe/London"\n[[person]]\nid = "jam"\nmapmyrun_files = ["Jam_*"]\n')  # fmt: skip
    with export.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The quality gate quarantines a workout without a positive duration (rule duration_positive).
    links = {row["Link"] for row in rows if float(row["Workout Time (seconds)"] or 0) > 0}
    zero_duration = {row["Link"] for row in rows} - links
    assert ingest_job.main(["--env", "local", "mapmyrun", str(export)]) == 0
    assert run_all() == 0

    workouts = table(spark, settings, "silver.workouts")
    assert workouts.count() == len(links)
    assert {r[0] for r in workouts.select("person_id").distinct().collect()} == {"jd"}
    quarantined = table(spark, settings, "ops.silver_quarantine").where(F.col("rule") == "duration_positive")
    assert quarantined.count() == len(zero_duration)
    for name in WORKOUT_GOLD:
        assert exists(spark, settings, f"gold.{name}"), name
    labels = table(spark, settings, "gold.workout_classification")
    assert labels.count() > 0 and labels.where(F.col("person_id") != "jd").count() == 0
    before_after = table(spark, settings, "gold.before_after").select("person_id", "event_date").distinct()
    assert [(r[0], str(r[1])) for r in before_after.collect()] == [("jd", "2020-06-01")]
    assert not exists(spark, settings, "gold.activity_summary_monthly")  # Strava's own table


@needs_realdata
def test_fitbit_only_from_real_days(own, spark: SparkSession) -> None:
    settings = own()
    landing = LandingZone(LocalStore(settings.landing_root))
    points: set[tuple[str, str]] = set()
    envelopes = []
    for day in ("2017-05-01", "2017-05-02", "2017-05-03"):
        response = json.loads((REALDATA / "fitbit" / f"{day}_datadumpHeart.json").read_text(encoding="utf-8"))
        points |= {(day, p["time"]) for p in response["activities-heart-intraday"]["dataset"]}
        envelopes.append({"user_id": "REAL01", "resource": "heart", "date": day, "detail_level": "1sec",
                          "response": response})  # fmt: skip
    landing.write_json_month("fitbit", "heart", "2017-05", "real-days", envelopes)
    assert run_all() == 0

    intraday = table(spark, settings, "silver.fitbit_intraday")
    assert intraday.count() == len(points)
    assert [tuple(r) for r in table(spark, settings, "silver.people").select("person_id").collect()] == [
        ("fitbit-REAL01",)
    ]
    summary = table(spark, settings, "gold.fitbit_daily_summary")
    assert sorted(str(r[0]) for r in summary.select("date").distinct().collect()) == [
        "2017-05-01", "2017-05-02", "2017-05-03"
    ]  # fmt: skip
    assert exists(spark, settings, "gold.hr_zone_minutes_daily")
    assert not exists(spark, settings, "silver.workouts")
    assert not exists(spark, settings, "gold.workout_classification")
