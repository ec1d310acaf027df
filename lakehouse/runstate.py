"""Whether a run has anything to do, known before Spark starts: the record of the last good run.

Why. A scheduled run that finds nothing new still starts a JVM and reads every ledger and progress table
through Spark to learn that nothing changed: about a minute on a 2-core machine (`bench`: "re-run with
nothing new, new process"). Everything a run's tables depend on can be looked at without Spark: the landing
zone's files, the settings that shape the tables, the library's code, and the tables as they stand (each
table's newest commit in its `_delta_log`). So a run compares those with what the last good run recorded and,
when all are the same, says so and stops before it starts Spark.

What a run records. `begin` (at a run's start, before Spark): the landing zone's listing (every key, size and
modification time), the settings that shape the tables, the code (the `lakehouse` and `jobs` packages, the
schemas, pyspark's and Delta's versions), the stages asked for, and each table's newest commit; it removes the
record of the run before, so a run that fails or is killed leaves none. `marking` tags every Delta commit the
run's session makes with the run's id (Delta's `userMetadata`, which `DESCRIBE HISTORY` shows). `finish` (every
stage passed) writes `<tables_root>/_last_run.json`: the inputs as the run saw them at its start and every
table's newest commit at its end - but only if every commit made to any table since the start is the run's
own. A commit by another writer meanwhile (the race stream, a model activated from the dashboard, SQL) may not
be reflected in what the run built: then nothing is recorded and the next run checks everything through Spark.

When the next run skips (`check`). Its stages are among the recorded ones; the landing listing, settings and
code are what the recorded run saw at its start (a file that landed during that run, or since, is a
difference); every table's newest commit is the recorded one (any commit since - a write, a DELETE, a VACUUM,
a restore - is a difference); the local metastore's folder is still there. Anything this cannot see - no
record, a damaged one, tables by catalog name, a tables root neither local nor S3 - means no skip: the record
can only save a run's time, never hide work from it. `jobs.run --recheck` runs the stages anyway; `--force`
and `--full-gold` always run them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.config import Settings
from lakehouse.storage import ObjectStore, is_s3, open_store

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

RECORD_KEY = "_last_run.json"
RECORD_FORMAT = 1
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
COMMIT_FILE = re.compile(r"\d{20}\.json")
DELTA_LOG = "_delta_log"
# Settings that shape what the tables hold. Not: how Spark runs (master, memory, partitions), where logs go,
# the SQL server, the dashboard, the webhook, the demo generator's sizes (its files are in the landing zone).
CONTENT_SETTINGS = ("landing_root", "tables_root", "catalog", "s3", "metastore", "analytics", "race", "people",
                    "imports", "schemas_dir")  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """What `check` found: `skip` when nothing changed since the last good run; `reason` says what, for the log."""

    skip: bool
    reason: str


@dataclass(frozen=True)
class Pending:
    """What `begin` saw at a run's start, for `finish`."""

    settings: Settings
    stages: tuple[str, ...]
    run_id: str
    inputs: str
    landing_files: int
    tables: dict[str, int]


def stage_names(stages: Collection[str], race_stages: Collection[str]) -> tuple[str, ...]:
    """The stages of a run as recorded: `bronze`, ..., and `race:bronze`, ... for the race's."""
    return tuple(sorted({*stages, *(f"race:{s}" for s in race_stages)}))


def marker(run_id: str) -> str:
    """The `userMetadata` every commit of the run carries."""
    return f"lakehouse run {run_id}"


def supported(settings: Settings) -> bool:
    """Whether this lakehouse's tables can be looked at without Spark: by path, on local disk or S3."""
    root = settings.tables_root
    return settings.catalog is None and (is_s3(root) or _local_root(root) is not None)


def check(settings: Settings, stages: Collection[str]) -> Verdict:
    """Whether the last good run already did what a run of `stages` would do now (never raises: a look that
    fails is a reason to run)."""
    try:
        return _check(settings, tuple(stages))
    except Exception as exc:  # the record only saves time: when in doubt, run
        return Verdict(False, f"could not compare with the last good run ({type(exc).__name__}: {exc})")


