"""Hostile files from every source in one lakehouse: nothing crashes, each case ends as it should (issue 13, 7).

One run over the whole corpus (`corpus.py`): the importers land the exports (Strava archive, Google Takeout,
MapMyRun), then `lakehouse.stages.run_stages` runs bronze and silver over everything landed, and race
telemetry goes through its bronze load. Then every case is checked on its own (one test per case): the
records it should load are in silver with the values written in the case, the ones it should not are
quarantined with a reason naming the problem, and the run's summary counts the quarantined records.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from corpus import (
    BronzeQuarantined,
    Case,
    Corpus,
    LedgerNote,
    Loaded,
    NotLoaded,
    Reported,
    Rows,
    SilverQuarantined,
    build_corpus,
)
from pyspark.sql import DataFrame, SparkSession

from lakehouse import stages
from lakehouse.bronze.loader import LEDGER_TABLE, QUARANTINE_TABLE
from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.quality.gate import quarantine_ref
from lakehouse.race.bronze import load_telemetry
from lakehouse.sources.mapmyrun import import_csv
from lakehouse.sources.strava_archive import import_archive
from lakehouse.sources.takeout import import_takeout
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table

CATEGORIES = {
    "truncated", "wrong types", "huge numbers", "NaN and Infinity", "empty", "binary", "10 MB line",
    "deep nesting", "odd Unicode", "BOM", "CRLF", "non-UTF-8", "duplicate ids", "time zones", "calendar",
    "missing fields", "extra fields", "wrong folder",
}  # fmt: skip
SOURCES = {"strava", "strava streams", "strava archive", "fitbit", "google health", "takeout", "mapmyrun", "race"}


SILVER_TABLES = ("strava_activities", "strava_streams", "fitbit_intraday", "mapmyrun_workouts")


@dataclass
class HostileRun:
    """The corpus, the lakehouse it went into, the import reports, the run's summary, and the tables' rows
    (each table read once: the checks are plain Python, so 70 cases cost no more Spark jobs)."""

    corpus: Corpus
    settings: Settings
    reports: dict[str, list[str]]
    rows: list[stages.SummaryRow]
    telemetry: Any
    silver: dict[str, list[dict[str, Any]]]
    bronze_quarantine: list[dict[str, Any]]
    silver_quarantine: list[dict[str, Any]]
    ledger: list[dict[str, Any]]


def _collect(df: DataFrame) -> list[dict[str, Any]]:
    return [row.asDict() for row in df.collect()]


@pytest.fixture(scope="module")
def hostile(spark: SparkSession, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    root = tmp_path_factory.mktemp("hostile")
    settings = base_settings.with_roots(str(root / "landing"), str(root / "tables"))
    started = time.monotonic()
    corpus = build_corpus(root / "landing", root / "exports")
    landing = LandingZone(LocalStore(settings.landing_root))
    reports: dict[str, list[str]] = {}
    assert corpus.strava_archive and corpus.takeout
    reports["strava_archive"] = import_archive(corpus.strava_archive, landing).lines
    reports["takeout"] = import_takeout(corpus.takeout, landing, user_id="hostile-takeout").lines()
    mapmyrun: list[str] = []
    for name, path in corpus.mapmyrun_exports.items():
        try:
            import_csv(path, landing, f"hostile-{name}")
        except ValueError as exc:  # a clear error for an export that is not one
            mapmyrun.append(f"{name}: {type(exc).__name__}: {exc}")
    reports["mapmyrun"] = mapmyrun
    imported = time.monotonic()
    rows = stages.run_stages(settings, ("bronze", "silver"), "hostile-run", spark=spark, with_race=False)
    telemetry = load_telemetry(spark, settings, run_id="hostile-run")
    print(f"\nhostile corpus: written and imported in {imported - started:.0f}s, bronze+silver+telemetry in "
          f"{time.monotonic() - imported:.0f}s\n{stages.format_summary(rows)}", file=sys.stderr)
    tables = Tables(settings)
    return HostileRun(
        corpus, settings, reports, rows, telemetry,
        silver={t: _collect(read_table(spark, tables.ref("silver", t))) for t in SILVER_TABLES},
        bronze_quarantine=_collect(read_table(spark, tables.ref(*QUARANTINE_TABLE)).drop("raw")),
        silver_quarantine=_collect(
            read_table(spark, quarantine_ref(settings)).select("table_name", "rule", "row_json")
        ),
        ledger=_collect(read_table(spark, tables.ref(*LEDGER_TABLE)).select("file_path", "status", "notes")),
    )  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _where(rows: list[dict[str, Any]], key: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows whose columns equal `key`'s values (a string matches the column's text form)."""
    return [
        row for row in rows
        if all((str(_plain(row[k])) == v) if isinstance(v, str) else (row[k] == v) for k, v in key.items())
    ]  # fmt: skip


