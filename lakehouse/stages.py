"""A run of the lakehouse: bronze -> silver -> gold (and race) over whatever sources have data, with a summary.

Every stage works on any subset of sources, including none: a source with nothing landed is skipped with a
note in the summary, never a crash; one entity whose load fails does not stop the others (its row says why
and the run ends failed). Jobs (`jobs.run` on your data, `jobs.pipeline` the demo) call `run_stages`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from pyspark.sql import SparkSession
from pyspark.util import inheritable_thread_target

from lakehouse import runstate
from lakehouse.bronze.entities import ENTITIES
from lakehouse.bronze.loader import LEDGER_TABLE, LedgerRows, load_entity, read_ledger
from lakehouse.cli import one_line, progress
from lakehouse.config import Settings
from lakehouse.gold.run import PROGRESS_TABLE, run_gold
from lakehouse.joblabel import job_label
from lakehouse.metastore import register_tables
from lakehouse.quality import notify_summary, run_summary
from lakehouse.quality.results import RESULTS_TABLE
from lakehouse.race import run as race
from lakehouse.race.layout import TELEMETRY_PREFIX
from lakehouse.silver.run import SilverResult, refresh_people, run_silver
from lakehouse.spark import get_spark
from lakehouse.storage import open_store
from lakehouse.tables import Tables, compact_small_files, table_exists
from lakehouse.tables.progress import SILVER_PROGRESS_TABLE

log = logging.getLogger(__name__)
SKIPPED_ROW = "all stages"  # the one summary row of a run that found nothing changed since the last good run

STAGES = ("bronze", "silver", "gold")
FAILED = "FAILED"


@dataclass
class SummaryRow:
    """One line of the run summary."""

    stage: str
    table: str
    files_in: int | None
    rows_in: int | None
    rows_written: int | None
    quarantined: int | None
    seconds: float
    note: str = ""


class StageFailed(RuntimeError):
    """Some tables of a stage failed; the others were built (their summary rows say which failed and why)."""


def bronze(spark: SparkSession, settings: Settings, run_id: str, force: bool) -> list[SummaryRow]:
    """Load every landing entity into its bronze table; an entity without files is skipped."""
    store = open_store(settings.landing_root, settings.s3)
    out = []
    ledger_rows: LedgerRows | None = None
    for entity in ENTITIES.values():
        started = time.monotonic()
        if not store.list_keys(entity.landing_prefix):
            out.append(SummaryRow("bronze", f"bronze.{entity.table}", 0, 0, 0, 0, 0.0, "skipped: no files landed"))
            continue
        progress(f"bronze: loading {entity.landing_prefix} -> bronze.{entity.table}")
        try:
            with job_label(spark, "bronze", entity.table):
                if ledger_rows is None:  # read once, before the first load (see `read_ledger`)
                    ledger_rows = read_ledger(spark, Tables(settings))
                r = load_entity(spark, settings, entity, run_id=run_id, force=force, ledger_rows=ledger_rows)
        except Exception as exc:  # one entity's failure must not stop the others
            log.exception("bronze.%s failed", entity.table)
            out.append(SummaryRow("bronze", f"bronze.{entity.table}", None, None, None, None,
                                  time.monotonic() - started, f"{FAILED}: {one_line(exc)}"))  # fmt: skip
            continue
        for warning in r.warnings:
            progress(f"bronze: warning: {warning}")
        note = "resumed an interrupted load" if r.resumed else ("no new files" if r.batch_id is None else "")
        out.append(SummaryRow("bronze", f"bronze.{entity.table}", r.files_loaded,
                              r.records_loaded + r.records_quarantined, r.records_loaded, r.records_quarantined,
                              r.seconds, note))  # fmt: skip
    return out


def _silver_row(r: SilverResult) -> SummaryRow:
    note = r.note or (f"{r.inserted} new, {r.updated} updated" if r.rows_in else "nothing new")
    return SummaryRow("silver", f"silver.{r.table}", None, r.rows_in, r.inserted + r.updated, r.quarantined,
                      r.seconds, note)  # fmt: skip


def silver(spark: SparkSession, settings: Settings, run_id: str) -> list[SummaryRow]:
    """Check and MERGE new bronze batches into silver."""
    progress("silver: checking and merging new bronze batches")
    try:
        results = run_silver(spark, settings, run_id)
    finally:
        # The quality summary is printed (and sent to the webhook) whether the stage passed or halted.
        with job_label(spark, "silver", "quality_summary"):
            summary = run_summary(spark, settings, run_id)
        progress(summary)
        notify_summary(summary, settings.webhook_url)
    return [_silver_row(r) for r in results]


def gold(
    spark: SparkSession, settings: Settings, run_id: str, full: bool, people_fresh: bool = False
) -> list[SummaryRow]:
    """Build gold from silver (only what changed, unless `full`); people settings are refreshed first, unless
    `people_fresh` (the silver stage of this run just did it, with the same settings)."""
    progress("gold: building" + (" (full recompute)" if full else ""))
    rows = []
    if not people_fresh:
        with job_label(spark, "gold", "refresh_people"):
            rows = [_silver_row(r) for r in refresh_people(spark, settings, run_id) if r.inserted or r.updated]
    return rows + [
        SummaryRow("gold", f"gold.{r.table}", None, None, r.rows_out, None, r.seconds,
                   ", ".join(x for x in (r.mode if r.mode not in ("full", "no input") else "", r.note) if x))
        for r in run_gold(spark, settings, run_id, full=full)
    ]  # fmt: skip


def has_race_data(spark: SparkSession, settings: Settings) -> bool:
    """Race files landed, or race tables already built."""
    store = open_store(settings.landing_root, settings.s3)
    if store.list_keys(TELEMETRY_PREFIX):
        return True
    return table_exists(spark, Tables(settings).ref("silver", "race_telemetry"))


def has_any_data(spark: SparkSession, settings: Settings) -> bool:
    """Any landed file of any source, or any table built before."""
    store = open_store(settings.landing_root, settings.s3)
    if any(store.list_keys(entity.landing_prefix) for entity in ENTITIES.values()):
        return True
    return has_race_data(spark, settings) or table_exists(spark, Tables(settings).ref("ops", "silver_progress"))


def race_stages(spark: SparkSession, settings: Settings, stages: Sequence[str], run_id: str) -> list[SummaryRow]:
    """The race through the same stages, only when race data exists."""
    if not has_race_data(spark, settings):
        return [SummaryRow("race", "race", None, None, None, None, 0.0, "skipped: no race files landed")]
    out = []
    for stage, step in (("bronze", race.bronze), ("silver", race.silver), ("gold", race.gold)):
        if stage in stages:
            progress(f"race: {stage}")
            started = time.monotonic()
            try:
                with job_label(spark, "race", stage):
                    results = step(spark, settings, run_id)
            except Exception as exc:  # e.g. telemetry landed without its stage routes: say so, keep the run
                log.exception("race %s failed", stage)
                out.append(SummaryRow(stage, f"race ({stage})", None, None, None, None, time.monotonic() - started,
                                      f"{FAILED}: {one_line(exc)}"))  # fmt: skip
                break
            out += [SummaryRow(r.layer, r.table, r.files_in, r.rows_in, r.rows_out, r.quarantined, r.seconds, r.note)
                    for r in results]  # fmt: skip
    return out


def run_stages(
    settings: Settings,
    stages: Sequence[str],
    run_id: str,
    spark: SparkSession | None = None,
    force: bool = False,
    full_gold: bool = False,
    with_race: bool = True,
    spark_factory: Callable[[Settings], SparkSession] = partial(get_spark, name_tables=False),
    skip_unchanged: bool = False,
) -> list[SummaryRow]:
    """Run the given stages (of `STAGES`) in order over every source that has data; returns the summary.

    A session made here (`spark_factory`) does not name the tables when it starts: the run names them
    after each stage (`TableNamer`). A run whose stages all pass is recorded (`lakehouse.runstate`); with
    `skip_unchanged` (and neither `force` nor `full_gold`), a run that finds nothing changed since the last good
    run of these stages (landing zone, settings, code, tables) returns one summary row saying so, without
    starting Spark."""
    wanted = [s for s in STAGES if s in stages]
    # `race` alone (a scheduler's race task) runs the race through every stage.
    race_wanted = (wanted or list(STAGES)) if with_race else []
    if not wanted and not race_wanted:
        return []
    asked = runstate.stage_names(wanted, race_wanted)
    if skip_unchanged and not force and not full_gold:
        started = time.monotonic()
        verdict = runstate.check(settings, asked)
        if verdict.skip:
            progress(verdict.reason)
            return [SummaryRow("-", SKIPPED_ROW, None, None, 0, None, time.monotonic() - started, verdict.reason)]
        log.info("running the stages: %s", verdict.reason)
    pending = runstate.begin(settings, asked, run_id)
    spark = spark or spark_factory(settings)
    with runstate.marking(spark, run_id), TableNamer(spark, settings) as names:
        with job_label(spark, "start"):
            any_data = has_any_data(spark, settings)
        if not any_data:
            names.after("start")  # tables whose landing files are gone still get their names
            note = "nothing to do: no source has landed data yet (see the README: 'Your own data')"
            progress(note)
            names.finish()
            return [SummaryRow("-", "all sources", 0, 0, 0, 0, 0.0, note)]
        rows: list[SummaryRow] = []
        # After each stage the new tables get their names (`layer.table`) while the next stage runs.
        if "bronze" in wanted:
            rows += bronze(spark, settings, run_id, force)
            names.after("bronze")
        if "silver" in wanted:
            rows += silver(spark, settings, run_id)
            names.after("silver")
        if "gold" in wanted:
            rows += gold(spark, settings, run_id, full_gold, people_fresh="silver" in wanted)
            names.after("gold")
        if race_wanted:
            rows += race_stages(spark, settings, race_wanted, run_id)
            names.after("race")
        compact_bookkeeping(spark, settings)
        names.finish()
    if pending is not None and not failed(rows):
        runstate.finish(pending)
    return rows


class TableNamer:
    """Names the lakehouse's tables (`layer.table`, `lakehouse.metastore.register_tables`) after each stage, on a
    thread of its own while the next stage runs.

    Naming is metastore work (some 0.2-0.3 s per new table with the local Derby metastore, and the metastore
    client's start in a new process: 21 s of the `test` demo's cold build, 8 s of a new process's run with nothing
    new) that no stage waits for: the stages read and write tables by their folders. `after(stage)` queues a
    naming pass (they run one at a time, in order; each names what the ones before did not); `finish()` waits for
    them and raises the first failure, so every name is there when the run returns. Used as a context manager,
    leaving it waits for the passes queued (also when a stage failed: the stages before it keep their names, as
    when naming was done in line; a naming failure is then logged, the stage's failure is the run's): no naming
    outlives the run. A table being created while a pass runs is named by a later one. Nothing to do in catalog
    mode or with an external metastore (the names are the tables).
    """

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self._spark, self._settings = spark, settings
        self._named: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="table-names")
        self._passes: list[Future[None]] = []

    def after(self, stage: str) -> None:
        """Queue a naming pass for what `stage` made (it starts with the caller's Spark local properties)."""
        task = inheritable_thread_target(self._spark)(
            partial(_register, self._spark, self._settings, stage, self._named)
        )
        self._passes.append(self._pool.submit(task))

    def finish(self) -> None:
        """Wait for the queued passes; the first failure is raised."""
        for naming in self._passes:
            naming.result()

    def __enter__(self) -> TableNamer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        if kind is not None:  # the run failed: the stages before it keep their names; the failure is the run's
            for naming in self._passes:
                if naming.exception() is not None:
                    log.warning("could not name the tables: %s", one_line(naming.exception()))  # type: ignore[arg-type]


# Appended to by every run and read whole by the next: kept to a few files (`compact_small_files`).
BOOKKEEPING_TABLES = (LEDGER_TABLE, SILVER_PROGRESS_TABLE, RESULTS_TABLE, PROGRESS_TABLE)


def compact_bookkeeping(spark: SparkSession, settings: Settings) -> None:
    """Compact the ledgers and progress tables that have gathered many small files (a file count read from
    each table's newest checksum file: no Spark job when none needs it). Maintenance, not data: a failure is
    logged and the run goes on."""
    tables = Tables(settings)
    with job_label(spark, "maintenance", "compact"):
        for layer, name in BOOKKEEPING_TABLES:
            ref = tables.ref(layer, name)
            try:
                files = compact_small_files(spark, ref)
            except Exception as exc:  # the tables are fine as they are, only slower to read
                log.warning("could not compact %s: %s", ref.label, one_line(exc))
                continue
            if files is not None:
                progress(f"maintenance: {ref.label} compacted ({files} small files -> 1)")


def _register(spark: SparkSession, settings: Settings, stage: str, done: set[str]) -> None:
    """Name the tables the stage made (`layer.table`), so SQL sees them at once (`done`: named already)."""
    with job_label(spark, stage, "register_tables"):
        register_tables(spark, settings, done)


def report(job: str, rows: Sequence[SummaryRow], settings: Settings, started: float) -> bool:
    """Print the summary and where the tables are; each failed table on stderr. True when none failed."""
    print(format_summary(rows))
    print(f"\nlanding zone: {settings.landing_root}")
    print(f"tables:       {settings.tables_root}/{{bronze,silver,gold,ops}}/<table>")
    print(f"done in {time.monotonic() - started:.0f}s")
    for row in failed(rows):  # the others were built; these say why they were not
        print(f"{job}: {row.table} {row.note}", file=sys.stderr)
    return not failed(rows)


def failed(rows: Sequence[SummaryRow]) -> list[SummaryRow]:
    """The summary rows of tables that failed."""
    return [r for r in rows if r.note.startswith(FAILED)]


def format_summary(rows: Sequence[SummaryRow]) -> str:
    """The per-table summary as an aligned text table."""
    header = ("stage", "table", "files in", "rows in", "rows written", "quarantined", "seconds", "note")

    def cell(value: int | float | str | None) -> str:
        if value is None:
            return "-"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    body = [
        (r.stage, r.table, cell(r.files_in), cell(r.rows_in), cell(r.rows_written), cell(r.quarantined),
         cell(r.seconds), r.note)
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = [
        "  ".join(
            str(v).ljust(w) if i in (0, 1, 7) else str(v).rjust(w)
            for i, (v, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in (header, *body)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