def _check(settings: Settings, stages: tuple[str, ...]) -> Verdict:
    if not supported(settings):
        return Verdict(False, "tables by catalog name or on a file system this cannot list")
    store = open_store(settings.tables_root, settings.s3)
    record = read_record(store)
    if record is None:
        return Verdict(False, "no good run recorded")
    missing = sorted(set(stages) - set(record.get("stages", ())))
    if missing:
        return Verdict(False, f"the last good run did not run {', '.join(missing)}")
    inputs, landing_files = input_digest(settings)
    if inputs != record.get("inputs"):
        return Verdict(False, "the landing zone, the settings or the code changed")
    tables = table_commits(settings)
    if tables != record.get("tables"):
        changed = sorted(set(tables.items()) ^ set(record.get("tables", {}).items()))
        return Verdict(False, f"a table changed since ({', '.join(sorted({name for name, _ in changed}))})")
    if not _metastore_there(settings):
        return Verdict(False, "the local metastore's folder is gone (the run names the tables again)")
    return Verdict(True, f"nothing new since the good run {record.get('run_id')} of {record.get('finished_at')}: "
                         f"{landing_files} landed files, settings, code and {len(tables)} tables unchanged; "
                         "no stage run (--recheck runs them anyway)")  # fmt: skip


def begin(settings: Settings, stages: Collection[str], run_id: str) -> Pending | None:
    """What the run sees at its start; removes the last record (a run that does not finish leaves none). None
    when this lakehouse cannot be looked at without Spark, or the look failed (the run goes on unrecorded)."""
    if not supported(settings):
        return None
    try:
        store = open_store(settings.tables_root, settings.s3)
        store.delete(RECORD_KEY)
        inputs, landing_files = input_digest(settings)
        return Pending(settings, tuple(stages), run_id, inputs, landing_files, table_commits(settings))
    except Exception as exc:
        log.warning("the run's inputs could not be recorded (%s): the next run checks everything", exc)
        return None


def finish(pending: Pending) -> bool:
    """Record the run as good (every stage passed): True when recorded; False (logged) when another writer
    committed to a table during the run, or the tables could not be read."""
    settings = pending.settings
    try:
        store = open_store(settings.tables_root, settings.s3)
        tables = table_commits(settings)
        foreign = _foreign_commits(store, pending.tables, tables, marker(pending.run_id))
        if foreign:
            log.info("not recorded as a good run: %s committed to by another writer during it", ", ".join(foreign))
            return False
        record = {
            "format": RECORD_FORMAT,
            "run_id": pending.run_id,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "stages": list(pending.stages),
            "inputs": pending.inputs,
            "landing_files": pending.landing_files,
            "tables": tables,
        }
        store.write_bytes(RECORD_KEY, json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))
        return True
    except Exception as exc:
        log.warning("the run could not be recorded (%s): the next run checks everything", exc)
        return False


@contextmanager
def marking(spark: SparkSession, run_id: str) -> Iterator[None]:
    """Every Delta commit the session makes in the block carries the run's id (`userMetadata`)."""
    before = spark.conf.get(USER_METADATA, None)
    spark.conf.set(USER_METADATA, marker(run_id))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(USER_METADATA)
        else:
            spark.conf.set(USER_METADATA, before)


def read_record(store: ObjectStore) -> dict[str, Any] | None:
    """The last good run's record; None when there is none, or it is damaged or of another format."""
    try:
        record = json.loads(store.read_bytes(RECORD_KEY))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    return record


def input_digest(settings: Settings) -> tuple[str, int]:
    """(SHA-256 of the landing zone's listing, the settings that shape the tables, the schemas and the code; the
    number of landed files)."""
    sha = hashlib.sha256()
    files = open_store(settings.landing_root, settings.s3).list_files()
    for info in files:
        sha.update(f"{info.key}\0{info.size}\0{info.mtime.isoformat()}\n".encode())
    sha.update(b"\0settings\0" + settings_text(settings).encode("utf-8"))
    for name, data in sorted(_traversable_files(settings.schemas_dir, "")):
        sha.update(f"\0schema {name}\0".encode() + data)
    sha.update(b"\0code\0" + code_digest().encode("ascii"))
    return sha.hexdigest(), len(files)


