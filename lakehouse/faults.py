"""Crash points: a test-only way to kill the whole process (`kill -9`) at a named point of a run.

The reliability tests (`tests/reliability/test_kill9.py`) run a real job as a subprocess with

    LAKEHOUSE_CRASH_AT=silver.after_merge        # SIGKILL the first time the run reaches that point
    LAKEHOUSE_CRASH_AT=bronze.after_data_write:2 # ... the second time (e.g. the second bronze entity)
    LAKEHOUSE_CRASH_AT=silver.before_merge:1+350ms  # at the first hit, start a timer: SIGKILL 350 ms later,
                                                    # wherever the run is then (inside Delta's own commit)

then run it again and check every table equals an uninterrupted run's. The library calls
`crash_point("layer.what")` at the places where a crash could leave half-done state; with the variable
unset that is one dictionary lookup. SIGKILL cannot be caught: no `finally`, no atexit, no JVM shutdown
hook runs, exactly like the power going out.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from dataclasses import dataclass

CRASH_ENV = "LAKEHOUSE_CRASH_AT"
_SPEC = re.compile(r"^(?P<name>[\w.]+)(?::(?P<nth>\d+))?(?:\+(?P<ms>\d+)ms)?$")


class CrashSpecError(ValueError):
    """`LAKEHOUSE_CRASH_AT` is not `<point>[:<n>][+<ms>ms]`."""


@dataclass(frozen=True)
class CrashSpec:
    """Where to crash: the point's name, on its `nth` hit, `delay_ms` after it (0: at once)."""

    name: str
    nth: int = 1
    delay_ms: int = 0


def parse_spec(text: str) -> CrashSpec:
    """`"silver.after_merge:2+100ms"` -> CrashSpec("silver.after_merge", 2, 100)."""
    match = _SPEC.match(text.strip())
    if not match or (match["nth"] is not None and int(match["nth"]) < 1):
        raise CrashSpecError(f"{CRASH_ENV}={text!r}: expected <point>[:<n>][+<ms>ms], e.g. bronze.after_plan:2")
    return CrashSpec(match["name"], int(match["nth"] or 1), int(match["ms"] or 0))


_hits: dict[str, int] = {}
_lock = threading.Lock()


def kill_now() -> None:
    """SIGKILL the job: its whole process group when it leads one (Python and its Spark JVM die together,
    as under `kill -9 -<pgid>`), else this process (the JVM then exits when its gateway pipe closes)."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point(name: str) -> None:
    """Kill the process here if `LAKEHOUSE_CRASH_AT` names this point (on its n-th hit); else do nothing."""
    text = os.environ.get(CRASH_ENV)
    if not text:
        return
    spec = parse_spec(text)
    if spec.name != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        hit = _hits[name]
    if hit != spec.nth:
        return
    if spec.delay_ms:
        timer = threading.Timer(spec.delay_ms / 1000, kill_now)
        timer.daemon = True
        timer.start()
        return
    kill_now()
