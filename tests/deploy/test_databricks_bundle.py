"""The Databricks bundle: every job validated strictly by Databricks' own bundle classes (`databricks-bundles`
rejects unknown fields), the task graph and schedule as intended, no secret in the bundle, and every task's
entry point present in the wheel that `pip wheel` builds from this checkout."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.bundles.jobs import Job

REPO = Path(__file__).resolve().parents[2]
BUNDLE = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
# The top-level keys a bundle configuration may have (Databricks' bundle reference).
BUNDLE_KEYS = {"bundle", "include", "variables", "artifacts", "targets", "workspace", "resources", "sync",
               "permissions", "run_as", "presets", "experimental", "python", "scripts"}  # fmt: skip


def _resources() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = {}
    for pattern in BUNDLE["include"]:
        for path in sorted(REPO.glob(pattern)):
            jobs.update(yaml.safe_load(path.read_text(encoding="utf-8"))["resources"]["jobs"])
    return jobs


JOBS = _resources()


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: _merge(base.get(k), override[k]) if k in base else override[k] for k in override} | {
            k: v for k, v in base.items() if k not in override
        }
    return override


def test_the_bundle_has_dev_and_prod_and_only_known_keys() -> None:
    assert set(BUNDLE) <= BUNDLE_KEYS
    assert BUNDLE["bundle"]["name"] == "fitness-lakehouse"
    assert {name: t["mode"] for name, t in BUNDLE["targets"].items()} == {"dev": "development", "prod": "production"}
    assert JOBS, "no job resources found through `include`"


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_job_is_valid_for_databricks_in_every_target(target: str) -> None:
    overrides = BUNDLE["targets"][target].get("resources", {}).get("jobs", {})
    for key, job in JOBS.items():
        merged = _merge(job, overrides.get(key, {}))
        parsed = Job.from_dict(merged)  # raises on an unknown or misspelt field anywhere in the job
        assert parsed.as_dict() == merged  # nothing dropped or coerced on the way


def test_tasks_run_ingest_bronze_silver_gold_and_race_with_retries_on_the_job_cluster() -> None:
    job = JOBS["lakehouse_weekly"]
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert {k: [d["task_key"] for d in t.get("depends_on", [])] for k, t in tasks.items()} == {
        "ingest": [],
        "bronze": ["ingest"],
        "silver": ["bronze"],
        "gold": ["silver"],
        "race": ["ingest"],
    }
    clusters = {c["job_cluster_key"] for c in job["job_clusters"]}
    for key, task in tasks.items():
        assert task["job_cluster_key"] in clusters
        assert task["max_retries"] >= 1
        assert task["python_wheel_task"]["parameters"] == ["--stages", key]


def test_weekly_schedule_paused_in_dev_running_in_prod() -> None:
    job = JOBS["lakehouse_weekly"]
    cron = job["schedule"]["quartz_cron_expression"].split()
    # Quartz: seconds minutes hours day-of-month month day-of-week: one fixed weekday, any month.
    assert cron[3] == "?" and cron[4] == "*" and re.fullmatch(r"MON|TUE|WED|THU|FRI|SAT|SUN|[1-7]", cron[5])
    assert job["schedule"]["pause_status"] == "PAUSED"
    prod = BUNDLE["targets"]["prod"]["resources"]["jobs"]["lakehouse_weekly"]
    assert prod["schedule"]["pause_status"] == "UNPAUSED"


def test_credentials_come_only_from_the_secret_scope() -> None:
    env = JOBS["lakehouse_weekly"]["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    secret_like = {k: v for k, v in env.items() if re.search(r"SECRET|TOKEN|CLIENT_ID|WEBHOOK", k)}
    assert set(secret_like) >= {"STRAVA_CLIENT_SECRET", "STRAVA_REFRESH_TOKEN", "FITBIT_CLIENT_SECRET"}
    for name, value in secret_like.items():
        assert re.fullmatch(r"\{\{secrets/\$\{var\.secret_scope\}/[a-z_]+\}\}", value), name


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("fitness_lakehouse-*.whl")
    return built


def test_every_task_entry_point_exists_in_the_built_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        (entry_points_txt,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        parser = ConfigParser()
        parser.read_string(whl.read(entry_points_txt).decode())
        scripts = dict(parser["console_scripts"])
        for task in JOBS["lakehouse_weekly"]["tasks"]:
            wheel_task = task["python_wheel_task"]
            assert wheel.name.startswith(wheel_task["package_name"] + "-")
            target = scripts.get(wheel_task["entry_point"])
            assert target, f"{task['task_key']}: no console script {wheel_task['entry_point']!r} in {wheel.name}"
            module, function = target.split(":")
            source = module.replace(".", "/") + ".py"
            assert source in names, f"{source} is not in the wheel"
            assert re.search(rf"^def {function}\(", whl.read(source).decode(), re.MULTILINE), target
