"""A progress line on stderr, at most about once a second, with an estimate of the time left.

The estimate comes from the call ledger (calls made, mean call time) and the rate limiter (how long the
remaining calls take under the 15-minute/daily or hourly windows).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

DEFAULT_MIN_INTERVAL_SECONDS = 1.0


def format_duration(seconds: float | None) -> str:
    """`2d 3h`, `3h 05m`, `12m 30s`, `45s`; `?` when unknown."""
    if seconds is None:
        return "?"
    seconds = max(round(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


class ProgressLine:
    """Rewrites one status line (or prints lines when the stream is not a terminal), throttled."""

    def __init__(
        self,
        stream: TextIO | None,
        *,
        min_interval: float = DEFAULT_MIN_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.min_interval = min_interval
        self.monotonic = monotonic
        self._last_shown: float | None = None
        self.lines_shown = 0

    def due(self) -> bool:
        """Whether a line would be shown now (lets callers skip building one)."""
        if self.stream is None:
            return False
        return self._last_shown is None or self.monotonic() - self._last_shown >= self.min_interval

    def show(self, text: str, *, force: bool = False) -> None:
        """Show `text` unless a line was shown less than `min_interval` seconds ago."""
        if self.stream is None or not (force or self.due()):
            return
        self._last_shown = self.monotonic()
        self.lines_shown += 1
        if self.stream.isatty():
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, text: str) -> None:
        """The final line, always shown, ending the line on a terminal."""
        self.show(text, force=True)
        if self.stream is not None and self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()
