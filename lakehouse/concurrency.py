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


class _Failed(Exception):
    """Carries a task's BaseException (e.g. KeyboardInterrupt) through the executor's Future."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


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
            except Exception:
                stop.set()
                raise
            except BaseException as exc:  # a simulated kill, an interrupt: stop too, re-raised as it was
                stop.set()
                raise _Failed(exc) from exc

        return run

    with ThreadPoolExecutor(max_workers=min(threads, len(tasks)), thread_name_prefix="table") as pool:
        futures: list[Future] = [pool.submit(guarded(task)) for task in tasks]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            stop.set()
            for future in futures:
                future.cancel()
        wait(futures)
    for future in futures:
        if future.cancelled():
            continue
        error = future.exception()
        if isinstance(error, _Failed):
            raise error.error
        if error is not None:
            raise error
    return [future.result() for future in futures]
