"""The dashboard's data access: Delta tables read through `deltalake` (no JVM) into pandas, cached.

A table is read once per Delta version: the cache key is (table path, version), so a page shows new data as
soon as a pipeline run commits a new version, and re-renders in between cost a version lookup only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from lakehouse.config import Settings

LAYERS = ("bronze", "silver", "gold", "ops")
PERSON_COLUMNS = ("person_id", "athlete_id", "user_id")  # a people-aware person_id wins when present

# What fills each table, for the "what to load" messages of pages whose tables are missing.
PIPELINE = "python -m jobs.pipeline"
FITNESS_INGEST = (
    "land your Strava/MapMyRun data (python -m jobs.ingest strava | mapmyrun FILE), then python -m jobs.pipeline "
    "--stage bronze, --stage silver, --stage gold (or python -m jobs.pipeline for the demo data)"
)
FITBIT_INGEST = "python -m jobs.ingest fitbit, then the bronze, silver and gold stages (or python -m jobs.pipeline)"
RACE = "python -m jobs.race (the full Tour) or python -m jobs.pipeline (a small race)"
SOURCE_HINTS: dict[str, str] = {
    "fitbit": FITBIT_INGEST,
    "hr_zone": FITBIT_INGEST,
    "race_": RACE,
    "api_calls": "python -m jobs.ingest strava|fitbit|demo (every API call is ledgered), then the silver stage",
    "forecast": "python -m jobs.pipeline --stage gold (needs Strava or MapMyRun workouts)",
    "classification_active": "python -m jobs.classify --k 3 --activate (or the Models page)",
}


def load_hint(layer: str, name: str) -> str:
    """The command that fills `layer.name`."""
    for prefix, hint in SOURCE_HINTS.items():
        if name.startswith(prefix):
            return hint
    return FITNESS_INGEST


class MissingTablesError(LookupError):
    """Tables a page needs do not exist yet; the message says which command fills them."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = missing
        super().__init__(
            "; ".join(f"{layer}.{name} is not there yet: {load_hint(layer, name)}" for layer, name in missing)
        )


@dataclass(frozen=True)
class Snapshot:
    """One version of one table, as a pyarrow table."""

    path: str
    version: int
    table: pa.Table


_CACHE: dict[tuple[str, int], Snapshot] = {}
_HANDLES: dict[str, DeltaTable] = {}
_LOCK = threading.Lock()


class Lake:
    """The lakehouse's Delta tables for reading: `lake.df("gold", "streaks")`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.tables_root.rstrip("/")

    def path(self, layer: str, name: str) -> str:
        """Where `layer.name` is stored."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        return f"{self.root}/{layer}/{name}"

    def _open(self, layer: str, name: str) -> DeltaTable | None:
        """The table's handle at its latest version: opened once, then brought up to date by reading only the
        log entries committed since (a pipeline run's new versions), which keeps a page's version checks cheap."""
        path = self.path(layer, name)
        with _LOCK:
            handle = _HANDLES.get(path)
        if handle is not None:
            try:
                handle.update_incremental()
                return handle
            except Exception:  # the table was removed or replaced under us: open it afresh
                with _LOCK:
                    _HANDLES.pop(path, None)
        try:
            handle = DeltaTable(path, storage_options=self._storage_options())
        except TableNotFoundError:
            return None
        with _LOCK:
            _HANDLES[path] = handle
        return handle

    def _storage_options(self) -> dict[str, str] | None:
        s3 = self.settings.s3
        if not self.root.startswith(("s3://", "s3a://")) or not s3.endpoint_url:
            return None
        return {"AWS_ENDPOINT_URL": s3.endpoint_url, "AWS_REGION": s3.region, "AWS_ALLOW_HTTP": "true",
                "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false" if s3.path_style else "true"}

    def exists(self, layer: str, name: str) -> bool:
        """Whether the Delta table exists."""
        return self._open(layer, name) is not None

    def version(self, layer: str, name: str) -> int | None:
        """The table's current Delta version (None: no table)."""
        table = self._open(layer, name)
        return None if table is None else int(table.version())

    def arrow(self, layer: str, name: str) -> pa.Table:
        """The table's current version as pyarrow, from the cache when that version was read before."""
        table = self._open(layer, name)
        if table is None:
            raise MissingTablesError([(layer, name)])
        key = (self.path(layer, name), int(table.version()))
        with _LOCK:
            hit = _CACHE.get(key)
        if hit is None:
            data = table.to_pyarrow_table()
            hit = Snapshot(key[0], key[1], data.drop_columns([c for c in data.column_names if c == "_row_hash"]))
            with _LOCK:
                for old in [k for k in _CACHE if k[0] == key[0]]:  # older versions of this table are stale
                    del _CACHE[old]
                _CACHE[key] = hit
        return hit.table

    def df(self, layer: str, name: str) -> pd.DataFrame:
        """The table's current version as pandas (dates as datetime64)."""
        frame = self.arrow(layer, name).to_pandas()
        for column in frame.columns:
            if frame[column].dtype == object and len(frame) and _is_date(frame[column].iloc[0]):
                frame[column] = pd.to_datetime(frame[column])
        return frame

    def require(self, *tables: tuple[str, str]) -> None:
        """Raise `MissingTablesError` naming every table in `tables` that does not exist."""
        missing = [t for t in tables if not self.exists(*t)]
        if missing:
            raise MissingTablesError(missing)

    def gold_tables(self) -> list[str]:
        """Names of the gold tables that exist."""
        return self.tables("gold")

    def tables(self, layer: str) -> list[str]:
        """Names of the Delta tables that exist in `layer` (local roots only list; others are probed)."""
        from pathlib import Path

        folder = Path(self.path(layer, "x")).parent
        if "://" in self.root or not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / "_delta_log").is_dir())


def _is_date(value: Any) -> bool:
    import datetime as dt

    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def person_column(frame: pd.DataFrame) -> str | None:
    """The column naming whose row it is: `person_id` when present, else `athlete_id` or `user_id`."""
    return next((c for c in PERSON_COLUMNS if c in frame.columns), None)


def people(frame: pd.DataFrame) -> list[Any]:
    """The distinct people in `frame`, sorted (empty when it has no person column)."""
    column = person_column(frame)
    if column is None:
        return []
    return sorted(frame[column].dropna().unique().tolist(), key=str)


def for_person(frame: pd.DataFrame, person: Any) -> pd.DataFrame:
    """The rows of `person` (all rows when `person` is None or the frame has no person column)."""
    column = person_column(frame)
    if column is None or person is None:
        return frame
    return frame[frame[column].astype(str) == str(person)]


def clear_cache() -> None:
    """Forget every cached table (tests, benchmarks)."""
    with _LOCK:
        _CACHE.clear()
        _HANDLES.clear()
