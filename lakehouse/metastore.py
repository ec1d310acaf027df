"""Tables by name: a local Hive metastore that several Spark processes share, and the names registered in it.

Why this design. Spark's default local metastore is an embedded Derby database, which admits one process: the
pipeline and a SQL/JDBC server could never run at the same time. Deriving the names afresh in every session from
the folders (a temporary catalog) would need no server, but names would then exist only inside our own processes
and only as of their last refresh, and the Thrift server (a plain spark-submit of `HiveThriftServer2`) could not
see tables created after it started. So the names live in a real metastore that persists them: Spark's built-in
Hive metastore client, backed by Derby's *network server* instead of embedded Derby. Any number of processes
(the pipeline, `jobs.sql`, the Thrift server, notebooks, tests) connect to it over JDBC on loopback at once;
Delta's transaction log keeps their reads and writes consistent, and a name points at a Delta folder, so every
reader sees a table's newest version.

- The Derby server is started on demand by the session factory (`ensure_server`), one per lakehouse: its
  database lives in `<tables_root>/_metastore` (or `.cache/metastore` for tables on S3), its port is derived
  from that folder unless `[metastore] port` is set, and it keeps running for the next process
  (`python -m jobs.sql_server stop --metastore` stops it). Its jars are Derby's own, the version pyspark ships.
- Tables are written by path as before; `register_tables` then names every Delta table folder under
  `<tables_root>/<layer>/<name>` as `<layer>.<name>` (an external table: dropping the name never deletes data).
  The session factory calls it when a session starts, and the pipeline after each stage, so new tables appear.
- With `[metastore] mode = "external"` (a cluster with its own metastore) or a catalog (`LAKEHOUSE_CATALOG`,
  Unity Catalog on Databricks) nothing here runs: names come from that catalog.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import REPO_ROOT, Settings

LAYERS = ("bronze", "silver", "gold", "ops")
DERBY_SERVER_CLASS = "org.apache.derby.drda.NetworkServerControl"
DERBY_CLIENT_DRIVER = "org.apache.derby.jdbc.ClientDriver"
START_TIMEOUT_SECONDS = 60.0


class MetastoreError(RuntimeError):
    """The local metastore server could not be started or reached."""


@dataclass(frozen=True)
class LocalMetastore:
    """Where the local metastore of one lakehouse lives and listens."""

    folder: Path
    host: str
    port: int

    @property
    def jdbc_url(self) -> str:
        """The JDBC URL of the metastore database (created on first use)."""
        return f"jdbc:derby://{self.host}:{self.port}/{self.folder / 'metastore_db'};create=true"

    @property
    def pid_file(self) -> Path:
        return self.folder / "derby-server.pid"

    @property
    def log_file(self) -> Path:
        return self.folder / "derby-server.log"


def uses_local_metastore(settings: Settings) -> bool:
    """Whether names come from the local metastore (not a catalog, not a cluster's own metastore)."""
    return settings.catalog is None and settings.metastore.mode == "local"


def local_metastore(settings: Settings) -> LocalMetastore:
    """The local metastore of `settings`' lakehouse."""
    root = settings.tables_root
    if settings.metastore.folder:
        folder = Path(settings.metastore.folder)
    elif "://" not in root and not root.startswith("dbfs:"):
        folder = Path(root.removeprefix("file:")) / "_metastore"
    else:
        folder = REPO_ROOT / ".cache" / "metastore" / hashlib.sha256(root.encode()).hexdigest()[:16]
    folder = folder.resolve()
    # One server per lakehouse, on a port derived from its folder, so lakehouses on one machine never share one.
    port = settings.metastore.port or 20000 + int(hashlib.sha256(str(folder).encode()).hexdigest(), 16) % 20000
    return LocalMetastore(folder, settings.metastore.host, port)


def derby_jars(classpath: list[str]) -> list[str]:
    """Derby's server and client jars (from setup's classpath) plus the engine jars that ship inside pyspark."""
    import pyspark

    shipped = Path(pyspark.__file__).parent / "jars"
    if not shipped.is_dir() and os.environ.get("SPARK_HOME"):
        # Under spark-submit pyspark is imported from $SPARK_HOME/python/lib/pyspark.zip: the jars are in SPARK_HOME.
        shipped = Path(os.environ["SPARK_HOME"]) / "jars"
    jars = [j for j in classpath if Path(j).name.startswith(("derbynet-", "derbyclient-"))]
    jars += [str(p) for p in sorted(shipped.glob("derby*.jar"))]
    if not any(Path(j).name.startswith("derbynet-") for j in jars):
        raise MetastoreError("Derby's network server jar is missing: run `bash scripts/setup.sh` again")
    return jars


def client_jars(classpath: list[str]) -> list[str]:
    """The jars a Spark driver needs on its classpath to reach the metastore (Derby's JDBC client)."""
    return [j for j in derby_jars(classpath) if Path(j).name.startswith(("derbyclient-", "derbyshared-"))]


def hive_conf(metastore: LocalMetastore) -> dict[str, str]:
    """Spark settings that point the built-in Hive metastore client at the local Derby server."""
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore.jdbc_url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": DERBY_CLIENT_DRIVER,
        "spark.hadoop.javax.jdo.option.ConnectionUserName": "lakehouse",
        "spark.hadoop.javax.jdo.option.ConnectionPassword": "lakehouse",
        # A new database gets the metastore's tables on first connection; no schema version games locally.
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # Names only point at folders the lakehouse made: the metastore need not copy the parent folder's owner,
        # group and permissions onto each (Hive does that by forking `chown`/`chgrp`/`chmod` per new table).
        "spark.hadoop.hive.warehouse.subdir.inherit.perms": "false",
    }


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid(metastore: LocalMetastore) -> int | None:
    """The server's process id from its pid file, if that process is alive."""
    try:
        pid = int(metastore.pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    """Whether process `pid` runs. A server this process started and that has exited stays a zombie (it still
    answers `kill -0`) until it is reaped: reap it here, or stopping it would wait out the whole timeout."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:  # not this process's child: its parent reaps it
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def server_status(metastore: LocalMetastore) -> str:
    """One line: whether the metastore server runs, where, and its process id."""
    if _listening(metastore.host, metastore.port):
        pid = _pid(metastore)
        return f"metastore running on {metastore.host}:{metastore.port} (pid {pid or '?'}), data in {metastore.folder}"
    return f"metastore not running (would listen on {metastore.host}:{metastore.port}, data in {metastore.folder})"


def ensure_server(metastore: LocalMetastore, classpath: list[str]) -> bool:
    """Start the metastore's Derby network server unless it already listens; True if this call started it.

    A server still running for a lakehouse folder that was deleted (no database, no pid file: someone removed
    the folder and starts afresh) serves a database that is gone, and every session would fail to open
    Hive's client: it is shut down and a new one started.
    """
    if _listening(metastore.host, metastore.port):
        if not _orphaned(metastore):
            return False
        _shut_down(metastore, classpath)
    metastore.folder.mkdir(parents=True, exist_ok=True)
    # Processes starting at the same moment take turns: the first starts the server, the others find it running.
    with open(metastore.folder / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _listening(metastore.host, metastore.port):
            return False
        command = [
            _java(),
            "-Xmx256m",
            f"-Dderby.system.home={metastore.folder}",
            f"-Dderby.stream.error.file={metastore.folder / 'derby.log'}",
            "-cp",
            os.pathsep.join(derby_jars(classpath)),
            DERBY_SERVER_CLASS,
            "start",
            "-h",
            metastore.host,
            "-p",
            str(metastore.port),
            "-noSecurityManager",
        ]
        with open(metastore.log_file, "ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        metastore.pid_file.write_text(str(process.pid), encoding="utf-8")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _listening(metastore.host, metastore.port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = metastore.log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
                raise MetastoreError(
                    f"the metastore server did not start on {metastore.host}:{metastore.port}: "
                    f"{tail[0] if tail else 'no output'} (log: {metastore.log_file})"
                )
            time.sleep(0.2)
        print(f"[metastore] started on {metastore.host}:{metastore.port} (data in {metastore.folder})", file=sys.stderr)
        return True


def _java() -> str:
    """The JDK's `java` ($JAVA_HOME's, else the one on the PATH)."""
    return os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"


def _orphaned(metastore: LocalMetastore) -> bool:
    """Whether the server on the metastore's port lost its folder (the pid file is written before it listens)."""
    return not metastore.pid_file.exists() and not (metastore.folder / "metastore_db").exists()


