"""The JDBC/ODBC endpoint for BI tools: Spark's Thrift server (HiveThriftServer2) over the lakehouse's tables.

`start` launches `spark-submit.sh jobs/sql_server.py serve` in the background: a Spark driver with Delta and the
lakehouse's local metastore (so every `layer.table` name is there), which starts HiveThriftServer2 inside itself
on loopback and re-registers table names every few seconds, so a table created after the start is queryable
without a restart. Each query reads a Delta table's newest version. The pid file and the log live in the
metastore's folder (`<tables_root>/_metastore/sql-server.{pid,log}`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import REPO_ROOT, Settings
from lakehouse.metastore import ensure_server, local_metastore, register_tables
from lakehouse.spark import cached_jars

START_TIMEOUT_SECONDS = 180.0
REFRESH_SECONDS = 5.0


class SqlServerError(RuntimeError):
    """The SQL server could not be started, stopped or reached."""


@dataclass(frozen=True)
class SqlServer:
    """Where the SQL server of one lakehouse listens and keeps its pid file and log."""

    host: str
    port: int
    folder: Path

    @property
    def pid_file(self) -> Path:
        return self.folder / "sql-server.pid"

    @property
    def log_file(self) -> Path:
        return self.folder / "sql-server.log"

    @property
    def jdbc_url(self) -> str:
        """What BI tools connect to (Hive JDBC driver; no authentication on loopback)."""
        return f"jdbc:hive2://{self.host}:{self.port}/default"


def sql_server(settings: Settings) -> SqlServer:
    """The SQL server of `settings`' lakehouse."""
    return SqlServer(settings.sql_server.host, settings.sql_server.port, local_metastore(settings).folder)


def listening(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def server_pid(server: SqlServer) -> int | None:
    """The server's process id from its pid file, if that process is alive."""
    try:
        pid = int(server.pid_file.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def status(server: SqlServer) -> str:
    """One line saying whether the server runs and where."""
    pid = server_pid(server)
    if pid and listening(server.host, server.port):
        return f"SQL server running: {server.jdbc_url} (pid {pid}, log {server.log_file})"
    if pid:
        return f"SQL server starting (pid {pid}, log {server.log_file})"
    return f"SQL server not running (would listen on {server.jdbc_url})"


def _log_tail(server: SqlServer, lines: int = 3) -> str:
    try:
        text = server.log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    interesting = [line for line in text.splitlines() if "ERROR" in line or "Exception" in line]
    return " | ".join((interesting or text.splitlines() or ["empty log"])[-lines:])


def start(settings: Settings, env_name: str, wait: bool = True) -> SqlServer:
    """Start the SQL server in the background (nothing happens if it already runs); returns where it listens."""
    server = sql_server(settings)
    if server_pid(server):
        return server
    if listening(server.host, server.port):
        raise SqlServerError(f"port {server.port} on {server.host} is taken by another program: set [sql_server] port")
    server.folder.mkdir(parents=True, exist_ok=True)
    ensure_server(local_metastore(settings), cached_jars())  # the server's driver connects to it at once
    env = dict(os.environ, LAKEHOUSE_ENV=env_name, SPARK_DRIVER_MEMORY=settings.sql_server.driver_memory)
    # The roots as resolved here (overrides included) are what the server serves.
    env.update(LAKEHOUSE_LANDING_ROOT=settings.landing_root, LAKEHOUSE_TABLES_ROOT=settings.tables_root)
    env["LAKEHOUSE_SQL_SERVER_PORT"] = str(server.port)
    # HiveServer2 reads its port and bind address from these variables before its configuration.
    env.update(HIVE_SERVER2_THRIFT_PORT=str(server.port), HIVE_SERVER2_THRIFT_BIND_HOST=server.host)
    command = ["bash", str(REPO_ROOT / "spark-submit.sh"), "jobs/sql_server.py", "serve"]
    with open(server.log_file, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: `stop` ends spark-submit, the JVM and Python alike
        )
    server.pid_file.write_text(str(process.pid), encoding="utf-8")
    if not wait:
        return server
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not listening(server.host, server.port):
        if process.poll() is not None:
            server.pid_file.unlink(missing_ok=True)
            raise SqlServerError(f"the SQL server exited with code {process.returncode}: {_log_tail(server)}")
        if time.monotonic() > deadline:
            stop(settings)
            raise SqlServerError(
                f"the SQL server did not listen within {START_TIMEOUT_SECONDS:.0f}s: {_log_tail(server)}"
            )
        time.sleep(0.5)
    return server


def stop(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop the SQL server; True if one was running."""
    server = sql_server(settings)
    pid = server_pid(server)
    if pid is None:
        server.pid_file.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while server_pid(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    if server_pid(server):
        os.killpg(pid, signal.SIGKILL)
    # The process group may outlive its leader for a moment (the JVM): wait until nobody listens.
    while listening(server.host, server.port) and time.monotonic() < deadline + 10:
        time.sleep(0.2)
    server.pid_file.unlink(missing_ok=True)
    return True


def serve(spark: SparkSession, settings: Settings) -> None:
    """Run HiveThriftServer2 inside this driver and keep table names fresh until SIGTERM/SIGINT."""
    server = sql_server(settings)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    jvm = spark.sparkContext._jvm
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set("hive.server2.thrift.bind.host", server.host)
    hadoop.set("hive.server2.thrift.port", str(server.port))
    hadoop.set("hive.server2.transport.mode", "binary")
    thrift = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()
    )
    print(f"[sql-server] serving {settings.tables_root} on {server.jdbc_url}", flush=True)
    try:
        while not stopping:
            added = register_tables(spark, settings)
            if added:
                print(f"[sql-server] new tables: {', '.join(added)}", flush=True)
            for _ in range(int(REFRESH_SECONDS / 0.25)):
                if stopping:
                    break
                time.sleep(0.25)
    finally:
        thrift.stop()
        spark.stop()
