"""The record of the last good run (`lakehouse.runstate`): a run with nothing new stops before Spark starts, and
anything that could change a table - a landed file, a setting, the code, a commit - makes the next run run.

The first tests write Delta commit files by hand (a `_delta_log/<version>.json` with its `commitInfo`): no Spark.
The last runs the bronze stage for real and reads the commits back through Delta's own history.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse import runstate
from lakehouse.config import Person, Settings
from lakehouse.stages import run_stages
from lakehouse.tables import Tables, delta_table


@pytest.fixture
def lake(settings: Settings) -> Settings:
    """The test's lakehouse, with a landed file and its metastore's folder (as a run leaves them)."""
    land(settings, "strava/activities/month=2024-05/a.json", b'[{"id": 1}]')
    (Path(settings.tables_root) / "_metastore").mkdir(parents=True)
    return settings


def land(settings: Settings, key: str, data: bytes) -> Path:
    path = Path(settings.landing_root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def commit(settings: Settings, table: str, version: int, user_metadata: str | None) -> None:
    """A Delta commit file as a writer leaves it: protocol/metadata actions, then its commitInfo."""
    log = Path(settings.tables_root, table, "_delta_log")
    log.mkdir(parents=True, exist_ok=True)
    info: dict[str, object] = {"timestamp": 1764892800000 + version, "operation": "WRITE"}
    if user_metadata is not None:
        info["userMetadata"] = user_metadata
    actions = [{"add": {"path": f"part-{version}.parquet", "size": 10}}, {"commitInfo": info}]
    (log / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n", encoding="utf-8")


def good_run(settings: Settings, run_id: str, stages: tuple[str, ...] = ("bronze",)) -> bool:
    """A run that commits once to bronze/strava_activities and passes."""
    pending = runstate.begin(settings, stages, run_id)
    assert pending is not None
    newest = runstate.table_commits(settings).get("bronze/strava_activities", -1)
    commit(settings, "bronze/strava_activities", newest + 1, runstate.marker(run_id))
    return runstate.finish(pending)


def skips(settings: Settings, stages: tuple[str, ...] = ("bronze",)) -> bool:
    return runstate.check(settings, stages).skip


def test_a_good_run_is_recorded_and_a_run_of_its_stages_with_nothing_new_skips(lake: Settings) -> None:
    assert not skips(lake)  # nothing recorded yet
    assert good_run(lake, "r1", ("bronze", "silver"))
    verdict = runstate.check(lake, ("bronze",))
    assert verdict.skip and verdict.reason.startswith("nothing new since the good run r1 of ")
    assert "1 landed files" in verdict.reason and "1 tables unchanged" in verdict.reason
    assert skips(lake, ("bronze", "silver"))
    assert not skips(lake, ("bronze", "silver", "gold"))  # gold was not run then
    record = json.loads(Path(lake.tables_root, runstate.RECORD_KEY).read_text(encoding="utf-8"))
    assert record["tables"] == {"bronze/strava_activities": 0}
    assert record["stages"] == ["bronze", "silver"] and record["landing_files"] == 1


def test_a_landed_file_a_touched_file_a_setting_or_a_commit_makes_the_next_run_run(lake: Settings) -> None:
    assert good_run(lake, "r1")
    assert skips(lake)

    extra = land(lake, "fitbit/heart/b.json", b"{}")
    assert not skips(lake)
    extra.unlink()  # the landing zone is as the run saw it again
    assert skips(lake)

    landed = Path(lake.landing_root, "strava/activities/month=2024-05/a.json")
    seen = landed.stat().st_mtime_ns
    os.utime(landed, ns=(seen, seen + 1_000_000))  # same bytes, rewritten later: the run looks again
    assert not skips(lake)
    os.utime(landed, ns=(seen, seen))
    assert skips(lake)

    assert not skips(replace(lake, people=(Person(id="sam", timezone="Europe/Paris"),)))
    assert not skips(replace(lake, analytics=replace(lake.analytics, hr_max=200.0)))
    # How Spark runs does not change what the tables hold.
    assert skips(replace(lake, spark=replace(lake.spark, shuffle_partitions=3, driver_memory="1g")))

    commit(lake, "silver/strava_activities", 0, None)  # a table made by someone else
    assert not skips(lake)
    Path(lake.tables_root, "silver/strava_activities/_delta_log/00000000000000000000.json").unlink()
    assert skips(lake)
    commit(lake, "bronze/strava_activities", 1, runstate.marker("r1"))  # any commit since, even with our tag
    assert not skips(lake)


def test_a_commit_by_another_writer_during_the_run_is_not_recorded(lake: Settings) -> None:
    pending = runstate.begin(lake, ("bronze",), "r1")
    assert pending is not None
    commit(lake, "bronze/strava_activities", 0, runstate.marker("r1"))
    commit(lake, "bronze/strava_activities", 1, runstate.marker("r1"))
    commit(lake, "ops/model_registry", 0, "the dashboard")  # e.g. a model activated meanwhile
    assert not runstate.finish(pending)
    assert not Path(lake.tables_root, runstate.RECORD_KEY).exists()
    assert runstate.check(lake, ("bronze",)).reason == "no good run recorded"

    pending = runstate.begin(lake, ("bronze",), "r2")
    assert pending is not None
    commit(lake, "bronze/strava_activities", 2, None)  # a commit without a tag: not known to be the run's
    assert not runstate.finish(pending)
    assert good_run(lake, "r3")  # a run of its own commits only is recorded
    assert skips(lake)


def test_a_run_that_starts_removes_the_record_so_a_killed_run_leaves_none(lake: Settings) -> None:
    assert good_run(lake, "r1")
    assert runstate.begin(lake, ("bronze",), "r2") is not None  # then killed: no finish
    assert not Path(lake.tables_root, runstate.RECORD_KEY).exists()
    assert not skips(lake)


def test_no_skip_on_a_damaged_record_a_missing_metastore_or_tables_by_catalog_name(lake: Settings) -> None:
    assert good_run(lake, "r1")
    record = Path(lake.tables_root, runstate.RECORD_KEY)
    good = record.read_bytes()
    record.write_bytes(good[: len(good) // 2])
    assert runstate.check(lake, ("bronze",)).reason == "no good run recorded"
    record.write_bytes(good)
    assert skips(lake)

    (Path(lake.tables_root) / "_metastore").rmdir()
    assert "metastore" in runstate.check(lake, ("bronze",)).reason
    (Path(lake.tables_root) / "_metastore").mkdir()
    assert skips(lake)

    in_catalog = replace(lake, catalog="main")
    assert not runstate.supported(in_catalog) and runstate.begin(in_catalog, ("bronze",), "r2") is None
    assert not skips(in_catalog)


def test_a_code_change_makes_the_next_run_run(lake: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert good_run(lake, "r1")
    monkeypatch.setattr(runstate, "code_digest", lambda: "another version of the library")
    assert runstate.check(lake, ("bronze",)).reason == "the landing zone, the settings or the code changed"


ACTIVITY = {"id": 11, "athlete": {"id": 77}, "distance": 5000.0, "moving_time": 1500, "elapsed_time": 1600,
            "sport_type": "Run", "start_date": "2024-05-01T06:00:00Z", "kudos_count": 2}  # fmt: skip


def test_the_bronze_stage_tags_its_commits_and_a_run_with_nothing_new_starts_no_spark(
    spark: SparkSession, settings: Settings
) -> None:
    # Names from "elsewhere": this test's lakehouse has no metastore of its own (the session's is the test run's).
    lake = replace(settings, metastore=replace(settings.metastore, mode="external"))
    land(lake, "strava/activities/month=2024-05/a.json", json.dumps([ACTIVITY]).encode())
    sessions: list[Settings] = []

    def factory(wanted: Settings) -> SparkSession:
        sessions.append(wanted)
        return spark

    def run(run_id: str, **options: bool) -> list[tuple[str, str, int | None, str]]:
        rows = run_stages(lake, ("bronze",), run_id, with_race=False, spark_factory=factory, **options)
        return [(r.stage, r.table, r.rows_written, r.note) for r in rows if "skipped" not in r.note]

    assert run("r1") == [("bronze", "bronze.strava_activities", 1, "")]
    assert spark.conf.get(runstate.USER_METADATA, None) is None  # the session's own setting is back
    history = delta_table(spark, Tables(lake).ref("bronze", "strava_activities")).history()
    assert {r[0] for r in history.select("userMetadata").collect()} == {"lakehouse run r1"}

    (skipped,) = run("r2", skip_unchanged=True)
    assert skipped[:3] == ("-", "all stages", 0) and skipped[3].startswith("nothing new since the good run r1")
    assert len(sessions) == 1  # no session asked for

    assert run("r3", skip_unchanged=True, force=True)[0][:2] == ("bronze", "bronze.strava_activities")
    assert len(sessions) == 2  # --force always runs

    land(lake, "strava/activities/month=2024-06/b.json", json.dumps([{**ACTIVITY, "id": 12}]).encode())
    assert run("r4", skip_unchanged=True) == [("bronze", "bronze.strava_activities", 1, "")]
    assert len(sessions) == 3
    assert run("r5", skip_unchanged=True)[0][1] == "all stages"
    assert len(sessions) == 3
