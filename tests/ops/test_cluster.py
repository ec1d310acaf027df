"""The whole own-data pipeline (`jobs/run.py --env cluster`) on a real Spark standalone cluster on loopback.

A master and two workers (1 core, 1g each) from pyspark's own jars; `spark-submit.sh` submits the job in
client mode, so executors run in their own JVMs under the workers, with their own Python workers. The same
landing zone (a few real Strava pages, a real MapMyRun export, a real Fitbit day, a tiny race) is run again
in local mode in this process, on an identical copy; every Delta table of both lakehouses must hold the same
rows, apart from the columns that name a run, a time of loading or the lakehouse's own folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import run as run_job
from lakehouse.config import REPO_ROOT, load_settings
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.sources.mapmyrun import import_csv
from lakehouse.storage import LocalStore
from lakehouse_demo.cluster import StandaloneCluster, standalone_cluster
from lakehouse_demo.race.landing import RaceSpec, land_race

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not beside the checkout")
CASSETTE = REALDATA / "strava" / "all_athlete_activities.yml"
MAPMYRUN_EXPORT = REALDATA / "mapmyrun" / "Jam_workout_history_2021-01-09.csv"
FITBIT_DAY = REALDATA / "fitbit" / "2017-05-01_datadumpHeart.json"
STRAVA_SINCE = "2025-08-01"  # the recording's last three months (47 activities), one file a month
RACE = RaceSpec(seed=7, riders=4, stages=(3,), distance_scale=0.02, file_seconds=60, max_file_rows=100_000)
LAYERS = ("bronze", "silver", "gold", "ops")
SUBMIT_TIMEOUT_SECONDS = 600
# Columns that say when, or in which run, a row was written, or which Delta version it read: not what it holds.
RUN_COLUMNS = frozenset({
    "_ingested_at", "_ingest_date", "_batch_id", "batch_id", "run_id", "_run_id", "last_run_id", "last_bronze_batch",
    "ingested_at", "recorded_at", "started_at", "finished_at", "trained_at", "built_at", "checked_at", "activated_at",
    "quarantined_at", "merged_at", "updated_at", "observed_at", "model_path", "model_version", "models_version",
    "data_version", "source_version", "silver_versions", "version",
})  # fmt: skip


def recorded_activities() -> list[dict]:
    """Every activity of the recorded Strava pages (one athlete's real list)."""
    interactions = yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))["http_interactions"]
    return [a for i in interactions for a in json.loads(i["response"]["body"]["string"])]


def land_small_set(landing: LandingZone, activities: list[dict]) -> None:
    """Real Strava activities of a few months, a real MapMyRun export and Fitbit day, a tiny race."""
    run_id = new_run_id()
    recent = [a for a in activities if a["start_date"] >= STRAVA_SINCE]
    landing.write_json_by_month("strava", "activities", run_id, recent, lambda a: a["start_date"][:7])
    import_csv(MAPMYRUN_EXPORT, landing, run_id)
    response = json.loads(FITBIT_DAY.read_text(encoding="utf-8"))
    envelope = {"user_id": "REAL01", "resource": "heart", "date": "2017-05-01", "detail_level": "1sec",
                "response": response}  # fmt: skip
    landing.write_json_month("fitbit", "heart", "2017-05", run_id, [envelope])
    land_race(landing, RACE)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StandaloneCluster]:
    """A master and two workers (1 core, 1g each) on 127.0.0.1, stopped with their executors at the end."""
    with standalone_cluster(tmp_path / "cluster", workers=2, cores=1, memory="1g", python=sys.executable) as running:
        yield running


def people_file(folder: Path, athlete: int) -> Path:
    """One person across the sources: the recorded Strava athlete, the MapMyRun export and the Fitbit user."""
    path = folder / "people.toml"
    path.write_text(f'[[person]]\nid = "jam"\nstrava_athlete_id = {athlete}\nfitbit_user_id = "REAL01"\n'
                    'mapmyrun_files = ["*"]\nevent_date = "2020-06-01"\n', encoding="utf-8")  # fmt: skip
    return path


def lake_env(root: Path, people: Path) -> dict[str, str]:
    """The environment of a run on the lakehouse at `root` with no API credentials (nothing to pull)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LAKEHOUSE_", "STRAVA_", "GOOGLE_HEALTH_", "FITBIT_", "PYSPARK_GATEWAY"))}  # fmt: skip
    return {**env, "LAKEHOUSE_ROOT": str(root), "LAKEHOUSE_PEOPLE": str(people),
            "LAKEHOUSE_LOG_DIR": str(root / "logs")}  # fmt: skip


def delta_tables(root: Path) -> set[str]:
    """`layer/name` of every Delta table under a lakehouse's tables folder."""
    return {f"{layer}/{log.parent.name}" for layer in LAYERS for log in (root / "tables" / layer).glob("*/_delta_log")}


