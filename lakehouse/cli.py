"""What every job's command line shares: settings, a log file, exit codes and a one-line error.

A job is `main(argv) -> int`, built as `run_job("name", parser, body, argv)`: the parser gets `--env`, the
settings are loaded (a bad settings file is exit 2 with one line), a log file is opened under the settings'
`log_dir` (everything the library logs, and the traceback of a failure), and the body runs. A failure prints
one line on stderr that names the log file; the traceback stays in the file.

Exit codes: 0 done, 1 failed, 2 bad arguments or settings, 3 stopped early (run again later).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from lakehouse.config import ConfigError, Settings, load_settings
from lakehouse.faults import crash_point
from lakehouse.runlock import RunLockedError, run_lock

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED_EARLY = 0, 1, 2, 3


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries the summary)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_env_argument(parser: argparse.ArgumentParser, default_env: str | None) -> None:
    """`--env`: which `conf/<env>.toml` to use."""
    where = default_env or "local"
    parser.add_argument(
        "--env", default=None, help=f"settings file conf/<env>.toml (default: $LAKEHOUSE_ENV or {where})"
    )


def open_log(settings: Settings, job: str) -> logging.FileHandler | None:
    """Send the library's logging to `<log_dir>/<job>-<UTC time>.log`; None when the folder is not writable."""
    try:
        folder = Path(settings.log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{job}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # py4j chatters at INFO about every gateway call.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return handler


def one_line(exc: BaseException) -> str:
    """`Type: the first line of the message`."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _say(job: str, line: str) -> None:
    """One line for the operator on stderr, now (a waiting run says so before it waits)."""
    print(f"{job}: {line}", file=sys.stderr, flush=True)


def run_job(
    job: str,
    parser: argparse.ArgumentParser,
    body: Callable[[argparse.Namespace, Settings], int],
    argv: Sequence[str] | None = None,
    default_env: str | None = None,
    lock: bool = False,
) -> int:
    """Parse `argv`, load settings, open the log, run `body(args, settings)`; failures are one line + exit 1.

    With `lock`, the body runs holding the lakehouse's run lock (`lakehouse.runlock`): a second run waits
    `--wait-lock` seconds for it (saying so on stderr), then exits 3 with one line saying who holds it.
    """
    add_env_argument(parser, default_env)
    if lock:
        parser.add_argument("--wait-lock", type=float, default=0.0, metavar="SECONDS",
                            help="if another run holds the run lock, wait this long for it (default: exit at once)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message
        return int(exc.code or 0) and EXIT_USAGE
    try:
        settings = load_settings(args.env or os.environ.get("LAKEHOUSE_ENV") or default_env)
    except ConfigError as exc:
        print(f"{job}: bad settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    handler = open_log(settings, job)
    log_path = handler.baseFilename if handler else None
    started = time.monotonic()
    try:
        if not lock:
            crash_point("job.start")
            return body(args, settings)
        with run_lock(settings, wait_seconds=args.wait_lock, what=job, on_wait=partial(_say, job)):
            crash_point("job.start")  # a timed kill (`job.start+<ms>ms`) lands wherever the run is by then
            return body(args, settings)
    except RunLockedError as exc:  # another run is going on: not a failure of this one
        print(f"{job}: {exc}", file=sys.stderr)
        return EXIT_STOPPED_EARLY
    except KeyboardInterrupt:
        print(f"{job}: interrupted after {time.monotonic() - started:.0f}s; run it again to resume", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # one clear line for the operator; the traceback goes to the log file
        logging.getLogger(job).error("%s failed:\n%s", job, traceback.format_exc())
        where = f" (details: {log_path})" if log_path else ""
        print(f"{job} failed in {time.monotonic() - started:.0f}s: {one_line(exc)}{where}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if handler:
            logging.getLogger().removeHandler(handler)
            handler.close()
