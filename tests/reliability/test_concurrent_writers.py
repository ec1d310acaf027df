"""Two writers on one shared ops table at once (what two processes outside the run lock can do): Delta refuses
one commit with a concurrent-modification conflict, the library redoes it, and every row lands exactly once."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest
from delta.exceptions import ConcurrentAppendException
from pyspark.sql import SparkSession

from lakehouse.bronze.loader import LEDGER_TABLE, _FilePlan, _plan_rows, _write_ledger_plan
from lakehouse.config import Settings
from lakehouse.tables import Tables, create_if_missing, read_table, retry_on_conflict

BATCHES = 3


def _plan_batches(spark: SparkSession, settings: Settings, table: str, start: threading.Barrier) -> None:
    ledger = Tables(settings).ref(*LEDGER_TABLE)
    from lakehouse.bronze.loader import LEDGER_SCHEMA

    start.wait()
    create_if_missing(spark, ledger, spark.createDataFrame([], LEDGER_SCHEMA))  # both create it at once
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    for batch in range(1, BATCHES + 1):
        plan = _FilePlan(f"{table}/f{batch}.json", 10, moment, f"hash{batch}", "new", 1, 0, "")
        _write_ledger_plan(spark, ledger, _plan_rows(table, batch, "planned", [plan], f"run-{table}", moment),
                           f"run-{table}")  # fmt: skip


def test_two_writers_planning_loads_in_one_ledger_lose_and_double_nothing(
    spark: SparkSession, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(table: str) -> None:
        try:
            _plan_batches(spark, settings, table, start)
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("strava_activities", "mapmyrun_workouts")]
    with caplog.at_level(logging.WARNING, logger="lakehouse.tables"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    assert not errors, errors
    rows = read_table(spark, Tables(settings).ref(*LEDGER_TABLE)).select("table_name", "batch_id", "file_path")
    expected = sorted((t, b, f"{t}/f{b}.json") for t in ("strava_activities", "mapmyrun_workouts")
                      for b in range(1, BATCHES + 1))  # fmt: skip
    assert sorted(tuple(r) for r in rows.collect()) == expected
    conflicts = [r for r in caplog.records if "concurrent commit conflict" in r.getMessage()]
    print(f"conflicts retried: {len(conflicts)}")
    assert conflicts, "the two writers never collided: the test did not exercise the retry"


def test_a_conflict_that_persists_is_raised_after_the_last_attempt() -> None:
    calls = []

    def always_conflicts() -> None:
        calls.append(1)
        raise ConcurrentAppendException("another writer keeps committing")

    with pytest.raises(ConcurrentAppendException, match="keeps committing"):
        retry_on_conflict(always_conflicts, "test", attempts=2)
    assert len(calls) == 2


def test_other_errors_are_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("a bug, not a conflict")

    with pytest.raises(ValueError, match="a bug"):
        retry_on_conflict(broken, "test")
    assert calls == [1]