def settings_text(settings: Settings) -> str:
    """The settings that shape the tables (`CONTENT_SETTINGS` and Spark's extra SQL settings), as canonical JSON."""
    chosen = {name: getattr(settings, name) for name in CONTENT_SETTINGS}
    chosen["spark_conf"] = settings.spark.extra_conf
    return json.dumps(_plain(chosen), sort_keys=True)


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data (dataclasses as dicts, tuples as lists, anything else as its text)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@cache
def code_digest() -> str:
    """SHA-256 of the library's and the jobs' Python files and pyspark's and Delta's versions (once a process)."""
    sha = hashlib.sha256()
    for package in ("lakehouse", "jobs"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:  # the jobs may not be installed beside the library
            sha.update(f"{package}: not installed\n".encode())
            continue
        for location in spec.submodule_search_locations:
            base = Path(location)
            for path in sorted(base.rglob("*.py")):
                sha.update(f"{package}/{path.relative_to(base).as_posix()}\0".encode() + path.read_bytes())
    for dist in ("pyspark", "delta-spark"):
        try:
            sha.update(f"{dist}=={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:  # e.g. Databricks' own Spark
            sha.update(f"{dist}: not installed\n".encode())
    return sha.hexdigest()


def _traversable_files(folder: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.is_dir():
            yield from _traversable_files(item, f"{prefix}{item.name}/")
        elif item.is_file():
            yield f"{prefix}{item.name}", item.read_bytes()


def table_commits(settings: Settings) -> dict[str, int]:
    """Every Delta table under the tables root (`layer/name`) and the version of its newest commit."""
    local = _local_root(settings.tables_root)
    if local is None:
        keys = open_store(settings.tables_root, settings.s3).list_keys()
        found: dict[str, int] = {}
        for key in keys:
            table, sep, name = key.rpartition(f"/{DELTA_LOG}/")
            if sep and COMMIT_FILE.fullmatch(name):
                found[table] = max(found.get(table, -1), int(name[:20]))
        return found
    out: dict[str, int] = {}
    for folder, subfolders, _ in os.walk(local):
        if DELTA_LOG in subfolders:
            versions = [int(n[:20]) for n in os.listdir(Path(folder, DELTA_LOG)) if COMMIT_FILE.fullmatch(n)]
            if versions:
                out[Path(folder).relative_to(local).as_posix()] = max(versions)
            subfolders[:] = []  # a table's own folders (partitions) hold data files only
        else:  # `_metastore`, temporary folders: not tables
            subfolders[:] = [s for s in subfolders if not s.startswith(("_", "."))]
    return out


def _foreign_commits(store: ObjectStore, before: dict[str, int], after: dict[str, int], ours: str) -> list[str]:
    """The tables given a commit between `before` and `after` that does not carry `ours` (or that is unreadable);
    a table that went away or back in version counts too."""
    foreign = sorted(set(before) - set(after))
    for table, newest in after.items():
        start = before.get(table, -1)
        if newest < start:
            foreign.append(table)
            continue
        for version in range(start + 1, newest + 1):
            if _commit_metadata(store, table, version) != ours:
                foreign.append(table)
                break
    return foreign


def _commit_metadata(store: ObjectStore, table: str, version: int) -> str | None:
    """The `userMetadata` of one commit; None when it carries none or its file is gone."""
    try:
        text = store.read_bytes(f"{table}/{DELTA_LOG}/{version:020d}.json").decode("utf-8")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        info = json.loads(line).get("commitInfo") if line.strip() else None
        if info is not None:
            return info.get("userMetadata")
    return None


def _metastore_there(settings: Settings) -> bool:
    """The local metastore's folder exists (or names come from elsewhere)."""
    from lakehouse.metastore import local_metastore, uses_local_metastore

    return not uses_local_metastore(settings) or local_metastore(settings).folder.is_dir()


def _local_root(root: str) -> Path | None:
    """The folder of a local tables root (`/x`, `file:/x`, `file:///x`); None for other URIs."""
    if root.startswith("file:"):
        return Path(root.removeprefix("file://").removeprefix("file:"))
    if "://" in root or root.startswith("dbfs:"):
        return None
    return Path(root)
