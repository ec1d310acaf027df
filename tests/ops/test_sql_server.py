"""The JDBC server (Spark's Thrift server) under a real client, pyspark's own `beeline`: a gold table by name,
queried while new versions are committed, always shows a whole version, and the newest one afterwards; a table
created after the server started is queryable by name too."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.metastore import register_tables
from lakehouse.sqlserver import listening, server_pid, sql_server, start, status, stop
from lakehouse.tables import Tables

BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
MAX_COMMITS = 40
PROMPT = re.compile(r"^\d+: jdbc:hive2://\S+> ?")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(spark: SparkSession, base_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The SQL server over the test run's lakehouse (the metastore this session uses), on a free loopback port."""
    monkeypatch.setenv("LAKEHOUSE_SQL_SERVER_PORT", str(_free_port()))
    from lakehouse.config import load_settings

    settings = load_settings(
        "test",
        environ={
            "LAKEHOUSE_TABLES_ROOT": base_settings.tables_root,
            "LAKEHOUSE_LANDING_ROOT": base_settings.landing_root,
            "LAKEHOUSE_SQL_SERVER_PORT": os.environ["LAKEHOUSE_SQL_SERVER_PORT"],
        },
    )
    try:
        yield settings
    finally:
        stop(settings)


def beeline(settings: Settings, sql: str) -> subprocess.Popen[str]:
    """Start beeline against the server: `sql` runs, results as CSV on stdout."""
    url = sql_server(settings).jdbc_url
    return subprocess.Popen(
        [str(BEELINE), "-u", url, "--silent=true", "--showHeader=false", "--outputformat=csv2", "-e", sql],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen[str]) -> list[str]:
    return result_of(proc, *proc.communicate(timeout=300))


def result_of(proc: subprocess.Popen[str], out: str, err: str) -> list[str]:
    """A finished beeline's result lines (its stdout and stderr as read)."""
    assert proc.returncode == 0, err[-2000:]
    # beeline echoes its prompt before a result even when silent: keep only what follows it.
    lines = (PROMPT.sub("", line).strip() for line in out.splitlines())
    return [line for line in lines if line]


def test_beeline_reads_gold_by_name_while_new_versions_commit(
    spark: SparkSession, base_settings: Settings, served: Settings
) -> None:
    location = Tables(base_settings).ref("gold", "jdbc_probe").location
    spark.createDataFrame([(0,)], "v INT").write.format("delta").mode("overwrite").save(location)
    register_tables(spark, base_settings)

    server = start(served, "test")
    assert listening(server.host, server.port) and server_pid(server)
    assert status(server).startswith("SQL server running: jdbc:hive2://127.0.0.1:")
    # A table born after the server started: it must be named within the server's refresh period (asked for
    # at the end, after the reads below have taken longer than that period).
    late = Tables(base_settings).ref("silver", "born_late").location
    spark.createDataFrame([("late",)], "word STRING").write.format("delta").save(late)

    # While beeline reads by name, a writer keeps committing versions (one row each: v = the version) until the
    # reads are done. Each read must be one whole version: the rows 0..k, never a part of a commit.
    query = "SELECT count(*), max(v), sum(v) FROM gold.jdbc_probe"
    reads = [beeline(served, query), beeline(served, query)]
    version = 0
    while any(proc.poll() is None for proc in reads) and version < MAX_COMMITS:
        version += 1
        spark.createDataFrame([(version,)], "v INT").write.format("delta").mode("append").save(location)
    assert version >= 1  # the reads ran while versions were being committed
    for proc in reads:
        count, top, total = (int(x) for x in result(proc)[0].split(","))
        assert count == top + 1 and total == top * (top + 1) // 2, (count, top, total)

    # Afterwards, through the same endpoint: the newest version, the history, and the late table by name (one
    # beeline: each costs a JVM start; asked again while the refresh period has not named it yet).
    after = "SELECT count(*), max(v) FROM gold.jdbc_probe; DESCRIBE HISTORY gold.jdbc_probe LIMIT 1; "
    deadline = time.monotonic() + 120
    while True:
        proc = beeline(served, after + "SELECT word FROM silver.born_late")
        out, err = proc.communicate(timeout=300)
        if proc.returncode == 0 or "born_late" not in err or time.monotonic() > deadline:
            break
        time.sleep(2)
    lines = result_of(proc, out, err)
    assert lines[0] == f"{version + 1},{version}"
    assert lines[1].split(",")[0] == str(version)  # the newest Delta version heads the history
    assert lines[2:] == ["late"]

    assert stop(served)
    assert not server_pid(server) and not listening(server.host, server.port)
