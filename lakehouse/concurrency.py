"""Build several tables at once in one Spark session: a stage's independent tables on a few driver threads.

Most of a small table's build is driver work (planning queries, committing to Delta, the metastore), which
one thread does on one core while the others idle; a second build at the same time uses them. Spark runs
jobs from several threads of one session side by side, and Delta's commits to different tables never
conflict (two blind appends to one ops table do not either; `retry_on_conflict` covers the rest).

    results = run_concurrently(spark, [lambda: build(a), lambda: build(b)], threads=2)

returns the results in the order of the tasks, whatever order they finished in. When a task raises, no task
that has not started yet is started, the running ones finish, and the first failure (in task order) is
raised: like a sequential loop that stopped there, except that tasks already running complete. Each task
starts with the caller's Spark local properties (its job group and description, `lakehouse.joblabel`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from pyspark.sql import SparkSession
from pyspark.util import inheritable_thread_target

Result = TypeVar("Result")


def run_concurrently(spark: SparkSession, tasks: Sequence[Callable[[], Result]], threads: int) -> list[Result]:
    """Run `tasks` on up to `threads` threads; their results in task order (see the module's docstring)."""
    if threads <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    stop = threading.Event()

    def guarded(task: Callable[[], Result]) -> Callable[[], Result | None]:
        @inheritable_thread_target(spark)  # captures the caller's local properties now, sets them in the worker
        def run() -> Result | None:
            if stop.is_set():  # an earlier task failed: do not start another
                return None
            try:
                return task()
            except BaseException:  # a simulated kill or an interrupt too: the Future keeps it as it was
                stop.set()
                raise

        return run

    with ThreadPoolExecutor(max_workers=min(threads, len(tasks)), thread_name_prefix="table") as pool:
        futures: list[Future] = [pool.submit(guarded(task)) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:  # after a failure: the tasks not started never start (a no-op when all ran)
            future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]
