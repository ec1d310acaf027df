"""The one SparkSession factory: local with cached Delta jars, spark-submit as given, Databricks as is.

- On Databricks (`DATABRICKS_RUNTIME_VERSION` set) Delta is built in: the running session is returned and
  nothing is added.
- Under spark-submit (the JVM already exists; `PYSPARK_GATEWAY_PORT` is set) the session takes what
  spark-submit provided (`spark-submit.sh` passes the Delta packages and settings).
- Otherwise a local session is built: the jars resolved by `scripts/setup.sh` through Maven
  (`.cache/jvm/classpath.txt`), Delta's SQL extension and catalog, and the s3a settings.

Outside Databricks and catalog mode, both local and spark-submit sessions use the lakehouse's local metastore
(`lakehouse.metastore`: started on demand, shared by every process) and name its tables `layer.table`, so
`spark.table("gold.training_load")` works in every session with no setup.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse import classdata, metastore
from lakehouse.config import REPO_ROOT, S3Settings, Settings

CLASSPATH_FILE = REPO_ROOT / ".cache" / "jvm" / "classpath.txt"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


class MissingJarsError(RuntimeError):
    """The Delta / s3a jars have not been resolved yet."""


def running_on_databricks() -> bool:
    """True inside a Databricks runtime."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def running_under_spark_submit() -> bool:
    """True when spark-submit (or a notebook kernel with a live JVM) started this Python process."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def cached_jars(classpath_file: Path = CLASSPATH_FILE) -> list[str]:
    """The jar paths resolved by setup, with a helpful error when setup has not run."""
    if not classpath_file.is_file():
        raise MissingJarsError(
            f"{classpath_file} is missing: run `bash scripts/setup.sh` once to fetch the Delta and s3a jars "
            "from Maven Central"
        )
    jars = [j for j in classpath_file.read_text(encoding="utf-8").strip().split(os.pathsep) if j]
    missing = [j for j in jars if not Path(j).is_file()]
    if missing or not jars:
        raise MissingJarsError(
            f"jars listed in {classpath_file} are missing ({', '.join(missing[:2]) or 'empty list'}): "
            "run `bash scripts/setup.sh` again"
        )
    return jars


def s3a_conf(s3: S3Settings) -> dict[str, str]:
    """Hadoop s3a settings for an S3-compatible endpoint; credentials come from the usual AWS chain."""
    conf = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.path.style.access": str(s3.path_style).lower(),
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider,"
            "software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider,"
            "software.amazon.awssdk.auth.credentials.InstanceProfileCredentialsProvider"
        ),
    }
    if s3.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(s3.endpoint_url.startswith("https")).lower()
    return conf


def warehouse_dir(settings: Settings) -> str:
    """Where managed tables go (catalog mode): `<tables_root>/_warehouse`."""
    if "://" not in settings.tables_root:
        return str(Path(settings.tables_root.removeprefix("file://")) / "_warehouse")
    return settings.tables_root + "/_warehouse"


def session_conf(settings: Settings) -> dict[str, str]:
    """The SQL settings of every session, local or under spark-submit (all settable on a running session)."""
    return {
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # Few partitions for Delta's own log replay: these tables are small per commit (Delta's default, 50,
        # makes every snapshot a 50-task job).
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Delta's MERGE and the idempotent txnAppId writes need no retention games locally.
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
    }


def in_one_jvm(master: str) -> bool:
    """True for a `local` master (`local`, `local[2]`, `local[*, 3]`): the executor runs inside the driver's JVM."""
    return master == "local" or master.startswith("local[")


def driver_class_path(settings: Settings, jars: list[str]) -> list[str]:
    """The driver JVM's own class path entries. With a `local` master: every jar, and none is given as
    `spark.jars` (see `local_conf`). Otherwise the metastore's JDBC driver with the local metastore
    (DataNucleus loads it there), else none."""
    if in_one_jvm(settings.spark.master):
        return list(jars)
    return metastore.client_jars(jars) if metastore.uses_local_metastore(settings) else []