def comparable(df: DataFrame, roots: tuple[Path, ...]) -> DataFrame:
    """The table as plain sortable columns in name order: no run / load-time columns, the lakehouses' folders
    masked in strings, doubles rounded to 6 decimals (for display: the row hash still compares their bits),
    nested values as JSON."""
    # `_row_hash` is a SHA-256 of a row's business columns: compared as it is, it proves their exact bits
    # agree - unless a run column left out above (a model's path or data version) is one of them.
    drop = set(RUN_COLUMNS)
    if any(f.name in RUN_COLUMNS and not f.name.startswith("_") for f in df.schema.fields):
        drop.add("_row_hash")
    columns = []
    for f in sorted((f for f in df.schema.fields if f.name not in drop), key=lambda f: f.name):
        column = F.col(f"`{f.name}`")
        if isinstance(f.dataType, T.StringType):
            for root in roots:
                column = F.replace(column, F.lit(str(root)), F.lit("<root>"))
        elif isinstance(f.dataType, T.DoubleType | T.FloatType):
            column = F.round(column, 6)
        elif isinstance(f.dataType, T.StructType | T.ArrayType | T.MapType):
            column = F.to_json(column)
        columns.append(column.alias(f.name))
    return df.select(*columns)


@needs_realdata
def test_the_pipeline_on_a_standalone_cluster_builds_the_same_tables_as_local_mode(
    spark: SparkSession, tmp_path: Path, cluster: StandaloneCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, on_cluster, local = tmp_path / "template", tmp_path / "on-cluster", tmp_path / "local"
    activities = recorded_activities()
    (athlete,) = {a["athlete"]["id"] for a in activities}
    land_small_set(LandingZone(LocalStore(str(template / "landing"))), activities)
    for root in (on_cluster, local):
        shutil.copytree(template / "landing", root / "landing")
    people = people_file(tmp_path, athlete)

    submit_env = {
        **lake_env(on_cluster, people),
        "SPARK_MASTER": cluster.master_url,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_SUBMIT_EXTRA": "--driver-memory 1g --conf spark.executor.memory=1g --conf spark.executor.cores=1",
    }
    submit_log = tmp_path / "spark-submit.log"
    with submit_log.open("wb") as out:
        submitted = subprocess.Popen(["./spark-submit.sh", "jobs/run.py", "--env", "cluster"], cwd=REPO_ROOT,
                                     env=submit_env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        # Meanwhile the same run in local mode, in this process on the test run's session.
        for name, value in lake_env(local, people).items():
            if name.startswith("LAKEHOUSE_"):
                monkeypatch.setenv(name, value)
        for name in [n for n in os.environ if n.startswith(("STRAVA_", "GOOGLE_HEALTH_", "LAKEHOUSE_ENV"))]:
            monkeypatch.delenv(name)
        assert run_job.main(["--env", "cluster"]) == 0
        submitted.wait(timeout=SUBMIT_TIMEOUT_SECONDS)
    finally:
        if submitted.poll() is None:
            submitted.kill()
            submitted.wait()
        stop_server(local_metastore(load_settings("cluster", environ={"LAKEHOUSE_ROOT": str(on_cluster)})))
    log = submit_log.read_text(encoding="utf-8", errors="replace")
    assert submitted.returncode == 0, log[-4000:]

    # The executors ran remotely: the master ran the app, and an executor under each worker (its own JVM,
    # its log in the worker's folder) finished tasks. A standalone driver runs no tasks itself, and bronze parses
    # every landed record in a Python UDF (lakehouse/bronze/loader.py): the cluster's bronze rows were parsed
    # by Python workers beside those executors.
    # The only application this cluster ever ran (named by the session factory's `[spark] app_name`); the master
    # may list it as completed a moment after the driver has exited.
    deadline = time.monotonic() + 60
    while not (apps := [a for a in cluster.state()["completedapps"] if a["name"].startswith("fitness-lakehouse")]):
        assert time.monotonic() < deadline, cluster.state()
        time.sleep(1)
    (app,) = apps
    for work_dir in cluster.worker_dirs:
        logs = [p.read_text(encoding="utf-8", errors="replace") for p in (work_dir / app["id"]).glob("*/stderr")]
        assert any("Executor: Finished task" in text for text in logs), work_dir

    names = delta_tables(on_cluster)
    assert names == delta_tables(local)
    filled = {"bronze/strava_activities", "silver/workouts", "gold/workout_classification", "gold/fitbit_daily_summary",
              "silver/race_telemetry", "ops/bronze_load_ledger"}  # fmt: skip
    assert filled <= names
    roots = (on_cluster, local)
    for name in sorted(names):
        actual = comparable(spark.read.format("delta").load(str(on_cluster / "tables" / name)), roots)
        expected = comparable(spark.read.format("delta").load(str(local / "tables" / name)), roots)
        assert actual.count() > 0 or name not in filled, name  # a quarantine may well be empty: these may not
        if not actual.columns:  # only run columns (e.g. ops.race_gold_builds): as many rows on both
            assert actual.count() == expected.count(), name
            continue
        assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