def _matches(row: dict[str, Any], key: dict[str, Any]) -> bool:
    return all(str(row.get(k)) == str(v) for k, v in key.items())


def check(run: HostileRun, expectation: Any) -> None:
    """Assert one expectation of a case against the lakehouse's rows."""
    if isinstance(expectation, Loaded):
        found = _where(run.silver[expectation.table], expectation.key)
        assert len(found) == 1, f"{expectation}: {len(found)} rows"
        actual = {k: _plain(found[0][k]) for k in expectation.values}
        assert actual == expectation.values
    elif isinstance(expectation, NotLoaded | Rows):
        count = len(_where(run.silver[expectation.table], expectation.key))
        assert count == (0 if isinstance(expectation, NotLoaded) else expectation.count), expectation
    elif isinstance(expectation, BronzeQuarantined):
        reasons = [
            r["reason"] for r in run.bronze_quarantine
            if r["_table"] == expectation.table and (expectation.file is None or expectation.file in r["_source_file"])
        ]  # fmt: skip
        matching = [r for r in reasons if expectation.reason in r]
        assert len(matching) == expectation.count, f"{expectation}: reasons {reasons[:20]}"
    elif isinstance(expectation, SilverQuarantined):
        rows = [
            json.loads(r["row_json"]) for r in run.silver_quarantine
            if r["table_name"] == f"silver.{expectation.table}" and r["rule"] == expectation.rule
        ]  # fmt: skip
        mine = [row for row in rows if _matches(row, expectation.key)]
        assert mine, f"{expectation}: no such row among {len(rows)}"
        if expectation.error is not None:
            errors = [e for row in mine for e in row.get("_parse_errors") or []]
            assert any(expectation.error in e for e in errors), errors
    elif isinstance(expectation, LedgerNote):
        notes = [
            r["notes"] or "" for r in run.ledger if expectation.file in r["file_path"] and r["status"] == "committed"
        ]
        assert any(expectation.note in n for n in notes), notes
    elif isinstance(expectation, Reported):
        lines = run.reports[expectation.importer]
        assert any(expectation.text in line for line in lines), lines
    else:  # pragma: no cover - a new kind of expectation needs its check
        raise AssertionError(f"unknown expectation {expectation!r}")


def _cases() -> list[Case]:
    from tempfile import TemporaryDirectory

    with TemporaryDirectory() as tmp:  # the case list only; the files are written again by the fixture
        return build_corpus(Path(tmp) / "landing", Path(tmp) / "exports").cases


CASES = _cases()


def test_the_corpus_covers_every_source_and_category() -> None:
    assert len(CASES) >= 50
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.source for c in CASES} == SOURCES
    assert {c.category for c in CASES} >= CATEGORIES


def test_the_run_finishes_and_every_table_loads(hostile: HostileRun) -> None:
    assert not stages.failed(hostile.rows), stages.format_summary(hostile.rows)
    written = {r.table: r.rows_written for r in hostile.rows}
    for table in ("bronze.strava_activities", "bronze.strava_activity_streams", "bronze.fitbit_intraday",
                  "bronze.google_health_datapoints", "bronze.mapmyrun_workouts", "silver.strava_activities",
                  "silver.strava_streams", "silver.fitbit_intraday", "silver.mapmyrun_workouts"):  # fmt: skip
        assert (written.get(table) or 0) > 0, table
    assert hostile.telemetry.rows_loaded == 2


def test_the_summary_counts_the_quarantined_records(hostile: HostileRun) -> None:
    by_table = Counter(r["_table"] for r in hostile.bronze_quarantine)
    summary = {r.table: r.quarantined for r in hostile.rows if r.stage == "bronze" and r.quarantined is not None}
    assert {t: n for t, n in summary.items() if n} == {f"bronze.{t}": n for t, n in by_table.items()
                                                        if t != "race_telemetry"}  # fmt: skip
    assert hostile.telemetry.rows_quarantined == by_table["race_telemetry"]
    # Silver: rows, not rule hits (a row breaking two rules is one quarantined row); one table can be fed by two
    # bronze tables (`silver.fitbit_intraday <- google_health_datapoints`), each with its own summary row.
    silver_counts = Counter(table for table, _ in {(r["table_name"], r["row_json"]) for r in hostile.silver_quarantine})
    silver_summary: Counter[str] = Counter()
    for r in hostile.rows:
        if r.stage == "silver" and r.quarantined:
            silver_summary[r.table.split(" <- ")[0]] += r.quarantined
    assert silver_summary == silver_counts
    assert "quarantined" in stages.format_summary(hostile.rows).splitlines()[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(hostile: HostileRun, case: Case) -> None:
    for expectation in case.expect:
        check(hostile, expectation)
