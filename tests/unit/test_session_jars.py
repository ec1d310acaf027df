"""Where a session's jars go: with a `local` master on the driver's class path only (the executor is in the same
JVM), never copied per session; with executors elsewhere (a cluster master) also shipped as `spark.jars`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pyspark import SparkFiles
from pyspark.sql import SparkSession

from lakehouse.config import REPO_ROOT, Settings, load_settings
from lakehouse.spark import in_one_jvm, local_conf

JARS = ["/jars/delta-spark.jar", "/jars/bundle-2.35.jar", "/jars/derbynet-10.16.jar", "/jars/derbyclient-10.16.jar"]


@pytest.mark.parametrize(
    ("master", "one_jvm"),
    [("local", True), ("local[2]", True), ("local[*]", True), ("local[4, 2]", True),
     ("local-cluster[2, 1, 1024]", False), ("spark://host:7077", False), ("yarn", False)],
)  # fmt: skip
def test_which_masters_run_the_executor_in_the_drivers_jvm(master: str, one_jvm: bool) -> None:
    assert in_one_jvm(master) is one_jvm


def settings_with_master(tmp_path: Path, master: str) -> Settings:
    (tmp_path / "mine.toml").write_text(f'[paths]\nroot = "{tmp_path}"\n\n[spark]\nmaster = "{master}"\n')
    return load_settings("mine", tmp_path, environ={})


def test_a_local_session_has_every_jar_on_its_class_path_and_ships_none(tmp_path: Path) -> None:
    conf = local_conf(settings_with_master(tmp_path, "local[2]"), JARS, class_archive=False)
    assert "spark.jars" not in conf
    assert conf["spark.driver.extraClassPath"].split(os.pathsep) == JARS


def test_a_cluster_session_ships_the_jars_and_keeps_the_metastore_client_on_its_class_path(tmp_path: Path) -> None:
    conf = local_conf(settings_with_master(tmp_path, "spark://host:7077"), JARS, class_archive=False)
    assert conf["spark.jars"].split(",") == JARS
    class_path = conf["spark.driver.extraClassPath"].split(os.pathsep)
    assert "/jars/derbyclient-10.16.jar" in class_path  # (with Derby's shared classes from pyspark's own jars)
    assert not set(class_path) & {"/jars/delta-spark.jar", "/jars/bundle-2.35.jar", "/jars/derbynet-10.16.jar"}


def test_the_test_runs_session_copied_no_jar_and_still_has_delta(spark: SparkSession, tmp_path: Path) -> None:
    """The suite's own session was made by the factory with a `local` master: Spark was given no jar to ship,
    its per-session folder holds none, and Delta (from the class path) writes and reads."""
    assert spark.sparkContext._jsc.sc().listJars().size() == 0  # type: ignore[union-attr]
    root = Path(SparkFiles.getRootDirectory())
    assert not [p for p in root.rglob("*") if p.suffix == ".jar"]
    spark.range(3).write.format("delta").save(str(tmp_path / "t"))
    assert spark.read.format("delta").load(str(tmp_path / "t")).count() == 3


def fake_spark_home(tmp_path: Path) -> Path:
    """A SPARK_HOME whose `spark-submit` only prints its arguments, one per line."""
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    submit = home / "bin" / "spark-submit"
    submit.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    submit.chmod(0o755)
    return home


@pytest.mark.parametrize(("master", "ships"), [(None, False), ("local[2]", False), ("spark://host:7077", True)])
def test_spark_submit_ships_jars_only_to_executors_elsewhere(tmp_path: Path, master: str | None, ships: bool) -> None:
    if not (REPO_ROOT / ".cache" / "jvm" / "classpath.txt").is_file():
        pytest.skip("setup has not resolved the jars")
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_MASTER", "DEPLOY_MODE", "USE_PACKAGES")}
    env["SPARK_HOME"] = str(fake_spark_home(tmp_path))
    if master:
        env["SPARK_MASTER"] = master
    done = subprocess.run(["bash", "spark-submit.sh", "jobs/run.py", "--env", "test"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    args = done.stdout.splitlines()
    assert args[args.index("--master") + 1] == (master or "local[2]")
    assert ("--jars" in args) is ships
    class_path = args[args.index("--driver-class-path") + 1]
    assert "delta-spark" in class_path and "derbyclient" in class_path
