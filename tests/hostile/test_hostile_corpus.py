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
from pyspark.sql import functions as F

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


@dataclass
class HostileRun:
    """The corpus, the lakehouse it went into, the import reports and the run's summary."""

    corpus: Corpus
    settings: Settings
    reports: dict[str, list[str]]
    rows: list[stages.SummaryRow]
    telemetry: Any


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
    return HostileRun(corpus, settings, reports, rows, telemetry)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _where(df: DataFrame, key: dict[str, Any]) -> DataFrame:
    for column, value in key.items():
        df = df.where(F.col(column).cast("string") == value if isinstance(value, str) else F.col(column) == value)
    return df


def _silver(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    return read_table(spark, Tables(settings).ref("silver", table))


def _bronze_quarantine(spark: SparkSession, settings: Settings) -> DataFrame:
    return read_table(spark, Tables(settings).ref(*QUARANTINE_TABLE))


def _matches(row: dict[str, Any], key: dict[str, Any]) -> bool:
    return all(str(row.get(k)) == str(v) for k, v in key.items())


def check(spark: SparkSession, run: HostileRun, expectation: Any) -> None:
    """Assert one expectation of a case against the lakehouse."""
    settings = run.settings
    if isinstance(expectation, Loaded):
        found = _where(_silver(spark, settings, expectation.table), expectation.key).collect()
        assert len(found) == 1, f"{expectation}: {len(found)} rows"
        actual = {k: _plain(found[0][k]) for k in expectation.values}
        assert actual == expectation.values
    elif isinstance(expectation, NotLoaded | Rows):
        count = _where(_silver(spark, settings, expectation.table), expectation.key).count()
        assert count == (0 if isinstance(expectation, NotLoaded) else expectation.count), expectation
    elif isinstance(expectation, BronzeQuarantined):
        df = _bronze_quarantine(spark, settings).where(F.col("_table") == expectation.table)
        if expectation.file is not None:
            df = df.where(F.col("_source_file").contains(expectation.file))
        reasons = [r["reason"] for r in df.select("reason").collect()]
        matching = [r for r in reasons if expectation.reason in r]
        assert len(matching) == expectation.count, f"{expectation}: reasons {reasons[:20]}"
    elif isinstance(expectation, SilverQuarantined):
        df = read_table(spark, quarantine_ref(settings)).where(
            (F.col("table_name") == f"silver.{expectation.table}") & (F.col("rule") == expectation.rule)
        )
        rows = [json.loads(r["row_json"]) for r in df.select("row_json").collect()]
        mine = [row for row in rows if _matches(row, expectation.key)]
        assert mine, f"{expectation}: no such row among {len(rows)}"
        if expectation.error is not None:
            errors = [e for row in mine for e in row.get("_parse_errors") or []]
            assert any(expectation.error in e for e in errors), errors
    elif isinstance(expectation, LedgerNote):
        notes = [
            r["notes"] or ""
            for r in read_table(spark, Tables(settings).ref(*LEDGER_TABLE))
            .where(F.col("file_path").contains(expectation.file) & (F.col("status") == "committed"))
            .collect()
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


def test_the_summary_counts_the_quarantined_records(spark: SparkSession, hostile: HostileRun) -> None:
    by_table = {
        r["_table"]: r["count"]
        for r in _bronze_quarantine(spark, hostile.settings).groupBy("_table").count().collect()
    }
    summary = {r.table: r.quarantined for r in hostile.rows if r.stage == "bronze" and r.quarantined is not None}
    assert {t: n for t, n in summary.items() if n} == {f"bronze.{t}": n for t, n in by_table.items()
                                                        if t != "race_telemetry"}  # fmt: skip
    assert hostile.telemetry.rows_quarantined == by_table["race_telemetry"]
    silver_counts = {
        r["table_name"]: r["count"]
        for r in read_table(spark, quarantine_ref(hostile.settings))
        .select("table_name", "row_json").distinct().groupBy("table_name").count().collect()
    }  # fmt: skip
    silver_summary = {r.table: r.quarantined for r in hostile.rows if r.stage == "silver" and r.quarantined}
    assert silver_summary == silver_counts
    assert "quarantined" in stages.format_summary(hostile.rows).splitlines()[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(spark: SparkSession, hostile: HostileRun, case: Case) -> None:
    for expectation in case.expect:
        check(spark, hostile, expectation)
