"""The class-data archive (`lakehouse.classdata`): used only when made for these jars and this JDK, and then
really mapped by the session's JVM."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse import classdata
from lakehouse.config import load_settings
from lakehouse.spark import cached_jars, local_conf

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


def test_the_sessions_jvm_maps_setups_archive(spark: SparkSession) -> None:
    """Setup made the archive (scripts/setup.sh, step 5) and the test session's JVM, started by the session
    factory, mapped it: the JVM's own report of its mapped class data is larger than the archive file (without
    it, only the JDK's own archive of about 13 MB is mapped)."""
    assert classdata.ARCHIVE.is_file(), f"{classdata.ARCHIVE} is missing: run `bash scripts/setup.sh`"
    settings = load_settings("test")
    assert any(
        "SharedArchiveFile" in o for o in local_conf(settings, cached_jars())["spark.driver.extraJavaOptions"].split()
    )
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    jcmd = Path(spark.sparkContext._jvm.java.lang.System.getProperty("java.home")) / "bin" / "jcmd"
    info = subprocess.run([str(jcmd), str(runtime.getPid()), "VM.info"], capture_output=True, text=True, timeout=60)
    mapped = re.search(r"CDS archive\(s\) mapped at: .*?size (\d+)", info.stdout)
    assert mapped, info.stdout[:2000]
    assert int(mapped.group(1)) > classdata.ARCHIVE.stat().st_size
