"""Pieces every API sync shares: the report it returns, the state file, and month-batched landing.

The state file `_state/<source>.json` lives in the landing zone (through the `ObjectStore`) and is only
rewritten after the data it describes has landed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakehouse.faults import crash_point
from lakehouse.landing import LandedFile, LandingZone
from lakehouse.sources.errors import StateFileError
from lakehouse.storage import ObjectStore

STATE_PREFIX = "_state"
STATE_VERSION = 1
COMPLETED = "completed"
NOT_YET = "not_yet"  # a previous run said to wait, and the time has not come
CRASHED = "crashed"  # an unexpected error; what was fetched before it was still landed


@dataclass
class SyncReport:
    """What one run did and, if it stopped early, why and when it can go on."""

    source: str
    run_id: str
    calls: int = 0
    landed: dict[str, int] = field(default_factory=dict)  # entity -> records landed this run
    files: list[LandedFile] = field(default_factory=list)
    ledger_files: list[LandedFile] = field(default_factory=list)
    duplicates_skipped: int = 0  # the same record seen twice in one pass (pages shifted under us)
    invalid_skipped: int = 0  # list entries without a usable id or date; detail/streams answers of the wrong shape
    missing: int = 0  # details/streams answered 404 (deleted or private activity)
    stopped_reason: str = COMPLETED
    resume_at: datetime | None = None
    message: str = ""

    @property
    def completed(self) -> bool:
        """True when nothing is left to fetch."""
        return self.stopped_reason == COMPLETED

    @property
    def activities_landed(self) -> int:
        """Strava activity summaries landed this run."""
        return self.landed.get("activities", 0)

    @property
    def records_landed(self) -> int:
        """Records of every entity landed this run."""
        return sum(self.landed.values())


def state_key(source: str) -> str:
    """`_state/strava.json`."""
    return f"{STATE_PREFIX}/{source}.json"


def load_state(store: ObjectStore, source: str) -> dict[str, Any]:
    """The source's state, or an empty one before the first run."""
    key = state_key(source)
    if not store.exists(key):
        return {"version": STATE_VERSION}
    try:
        state = json.loads(store.read_bytes(key))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON
        raise StateFileError(f"{_unreadable(key)}: {type(exc).__name__}") from None
    if not isinstance(state, dict):
        raise StateFileError(f"{_unreadable(key)}: not a JSON object")
    return state


def _unreadable(key: str) -> str:
    return (
        f"the sync state {key} in the landing zone is unreadable (restore it, or delete it to sync from the "
        "start again: landed files are kept and silver deduplicates)"
    )


def save_state(store: ObjectStore, source: str, state: dict[str, Any]) -> None:
    """Replace the state file (atomically: the store writes whole objects)."""
    crash_point("ingest.before_save_state")  # the data landed, the cursor not yet moved
    state = {**state, "version": STATE_VERSION}
    store.write_bytes(state_key(source), json.dumps(state, indent=1, sort_keys=True).encode("utf-8"))


def part_run_id(run_id: str, part: int) -> str:
    """The file name stem of the n-th flush of one run: the run id, then `<run-id>-p002`, ..."""
    return run_id if part == 1 else f"{run_id}-p{part:03d}"


class MonthlyBatches:
    """Buffers records per entity and lands them as monthly JSON files; each flush is a new part."""

    def __init__(self, landing: LandingZone, source: str, run_id: str) -> None:
        self.landing = landing
        self.source = source
        self.run_id = run_id
        self._buffer: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self._parts: dict[str, int] = defaultdict(int)
        self.landed: dict[str, int] = defaultdict(int)
        self.files: list[LandedFile] = []

    def add(self, entity: str, month: str, record: dict[str, Any]) -> None:
        """Buffer one record for `month` ("YYYY-MM")."""
        self._buffer[entity].append((month, record))

    def pending(self, entity: str | None = None) -> int:
        """Records buffered and not yet landed."""
        if entity is not None:
            return len(self._buffer.get(entity, []))
        return sum(len(rows) for rows in self._buffer.values())

    def flush(self) -> list[LandedFile]:
        """Land everything buffered, one file per entity and month."""
        written: list[LandedFile] = []
        for entity in sorted(self._buffer):
            rows = self._buffer[entity]
            if not rows:
                continue
            self._parts[entity] += 1
            run_id = part_run_id(self.run_id, self._parts[entity])
            by_month: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for month, record in rows:
                by_month[month].append(record)
            for month in sorted(by_month):
                written.append(self.landing.write_json_month(self.source, entity, month, run_id, by_month[month]))
                crash_point("ingest.after_file_landed")
            self.landed[entity] += len(rows)
        self._buffer.clear()
        self.files += written
        return written
