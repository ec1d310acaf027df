"""run_concurrently: task order kept, at most `threads` at once, the first failure raised, labels inherited."""

from __future__ import annotations

import threading
import time

import pytest
from pyspark.sql import SparkSession

from lakehouse.concurrency import run_concurrently


class Tracker:
    """Counts the tasks running at once and remembers which ran."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.ran: list[str] = []

    def task(self, name: str, seconds: float, result: object = None, error: BaseException | None = None):
        def run() -> object:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.ran.append(name)
            try:
                time.sleep(seconds)
                if error is not None:
                    raise error
                return result
            finally:
                with self.lock:
                    self.running -= 1

        return run


def test_results_come_in_task_order_and_at_most_threads_run_at_once(spark: SparkSession) -> None:
    tracker = Tracker()
    # The first task is the slowest: the others finish before it, the results keep the tasks' order.
    tasks = [tracker.task("a", 0.6, 1), tracker.task("b", 0.1, 2), tracker.task("c", 0.1, 3), tracker.task("d", 0.1, 4)]
    assert run_concurrently(spark, tasks, threads=2) == [1, 2, 3, 4]
    assert tracker.most == 2
    assert sorted(tracker.ran) == ["a", "b", "c", "d"]


def test_one_thread_runs_the_tasks_one_after_another_in_order(spark: SparkSession) -> None:
    tracker = Tracker()
    tasks = [tracker.task(name, 0.01, name) for name in "xyz"]
    assert run_concurrently(spark, tasks, threads=1) == ["x", "y", "z"]
    assert tracker.ran == ["x", "y", "z"]
    assert tracker.most == 1


def test_a_failure_is_raised_and_no_further_task_starts(spark: SparkSession) -> None:
    tracker = Tracker()
    tasks = [
        tracker.task("fails", 0.05, error=ValueError("table x is broken")),
        tracker.task("running", 0.5, "done"),  # started beside the failing one: it completes
        tracker.task("later-1", 0.01),
        tracker.task("later-2", 0.01),
    ]
    with pytest.raises(ValueError, match="table x is broken"):
        run_concurrently(spark, tasks, threads=2)
    assert sorted(tracker.ran) == ["fails", "running"]
    assert tracker.running == 0  # nothing still running when the error reaches the caller


class Killed(BaseException):
    """Like the reliability tests' simulated kill: not an Exception."""


def test_a_base_exception_passes_through_as_itself(spark: SparkSession) -> None:
    tracker = Tracker()
    tasks = [tracker.task("ok", 0.2, 1), tracker.task("killed", 0.01, error=Killed("at gold.after_table"))]
    with pytest.raises(Killed, match=r"gold\.after_table"):
        run_concurrently(spark, tasks, threads=2)


def test_the_first_failure_in_task_order_wins(spark: SparkSession) -> None:
    # The second task fails first in time; the first fails later: the first task's error is raised, as a
    # loop over the tasks would have met it first.
    tasks = [
        Tracker().task("slow", 0.4, error=KeyError("first in order")),
        Tracker().task("fast", 0.01, error=RuntimeError("first in time")),
    ]
    with pytest.raises(KeyError, match="first in order"):
        run_concurrently(spark, tasks, threads=2)


def test_tasks_see_the_callers_spark_job_label(spark: SparkSession) -> None:
    context = spark.sparkContext
    before = context.getLocalProperty("spark.jobGroup.id")
    context.setLocalProperty("spark.jobGroup.id", "gold:test-label")
    try:
        seen = run_concurrently(
            spark, [lambda: context.getLocalProperty("spark.jobGroup.id") for _ in range(3)], threads=2
        )
    finally:
        context.setLocalProperty("spark.jobGroup.id", before)  # type: ignore[arg-type]
    assert seen == ["gold:test-label"] * 3
