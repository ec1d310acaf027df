"""The landing zone: immutable files, one folder per source and entity, one folder per month.

Layout: `<landing>/<source>/<entity>/month=YYYY-MM/<run-id>.<ext>`, e.g.
`<landing>/strava/activities/month=2024-05/20241121T101500Z-3f9a1c.json`. A file is never rewritten: a
later pull of the same month lands as a new file with a newer run id, and bronze picks it up.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakehouse.storage import ObjectStore


class ImmutableLandingError(RuntimeError):
    """A landing file already exists with different content: landed files are never rewritten."""


@dataclass(frozen=True)
class LandedFile:
    """One file written (or found already identical) in the landing zone."""

    key: str
    uri: str
    records: int
    size: int
    written: bool  # False when an identical file was already there


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time to the second plus 6 random hex digits."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def landing_key(source: str, entity: str, month: str, run_id: str, ext: str = "json") -> str:
    """The key of a landing file, relative to the landing root."""
    if len(month) != 7 or month[4] != "-":
        raise ValueError(f"month must look like 2024-05, got {month!r}")
    return f"{source}/{entity}/month={month}/{run_id}.{ext}"


def entity_prefix(source: str, entity: str) -> str:
    """The folder of one source and entity, relative to the landing root."""
    return f"{source}/{entity}/"


class LandingZone:
    """Writes immutable monthly files through an `ObjectStore`."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def write_bytes(self, key: str, data: bytes, records: int) -> LandedFile:
        """Write a new file; an identical existing file is left alone, a different one is an error."""
        if self.store.exists(key):
            if self.store.read_bytes(key) == data:
                return LandedFile(key, self.store.uri(key), records, len(data), written=False)
            raise ImmutableLandingError(
                f"{self.store.uri(key)} already exists with other content; landing files are immutable, "
                "land the new data under a new run id"
            )
        self.store.write_bytes(key, data)
        return LandedFile(key, self.store.uri(key), records, len(data), written=True)

    def write_json_month(
        self, source: str, entity: str, month: str, run_id: str, records: list[dict[str, Any]]
    ) -> LandedFile:
        """Land one month of records as a JSON array."""
        data = json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.write_bytes(landing_key(source, entity, month, run_id), data, len(records))

    def write_json_by_month(
        self,
        source: str,
        entity: str,
        run_id: str,
        records: Iterable[dict[str, Any]],
        month_of: Callable[[dict[str, Any]], str],
    ) -> list[LandedFile]:
        """Group records by `month_of(record)` ("YYYY-MM") and land one file per month."""
        by_month: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            by_month[month_of(record)].append(record)
        return [
            self.write_json_month(source, entity, month, run_id, by_month[month])
            for month in sorted(by_month)
        ]

    def list_files(self, source: str, entity: str) -> list[str]:
        """Keys of every landed file of one source and entity."""
        return self.store.list_keys(entity_prefix(source, entity))