def _shut_down(metastore: LocalMetastore, classpath: list[str]) -> None:
    """Ask the Derby server on the metastore's port to shut down (Derby's own `shutdown` command)."""
    command = [_java(), "-cp", os.pathsep.join(derby_jars(classpath)), DERBY_SERVER_CLASS, "shutdown",
               "-h", metastore.host, "-p", str(metastore.port)]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while _listening(metastore.host, metastore.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    # Shutting down, Derby checkpoints the database it had open and recreates bits of its deleted folder
    # (`metastore_db/log`, `seg0`) without `service.properties`: debris a new server refuses to open (XBM0A).
    debris = metastore.folder / "metastore_db"
    if debris.is_dir() and not (debris / "service.properties").exists():
        shutil.rmtree(debris, ignore_errors=True)
    where = f"{metastore.host}:{metastore.port}"
    print(f"[metastore] stopped the server on {where}: its folder was deleted", file=sys.stderr)


def stop_server(metastore: LocalMetastore, timeout: float = 30.0) -> bool:
    """Stop the metastore server started for this lakehouse; True if one was running."""
    pid = _pid(metastore)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid(metastore) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid(metastore) is not None:
        os.kill(pid, signal.SIGKILL)
    metastore.pid_file.unlink(missing_ok=True)
    return True


def table_folders(spark: SparkSession, settings: Settings) -> dict[str, str]:
    """Every Delta table folder of the lakehouse, as {`layer.name`: location}, through Hadoop's file system."""
    jvm = spark.sparkContext._jvm
    from lakehouse.storage import literal_uri, spark_uri

    tables_root = literal_uri(spark_uri(settings.tables_root))  # a pattern below the root, the root as it is
    root = jvm.org.apache.hadoop.fs.Path(f"{tables_root}/{{{','.join(LAYERS)}}}/*/_delta_log")
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    found = {}
    for status in fs.globStatus(root) or []:
        table = status.getPath().getParent()
        found[f"{table.getParent().getName()}.{table.getName()}"] = table.toString()
    return dict(sorted(found.items()))


def _committed(spark: SparkSession, location: str) -> bool:
    """Whether the table at `location` has a commit (a table being created has a `_delta_log` folder before its
    first commit file; naming it then would fail: it is named by a later pass)."""
    jvm = spark.sparkContext._jvm
    log = jvm.org.apache.hadoop.fs.Path(f"{location}/_delta_log")
    fs = log.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    try:
        entries = fs.listStatus(log)
    except Exception:  # gone meanwhile (a test's folder removed, a table dropped): nothing to name
        return False
    return any(e.getPath().getName().endswith((".json", ".checkpoint.parquet")) for e in entries)


def register_tables(spark: SparkSession, settings: Settings, done: set[str] | None = None) -> list[str]:
    """Name every Delta table of the lakehouse `layer.name` in the session's catalog; returns the names added.

    Idempotent. A name that points at another lakehouse's folder is re-pointed (it is an external table: only
    the name moves). Does nothing in catalog mode or with an external metastore. The metastore is asked once
    per layer (which names exist, and where they point), not once per table. With `done`, the names in it
    were registered earlier by the caller and are skipped; the names checked now are added to it (the
    pipeline registers after each stage: only the new tables cost a metastore call).
    """
    if not uses_local_metastore(settings):
        return []
    done = set() if done is None else done
    folders = {
        name: loc for name, loc in table_folders(spark, settings).items() if name not in done and _committed(spark, loc)
    }
    if not folders:
        return []
    external = spark._jsparkSession.sharedState().externalCatalog()
    jvm = spark.sparkContext._jvm
    added = []
    for layer in sorted({name.split(".")[0] for name in folders}):
        wanted = {name.split(".")[1]: loc for name, loc in folders.items() if name.startswith(f"{layer}.")}
        if not external.databaseExists(layer):
            spark.sql(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        existing = set(jvm.scala.jdk.javaapi.CollectionConverters.asJava(external.listTables(layer)))
        named = sorted(t for t in wanted if t in existing)
        current = {}
        if named:
            found = external.getTablesByName(layer, jvm.scala.jdk.javaapi.CollectionConverters.asScala(named).toSeq())
            for table in jvm.scala.jdk.javaapi.CollectionConverters.asJava(found):
                current[table.identifier().table()] = table
        for table, location in sorted(wanted.items()):
            name = f"{layer}.{table}"
            if table in current:
                if _same_location(current[table].location().toString(), location):
                    done.add(name)
                    continue
                if current[table].tableType().name() != "EXTERNAL":
                    raise MetastoreError(f"{name} is a managed table elsewhere; not re-pointing it to {location}")
                spark.sql(f"DROP TABLE {name}")
            escaped = location.replace("'", "\\'")
            spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{escaped}'")
            added.append(name)
            done.add(name)
    return added


def _same_location(a: str, b: str) -> bool:
    def norm(uri: str) -> str:
        return uri.removeprefix("file://").removeprefix("file:").rstrip("/")

    return norm(a) == norm(b)
