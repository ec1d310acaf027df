"""A class-data archive for the local Spark JVM (opt-in): every later job starts a few seconds sooner.

Why. A lakehouse job is one short JVM (a weekly run, a SQL query, a notebook): before it reads a row, the JVM
loads and verifies some 20,000 classes of Spark, Hive, Delta and Hadoop from their jars, and it loads more on
each first MERGE, OPTIMIZE or window. Java's class-data sharing (CDS, JEP 350) keeps those classes parsed and
verified in a file the JVM maps at start. Measured on a 2-core machine: a new process that starts a session,
names its tables, writes, reads and MERGEs a small table, 29.7-34.1 s -> 22.4-25.8 s; the demo's whole job
with nothing new, 42.8-43.8 s -> 35.6-40.7 s.

Why opt-in. Making it costs one to two minutes (the exercise below, cold, then the JVM writing ~230 MB) and
pays back a few seconds per job: worth it for a machine that runs jobs every week, not for a throw-away one
(CI's fresh clone would spend more making it than its test run saves). `python -m lakehouse.classdata` makes
it; `scripts/setup.sh` re-makes it when one exists and the jars or the JDK changed (`--refresh`).

How. `build()`: a child Python process starts a local session exactly as the session factory does (the same
jars and driver class path, so the same class path the archive is checked against), runs `_exercise` (Delta
writes, MERGE, OPTIMIZE, joins, windows, JSON with a schema, pandas, a regression), and its JVM writes the
classes it loaded when it exits (`-XX:ArchiveClassesAtExit`). `java_options()` then hands
`-XX:SharedArchiveFile` to every local session whose fingerprint (the JDK, pyspark's version, the jars)
matches the one the archive was made with; otherwise (no archive, another JDK, new jars) it gives nothing and
the JVM starts the ordinary way. The JVM checks the archive again itself and, if it cannot use it, starts
without it (its messages about that are turned off): the archive can make a start faster, never make one fail.
The archive lives in `.cache/jvm/spark-classes.jsa`, or where `$LAKEHOUSE_CLASS_ARCHIVE` says.

Local sessions only: under spark-submit and on Databricks the JVM is started by someone else.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.config import REPO_ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ARCHIVE = REPO_ROOT / ".cache" / "jvm" / "spark-classes.jsa"
ARCHIVE_ENV = "LAKEHOUSE_CLASS_ARCHIVE"
EXERCISES = ("full", "start")  # "start": a session and one small write only (quick; for tests)
# Bump when `_exercise` changes, so `build` makes the archive again.
EXERCISE_VERSION = "1"
BUILD_TIMEOUT_SECONDS = 600.0
# -Xshare:auto is the default: a JVM that cannot map (or write) the archive goes on without it; its notices are
# not wanted in every job's output.
QUIET = ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def default_archive() -> Path:
    """Where the archive is: `$LAKEHOUSE_CLASS_ARCHIVE`, else `.cache/jvm/spark-classes.jsa` in the checkout."""
    return Path(os.environ[ARCHIVE_ENV]) if os.environ.get(ARCHIVE_ENV) else ARCHIVE


def _stamp_file(archive: Path) -> Path:
    return archive.with_suffix(".fingerprint")


def _java() -> Path | None:
    """The `java` the session's JVM will run ($JAVA_HOME's, as Spark's launcher picks it, else the PATH's)."""
    from lakehouse.metastore import _java as java_command

    found = shutil.which(java_command())
    return Path(found).resolve() if found else None


def fingerprint(jars: list[str], driver_class_path: list[str]) -> str | None:
    """What the archive depends on: the JDK binary, pyspark's version and jars, our jars and class path."""
    import pyspark

    java = _java()
    if java is None:
        return None
    pyspark_jars = Path(pyspark.__file__).parent / "jars"
    parts = [
        EXERCISE_VERSION,
        f"java={java}:{java.stat().st_mtime_ns}",
        f"pyspark={pyspark.__version__}:{sorted(p.name for p in pyspark_jars.glob('*.jar'))}",
        f"jars={jars}",
        f"driver_class_path={driver_class_path}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def java_options(jars: list[str], driver_class_path: list[str], archive: Path | None = None) -> list[str]:
    """The JVM options that map the archive, or [] when there is none made for these jars and this JDK."""
    archive = default_archive() if archive is None else archive
    stamp = _stamp_file(archive)
    try:
        if not archive.is_file() or stamp.read_text(encoding="utf-8").strip() != fingerprint(jars, driver_class_path):
            return []
    except OSError:
        return []
    return [f"-XX:SharedArchiveFile={archive}", *QUIET]


def _exercise(spark: SparkSession, folder: str) -> None:
    """Run the kinds of work the pipeline does, so their classes are loaded (and archived) once."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark.sql("CREATE SCHEMA IF NOT EXISTS classdata_exercise")
    spark.sql("SHOW TABLES IN classdata_exercise").collect()
    rows = spark.range(200).select(
        F.col("id"),
        (F.col("id") % 7).alias("day"),
        F.to_date(F.lit("2024-01-01")).alias("ingest_date"),
        (F.col("id") * 1.5).alias("value"),
        F.concat(F.lit("a"), F.col("id").cast("string")).alias("name"),
    )
    table = f"{folder}/t"
    rows.write.format("delta").partitionBy("ingest_date").save(table)
    spark.sql(f"CREATE TABLE classdata_exercise.t USING DELTA LOCATION '{table}'")
    updates = spark.range(150, 250).select(
        "id",
        (F.col("id") % 7).alias("day"),
        F.to_date(F.lit("2024-01-02")).alias("ingest_date"),
        (F.col("id") * 2.0).alias("value"),
        F.lit("b").alias("name"),
    )
    updates.createOrReplaceTempView("updates")
    spark.sql(
        "MERGE INTO classdata_exercise.t AS t USING updates AS s ON t.id = s.id "
        "WHEN MATCHED AND s.value <> t.value THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    ).collect()
    spark.sql(f"OPTIMIZE delta.`{table}`").collect()
    spark.sql(f"DESCRIBE HISTORY delta.`{table}`").collect()
    spark.sql(f"DESCRIBE DETAIL delta.`{table}`").collect()
    data = spark.table("classdata_exercise.t")
    window = Window.partitionBy("day").orderBy("id").rowsBetween(-6, 0)
    (
        data.withColumn("rolling", F.avg("value").over(window))
        .withColumn("rank", F.row_number().over(Window.partitionBy("day").orderBy(F.desc("value"))))
        .join(data.groupBy("day").agg(F.sum("value").alias("total"), F.countDistinct("name")), "day")
        .where(F.col("rank") <= 3)
        .collect()
    )
    json_file = Path(folder) / "records.json"
    json_file.write_text('{"id": 1, "when": "2024-01-01T10:00:00Z", "tags": ["x"]}\n{"id": "bad"}\n')
    (
        spark.read.schema("id LONG, when TIMESTAMP, tags ARRAY<STRING>, _corrupt_record STRING")
        .option("mode", "PERMISSIVE")
        .json(str(json_file))
        .select(F.explode_outer("tags"), F.to_json(F.struct("*")), F.sha2(F.col("_corrupt_record"), 256))
        .collect()
    )
    data.mapInPandas(lambda frames: (frame.head(2) for frame in frames), schema=data.schema).collect()
    data.groupBy("day").applyInPandas(lambda frame: frame.head(1), schema=data.schema).collect()
    features = VectorAssembler(inputCols=["day"], outputCol="features").transform(data)
    LinearRegression(featuresCol="features", labelCol="value", maxIter=5).fit(features)
    data.write.format("delta").mode("append").option("txnAppId", "exercise").option("txnVersion", 1).save(table)
    spark.sql("DROP SCHEMA classdata_exercise CASCADE")


def _run_exercise() -> None:
    """The child process: a local session as the factory builds it, the exercise, a clean stop."""
    from pyspark.sql import SparkSession

    from lakehouse import metastore
    from lakehouse.config import load_settings
    from lakehouse.spark import cached_jars, local_conf

    archive_to = os.environ["LAKEHOUSE_CLASSDATA_DUMP"]
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # as the session factory does
    folder = tempfile.mkdtemp(prefix="lakehouse-classdata-")
    settings = load_settings(env="local").with_roots(f"{folder}/landing", f"{folder}/tables")
    local = metastore.local_metastore(settings)
    try:
        jars = cached_jars()
        metastore.ensure_server(local, jars)
        conf = local_conf(settings, jars, class_archive=False)
        dump = " ".join([f"-XX:ArchiveClassesAtExit={archive_to}", *QUIET])
        conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {dump}".strip()
        conf["spark.ui.enabled"] = "false"
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        if os.environ.get("LAKEHOUSE_CLASSDATA_EXERCISE") == "start":
            spark.range(3).write.format("delta").save(f"{folder}/tables/start")
        else:
            _exercise(spark, f"{folder}/tables")
        spark.stop()
    finally:
        metastore.stop_server(local)
        shutil.rmtree(folder, ignore_errors=True)


def build(archive: Path | None = None, exercise: str = "full", refresh_only: bool = False) -> bool:
    """Make the archive for this machine's JDK and jars (one to two minutes); False (and why) if it could not.

    Nothing to do when the archive there was made for these jars and this JDK. With `refresh_only`, make it
    only when an older archive is there (setup keeps an archive someone asked for up to date, makes none).
    """
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {EXERCISES}, got {exercise!r}")
    archive = default_archive() if archive is None else archive
    from lakehouse.config import load_settings
    from lakehouse.spark import cached_jars, driver_class_path

    jars = cached_jars()
    wanted = fingerprint(jars, driver_class_path(load_settings(env="local"), jars))
    if wanted is None:
        print("[classdata] no java found: no archive", file=sys.stderr)
        return False
    stamp = _stamp_file(archive)
    if archive.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == wanted:
        print(f"[classdata] archive ready ({archive})", file=sys.stderr)
        return True
    if refresh_only and not archive.is_file():
        return True
    print(f"[classdata] making the class-data archive {archive} (one to two minutes)", file=sys.stderr)
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(f".partial-{os.getpid()}")
    started = time.monotonic()
    env = {**os.environ, "LAKEHOUSE_CLASSDATA_DUMP": str(partial), "LAKEHOUSE_CLASSDATA_EXERCISE": exercise}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from lakehouse.classdata import _run_exercise; _run_exercise()"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        print(f"[classdata] the exercise took over {BUILD_TIMEOUT_SECONDS:.0f} s: no archive", file=sys.stderr)
        return False
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
        print(f"[classdata] could not make the archive (exit {done.returncode}): no archive\n{tail}", file=sys.stderr)
        return False
    stamp.unlink(missing_ok=True)
    os.replace(partial, archive)
    stamp.write_text(wanted + "\n", encoding="utf-8")
    size = archive.stat().st_size / 2**20
    print(f"[classdata] archive made in {time.monotonic() - started:.0f} s ({size:.0f} MB, {archive})", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.classdata",
        description="Make the class-data archive that lets every local Spark job start a few seconds sooner.",
    )
    parser.add_argument("--refresh", action="store_true", help="only re-make an archive that is there but stale")
    args = parser.parse_args(argv)
    return 0 if build(refresh_only=args.refresh) else 1


if __name__ == "__main__":
    sys.exit(main())
