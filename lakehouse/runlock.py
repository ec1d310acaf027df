"""One run at a time: an exclusive lock on the lakehouse that a pipeline run holds from start to end.

A scheduled run (cron, a systemd timer) can start while the previous one is still going; two runs writing the
same tables would only waste work (Delta keeps them correct) and double the notifications. The lock is an
operating-system file lock (`flock`) on a file beside the tables (`<tables_root>/_run.lock`; for tables on S3,
a file under `~/.cache/fitness-lakehouse/locks/`, which guards runs started on this machine). The kernel
releases it when the holder exits, even on a crash or `kill -9`, so a stale lock never blocks the next run.

    with run_lock(settings, wait_seconds=600):   # wait up to 10 minutes, then RunLockedError
        run(...)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.config import Settings

POLL_SECONDS = 0.2


class RunLockedError(RuntimeError):
    """Another run holds the lakehouse's run lock."""


def lock_path(settings: Settings) -> Path:
    """The lock file of the lakehouse at `settings.tables_root`."""
    root = settings.tables_root
    if "://" not in root and not root.startswith("dbfs:"):
        return Path(root.removeprefix("file:")) / "_run.lock"
    digest = hashlib.sha256(root.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "fitness-lakehouse" / "locks" / f"{digest}.lock"


def _holder(path: Path) -> str:
    """Who holds the lock, as written by the holder (best effort: the file may be mid-write)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another run"
    return f"run pid {info.get('pid', '?')} ({info.get('what', 'a run')}, started {info.get('started', '?')})"


@contextmanager
def run_lock(
    settings: Settings,
    wait_seconds: float = 0.0,
    what: str = "pipeline",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the lakehouse's run lock for the block; wait up to `wait_seconds` for it, then raise RunLockedError.

    `on_wait` is told once, with a line naming the holder, when the lock is taken and this call starts waiting
    (a job prints it: a run that sits silent for minutes looks hung)."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait_seconds:.0f}s" if wait_seconds > 0 else ""
                    raise RunLockedError(
                        f"{_holder(path)} holds the run lock {path}{waited}; not starting a second run"
                    ) from None
                if on_wait is not None:
                    on_wait(f"{_holder(path)} holds the run lock {path}; waiting up to {wait_seconds:.0f}s for it")
                    on_wait = None
                time.sleep(POLL_SECONDS)
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": what, "started": started}).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
