"""Two writers on one shared ops table at once (what two processes outside the run lock can do): plans of
different tables both land, whole and once; of two runs planning the same batch of one table, exactly one owns
it and the other is told so; a commit Delta refuses for a concurrent writer's commit is redone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from delta.exceptions import ConcurrentAppendException
from pyspark.sql import SparkSession

from lakehouse.bronze.loader import (
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    ConcurrentLoadError,
    _FilePlan,
    _plan_rows,
    _write_ledger_plan,
)
from lakehouse.config import Settings
from lakehouse.tables import Tables, create_if_missing, read_table, retry_on_conflict

BATCHES = 3
MOMENT = datetime(2026, 12, 1, tzinfo=UTC)


def _plan(spark: SparkSession, settings: Settings, table: str, batch: int, run_id: str) -> None:
    ledger = Tables(settings).ref(*LEDGER_TABLE)
    plan = _FilePlan(f"{table}/f{batch}-{run_id}.json", 10, MOMENT, f"hash{batch}", "new", 1, 0, "")
    _write_ledger_plan(spark, ledger, _plan_rows(table, batch, "planned", [plan], run_id, MOMENT), run_id)


def _at_once(*work: tuple[object, ...]) -> list[BaseException | None]:
    """Run each (function, args...) in its own thread, released together; what each raised (None: nothing)."""
    start = threading.Barrier(len(work))
    outcome: list[BaseException | None] = [None] * len(work)

    def runner(i: int, function: Callable[..., None], *args: object) -> None:
        start.wait()
        try:
            function(*args)
        except BaseException as exc:  # judged in the test thread
            outcome[i] = exc

    threads = [threading.Thread(target=runner, args=(i, *w)) for i, w in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return outcome


def _ledger_rows(spark: SparkSession, settings: Settings) -> list[tuple]:
    ledger = read_table(spark, Tables(settings).ref(*LEDGER_TABLE))
    return sorted(tuple(r) for r in ledger.select("table_name", "batch_id", "file_path", "run_id").collect())


def test_two_writers_planning_loads_in_one_ledger_lose_and_double_nothing(
    spark: SparkSession, settings: Settings
) -> None:
    ledger = Tables(settings).ref(*LEDGER_TABLE)

    def plan_batches(table: str) -> None:
        create_if_missing(spark, ledger, spark.createDataFrame([], LEDGER_SCHEMA))  # both create it at once
        for batch in range(1, BATCHES + 1):
            _plan(spark, settings, table, batch, f"run-{table}")

    assert _at_once((plan_batches, "strava_activities"), (plan_batches, "mapmyrun_workouts")) == [None, None]
    expected = sorted((t, b, f"{t}/f{b}-run-{t}.json", f"run-{t}") for t in ("strava_activities", "mapmyrun_workouts")
                      for b in range(1, BATCHES + 1))  # fmt: skip
    assert _ledger_rows(spark, settings) == expected


def test_of_two_runs_planning_one_batch_at_once_exactly_one_owns_it(spark: SparkSession, settings: Settings) -> None:
    table = "strava_activities"
    create_if_missing(spark, Tables(settings).ref(*LEDGER_TABLE), spark.createDataFrame([], LEDGER_SCHEMA))
    outcome = _at_once((_plan, spark, settings, table, 1, "run-a"), (_plan, spark, settings, table, 1, "run-b"))
    winners = [run for run, raised in zip(("run-a", "run-b"), outcome, strict=True) if raised is None]
    losers = [raised for raised in outcome if raised is not None]
    assert len(winners) == 1, outcome
    assert len(losers) == 1 and isinstance(losers[0], ConcurrentLoadError), outcome
    assert "planned by another run" in str(losers[0])
    (winner,) = winners
    assert _ledger_rows(spark, settings) == [(table, 1, f"{table}/f1-{winner}.json", winner)]


def test_a_batch_planned_already_is_neither_planned_twice_nor_taken_over(
    spark: SparkSession, settings: Settings
) -> None:
    table = "mapmyrun_workouts"
    create_if_missing(spark, Tables(settings).ref(*LEDGER_TABLE), spark.createDataFrame([], LEDGER_SCHEMA))
    _plan(spark, settings, table, 1, "run-a")
    _plan(spark, settings, table, 1, "run-a")  # the same run again (a retried call): no second row, no error
    with pytest.raises(ConcurrentLoadError, match="batch 1 was planned by another run"):
        _plan(spark, settings, table, 1, "run-b")
    _plan(spark, settings, table, 2, "run-b")  # the next batch is free
    assert _ledger_rows(spark, settings) == [
        (table, 1, f"{table}/f1-run-a.json", "run-a"),
        (table, 2, f"{table}/f2-run-b.json", "run-b"),
    ]


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
