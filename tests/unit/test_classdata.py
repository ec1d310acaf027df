"""The class-data archive (`lakehouse.classdata`): used only when made for these jars and this JDK, and then
really mapped by a new session's JVM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import classdata
from lakehouse.config import load_settings
from lakehouse.spark import local_conf

JARS = ["/jars/delta-spark.jar", "/jars/derbynet-10.16.jar", "/jars/derbyclient-10.16.jar"]
CLIENT = ["/jars/derbyclient.jar"]


def fake_archive(folder: Path, stamp: str | None) -> Path:
    archive = folder / "spark-classes.jsa"
    archive.write_bytes(b"not really an archive")
    if stamp is not None:
        archive.with_suffix(".fingerprint").write_text(stamp + "\n")
    return archive


def test_no_archive_no_options(tmp_path: Path) -> None:
    assert classdata.java_options(JARS, CLIENT, tmp_path / "missing.jsa") == []
    assert classdata.java_options(JARS, CLIENT, fake_archive(tmp_path, stamp=None)) == []


def test_an_archive_made_for_other_jars_or_another_jdk_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made_for = classdata.fingerprint(JARS, CLIENT)
    assert made_for is not None
    archive = fake_archive(tmp_path, made_for)
    assert classdata.java_options(JARS, CLIENT, archive) == [
        f"-XX:SharedArchiveFile={archive}",
        "-Xlog:cds=off",
        "-Xlog:cds+dynamic=off",
    ]
    assert classdata.java_options([*JARS, "/jars/new.jar"], CLIENT, archive) == []
    assert classdata.java_options(JARS, [], archive) == []  # another driver class path (external metastore)
    other_jdk = tmp_path / "jdk" / "bin"
    other_jdk.mkdir(parents=True)
    (other_jdk / "java").write_text("#!/bin/sh\n")
    (other_jdk / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(other_jdk.parent))
    assert classdata.java_options(JARS, CLIENT, archive) == []


def test_the_settings_java_options_come_after_the_factorys(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        f'[paths]\nroot = "{tmp_path}"\n\n[spark]\njava_options = ["-XX:+UseParallelGC", "-Dmy.flag=1"]\n'
    )
    settings = load_settings("mine", tmp_path, environ={})
    assert settings.spark.java_options == ("-XX:+UseParallelGC", "-Dmy.flag=1")
    options = local_conf(settings, JARS, class_archive=False)["spark.driver.extraJavaOptions"].split(" ")
    assert options[-2:] == ["-XX:+UseParallelGC", "-Dmy.flag=1"]
    assert options[0].startswith("-Dlog4j2.configurationFile=")
    assert not [o for o in options if "SharedArchiveFile" in o]


MAPPED_SIZE = """
import re, subprocess, sys, tempfile
from pathlib import Path
from lakehouse.config import load_settings
from lakehouse.spark import get_spark

folder = tempfile.mkdtemp()
spark = get_spark(load_settings("test").with_roots(f"{folder}/landing", f"{folder}/tables"))
jvm = spark.sparkContext._jvm
options = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
pid = jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getPid()
jcmd = Path(jvm.java.lang.System.getProperty("java.home")) / "bin" / "jcmd"
info = subprocess.run([str(jcmd), str(pid), "VM.info"], capture_output=True, text=True, timeout=60).stdout
mapped = re.search(r"CDS archive\\(s\\) mapped at: .*?size (\\d+)", info)
print("OPTIONS", " ".join(options))
print("MAPPED", mapped.group(1) if mapped else "none")
spark.stop()
"""


@pytest.mark.slow
def test_a_made_archive_is_mapped_by_the_next_sessions_jvm(tmp_path: Path) -> None:
    """Make an archive (the quick exercise) where `$LAKEHOUSE_CLASS_ARCHIVE` says, then start a session in a new
    process: its JVM maps it. The JVM's own report of its mapped class data (`jcmd VM.info`) is larger than the
    archive file; without it only the JDK's own archive of about 13 MB is mapped. Two JVM starts and an archive
    written: about a minute, so it is not in the default run (`pytest -m slow tests/unit/test_classdata.py`)."""
    archive = tmp_path / "classes.jsa"
    assert classdata.build(archive, exercise="start")
    assert archive.stat().st_size > 50 * 2**20
    env = {**os.environ, classdata.ARCHIVE_ENV: str(archive)}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    done = subprocess.run([sys.executable, "-c", MAPPED_SIZE], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("OPTIONS", "MAPPED")))
    assert f"-XX:SharedArchiveFile={archive}" in lines["OPTIONS"]
    assert lines["MAPPED"] != "none", done.stdout
    assert int(lines["MAPPED"]) > archive.stat().st_size


def test_refresh_makes_no_archive_where_none_was_asked_for(tmp_path: Path) -> None:
    archive = tmp_path / "classes.jsa"
    assert classdata.build(archive, refresh_only=True)
    assert not archive.exists()


def test_an_unknown_exercise_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exercise must be one of"):
        classdata.build(tmp_path / "classes.jsa", exercise="everything")