def local_conf(settings: Settings, jars: list[str], class_archive: bool = True) -> dict[str, str]:
    """Every setting of a local session, as a plain dict (easy to inspect and test).

    With `class_archive`, the JVM maps the class-data archive when one was made for these jars and this JDK
    (`lakehouse.classdata`: a few seconds sooner at every start).
    """
    spark = settings.spark
    conf = {
        "spark.master": spark.master,
        "spark.app.name": spark.app_name,
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.default.parallelism": str(spark.shuffle_partitions),
        "spark.ui.enabled": str(spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        # The driver keeps the history of recent jobs even with the UI off; the defaults (1,000 jobs, stages
        # and SQL executions) grow the heap of a long-running driver (a live race stream) for hours.
        "spark.ui.retainedJobs": "100",
        "spark.ui.retainedStages": "200",
        "spark.sql.ui.retainedExecutions": "100",
        "spark.driver.memory": spark.driver_memory,
        # Python workers run the same interpreter (and virtual environment) as the driver.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.warehouse.dir": warehouse_dir(settings),
        **session_conf(settings),
    }
    java_options = []
    log_config = REPO_ROOT / "conf" / "log4j2.properties"
    if log_config.is_file():  # quiet start-up: warnings and errors only (conf/log4j2.properties)
        java_options.append(f"-Dlog4j2.configurationFile={log_config.as_uri()}")
    conf.update(s3a_conf(settings.s3))
    class_path = driver_class_path(settings, jars)
    if not in_one_jvm(spark.master):
        # Executors in other JVMs fetch the jars from the driver. With a `local` master the executor is the
        # driver's JVM, which has them on its class path: given as `spark.jars` too, every session would copy
        # them (the AWS SDK alone is ~690 MB) into a temporary folder, at every start (2-3 s), and a killed
        # job would leave the copy behind.
        conf["spark.jars"] = ",".join(jars)
    if metastore.uses_local_metastore(settings):
        conf.update(metastore.hive_conf(metastore.local_metastore(settings)))
    if class_path:
        conf["spark.driver.extraClassPath"] = os.pathsep.join(class_path)
    if class_archive:
        java_options += classdata.java_options(jars, class_path)
    java_options += spark.java_options
    if java_options:
        conf["spark.driver.extraJavaOptions"] = " ".join(java_options)
    conf.update(spark.extra_conf)
    return conf


def _with_names(spark: SparkSession, settings: Settings) -> SparkSession:
    """Name the lakehouse's tables in the session's catalog (see `lakehouse.metastore`)."""
    metastore.register_tables(spark, settings)
    return spark


def get_spark(settings: Settings, name_tables: bool = True) -> SparkSession:
    """The SparkSession for `settings`: Databricks' own, spark-submit's, or a local Delta-enabled one.

    A new session names the lakehouse's tables in its catalog (`lakehouse.metastore`) before it is returned,
    unless `name_tables` is False (a run that names them itself, after each stage: `lakehouse.stages`)."""
    if running_on_databricks():
        return SparkSession.builder.getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None:  # a notebook's or a test run's session: use it as it is, settings untouched
        return active
    if running_under_spark_submit():
        builder = SparkSession.builder.appName(settings.spark.app_name)
        conf = s3a_conf(settings.s3)
        conf["spark.sql.warehouse.dir"] = warehouse_dir(settings)
        if metastore.uses_local_metastore(settings):
            # spark-submit.sh puts Derby's client on the driver's classpath; the metastore runs beside the driver.
            local = metastore.local_metastore(settings)
            metastore.ensure_server(local, _classpath_or_empty())
            conf.update(metastore.hive_conf(local))
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        given = spark.sparkContext.getConf()
        for key, value in session_conf(settings).items():  # as a local session has them, unless spark-submit said
            if not given.contains(key):
                spark.conf.set(key, value)
        return _with_names(spark, settings) if name_tables else spark
    # PySpark starts its Python workers with $PYSPARK_PYTHON (default: `python3` on the PATH), not with the
    # `spark.pyspark.python` setting, in a local session: point it at this interpreter so the workers see the
    # virtual environment's packages (pandas, numpy, statsmodels for applyInPandas).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    jars = cached_jars()
    if metastore.uses_local_metastore(settings):
        metastore.ensure_server(metastore.local_metastore(settings), jars)
    builder = SparkSession.builder
    for key, value in local_conf(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return _with_names(spark, settings) if name_tables else spark


def _classpath_or_empty() -> list[str]:
    """Setup's jars when this checkout has them (spark-submit.sh ran from it), else none.

    Under spark-submit the library is imported from the zip that `--py-files` ships, so `REPO_ROOT` is that
    zip, not the checkout: the checkout is then the working directory spark-submit.sh runs in.
    """
    for classpath_file in (CLASSPATH_FILE, Path.cwd() / ".cache" / "jvm" / "classpath.txt"):
        try:
            return cached_jars(classpath_file)
        except MissingJarsError:
            continue
    return []


# Expressions evaluated as they are: no Java generated and compiled per query and per task.
INTERPRETED_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


def interpreted_session(spark: SparkSession) -> SparkSession:
    """A session like `spark` (a clone: its settings, catalog, cached data and Spark context) whose queries evaluate
    expressions without generating code (`INTERPRETED_CONF`), for work in many small pieces: a live stream's
    micro-batches of a few thousand rows. There Spark's code generation costs more than it saves: each query's
    Java is generated, and compiled unless an identical one was, and each task generates its row projections
    again; a Flight Recording of the live race stream found it in 43 % of the task threads' samples, and the
    micro-batches took a third less time without it. `spark` keeps its own settings; without a JVM session to clone
    (Spark Connect), `spark` itself is returned, unchanged."""
    java_session = getattr(spark, "_jsparkSession", None)
    if java_session is None:
        return spark
    clone = SparkSession(spark.sparkContext, java_session.cloneSession())
    for key, value in INTERPRETED_CONF.items():
        clone.conf.set(key, value)
    return clone
