"""silver.people and silver.workouts follow their inputs' versions: skipped when nothing they read changed,
rebuilt after a crash between an input's MERGE and theirs, and rebuilt when the people settings change."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse import faults
from lakehouse.bronze.entities import STRAVA_ACTIVITIES
from lakehouse.bronze.loader import load_entity
from lakehouse.config import Person, Settings
from lakehouse.landing import LandingZone
from lakehouse.silver.run import run_silver
from lakehouse.tables import Tables, read_table


class Killed(BaseException):
    """The run stopped dead at a crash point."""


def activity(activity_id: int, start: str) -> dict[str, object]:
    return {
        "id": activity_id, "athlete": {"id": 77}, "name": f"Run {activity_id}", "distance": 5000.0,
        "moving_time": 1500, "elapsed_time": 1550, "sport_type": "Run", "type": "Run",
        "start_date": start, "start_date_local": start, "kudos_count": 1,
    }  # fmt: skip


def workout_ids(spark: SparkSession, settings: Settings) -> list[str]:
    rows = read_table(spark, Tables(settings).ref("silver", "workouts")).select("workout_id").collect()
    return sorted(r[0] for r in rows)


def silver_tables(results: list) -> list[str]:
    """The silver tables a run built (those with rows in or a note other than a skip)."""
    return [r.table for r in results if r.rows_in]


def test_people_and_workouts_skip_when_unchanged_and_catch_up_after_a_crash(
    spark: SparkSession, settings: Settings, landing: LandingZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(settings, people=(Person(id="ana", strava_athlete_id=77, timezone="UTC"),))
    landing.write_json_month("strava", "activities", "2024-05", "r1", [activity(1, "2024-05-01T06:00:00Z")])
    load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    first = run_silver(spark, settings, "r1")
    assert {"people", "workouts"} <= {r.table for r in first}
    assert workout_ids(spark, settings) == ["strava:1"]

    # Nothing new: neither derived table is built again (people says so, workouts is not in the summary).
    again = run_silver(spark, settings, "r2")
    people = next(r for r in again if r.table == "people")
    assert people.rows_in == 0 and people.note.startswith("unchanged")
    assert "workouts" not in {r.table for r in again}

    # A new activity is MERGEd into silver.strava_activities, then the run dies before silver.workouts.
    landing.write_json_month("strava", "activities", "2024-06", "r3", [activity(2, "2024-06-01T06:00:00Z")])
    load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r3")

    def kill() -> None:
        raise Killed

    monkeypatch.setenv(faults.CRASH_ENV, "silver.before_workouts_merge:1")
    monkeypatch.setattr(faults, "kill_now", kill)
    monkeypatch.setattr(faults, "_hits", {})
    with pytest.raises(Killed):
        run_silver(spark, settings, "r3")
    monkeypatch.delenv(faults.CRASH_ENV)
    assert workout_ids(spark, settings) == ["strava:1"]  # the crash left it behind

    # The re-run finds no new bronze batch for Strava, yet silver.workouts catches up: its input moved on.
    rerun = run_silver(spark, settings, "r4")
    assert silver_tables(rerun) == ["workouts"]
    assert workout_ids(spark, settings) == ["strava:1", "strava:2"]

    # A changed people file (Ana's maximum heart rate) rebuilds silver.people, with no new data at all.
    changed = replace(settings, people=(Person(id="ana", strava_athlete_id=77, timezone="UTC", hr_max=201.0),))
    after = run_silver(spark, changed, "r5")
    people = next(r for r in after if r.table == "people")
    assert (people.rows_in, people.updated) == (1, 1)
    hr_max = read_table(spark, Tables(changed).ref("silver", "people")).select("hr_max").first()[0]
    assert hr_max == 201.0


def test_people_rescans_only_the_inputs_that_changed_and_still_finds_every_identity(
    spark: SparkSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.silver import run as silver_run
    from lakehouse.tables import append

    settings = replace(settings, people=(
        Person(id="ana", strava_athlete_id=77, timezone="UTC"),
        Person(id="bo", fitbit_user_ids=("B1",), timezone="UTC"),
    ))  # fmt: skip
    tables = Tables(settings)
    strava_ref, intraday_ref = tables.ref("silver", "strava_activities"), tables.ref("silver", "fitbit_intraday")
    append(spark.createDataFrame([(77,), (88,)], "athlete_id long"), strava_ref)
    append(spark.createDataFrame([("B1",), ("C3",)], "user_id string"), intraday_ref)
    scanned: list[str] = []
    real = silver_run.identities

    def spy(frame: DataFrame, column: str) -> set:
        scanned.append(column)
        return real(frame, column)

    monkeypatch.setattr(silver_run, "identities", spy)

    def people_ids() -> list[str]:
        rows = read_table(spark, tables.ref("silver", "people")).select("person_id").collect()
        return sorted(r[0] for r in rows)

    silver_run.run_people(spark, settings, "r1")
    assert sorted(scanned) == ["athlete_id", "user_id"]  # the first build scans every input
    assert people_ids() == ["ana", "bo", "fitbit-C3", "strava-88"]

    # A new Strava athlete: Strava is scanned again, Fitbit (at the version the last build read) is not.
    scanned.clear()
    append(spark.createDataFrame([(99,)], "athlete_id long"), strava_ref)
    silver_run.run_people(spark, settings, "r2")
    assert scanned == ["athlete_id"]
    assert people_ids() == ["ana", "bo", "fitbit-C3", "strava-88", "strava-99"]

    # A new Fitbit user: now Fitbit is scanned, Strava is not.
    scanned.clear()
    append(spark.createDataFrame([("D4",)], "user_id string"), intraday_ref)
    silver_run.run_people(spark, settings, "r3")
    assert scanned == ["user_id"]
    assert people_ids() == ["ana", "bo", "fitbit-C3", "fitbit-D4", "strava-88", "strava-99"]

    # Other people settings: every input is scanned again (what was found under the old ones is not reused).
    scanned.clear()
    solo = replace(settings, people=(Person(id="ana", strava_athlete_id=77, timezone="UTC"),))
    silver_run.run_people(spark, solo, "r4")
    assert sorted(scanned) == ["athlete_id", "user_id"]
    assert people_ids() == ["ana"]  # the sole person takes every found id
