"""The main job: land the sample data, then bronze -> silver -> gold, and print what it built and where.

    python -m jobs.pipeline                      # every stage, embedded default (local Spark, ./data)
    python -m jobs.pipeline --stage bronze       # one stage alone
    python -m jobs.pipeline --env test --force   # other settings; reload every landing file
    python -m jobs.pipeline --wait-lock 600      # if another run holds the lock, wait up to 10 minutes for it
    spark-submit jobs/pipeline.py --stage silver # the same job on a cluster (see spark-submit.sh)

Tables are named `layer.table` after each stage (`lakehouse.metastore`), so SQL sees new tables at once. A run
holds the lakehouse's run lock (`lakehouse.runlock`): a second run waits `--wait-lock` seconds, then gives up.

Exits 0 on success; on failure prints a one-line reason and exits 1 (2 for bad arguments or settings, 3 when
another run holds the lock).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakehouse.bronze.entities import ENTITIES
from lakehouse.bronze.loader import load_entity
from lakehouse.config import ConfigError, Settings, load_settings
from lakehouse.gold.run import run_gold
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.metastore import register_tables
from lakehouse.quality import notify_summary, run_summary
from lakehouse.race.pipeline import race_steps
from lakehouse.runlock import RunLockedError, run_lock
from lakehouse.silver.run import run_silver
from lakehouse.spark import get_spark
from lakehouse.storage import open_store

STAGES = ("land", "bronze", "silver", "gold")


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


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries the summary)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def land(settings: Settings) -> list[SummaryRow]:
    """Generate the seeded sample data set and land it (identical files already there are left alone)."""
    from lakehouse.sample import land_sample

    started = time.monotonic()
    landing = LandingZone(open_store(settings.landing_root, settings.s3))
    files = land_sample(landing, settings.sample)
    rows: dict[str, SummaryRow] = {}
    for landed in files:
        folder = "/".join(landed.key.split("/")[:2])
        row = rows.setdefault(folder, SummaryRow("land", folder, 0, 0, 0, None, 0.0))
        row.files_in = (row.files_in or 0) + 1
        row.rows_in = (row.rows_in or 0) + landed.records
        row.rows_written = (row.rows_written or 0) + (landed.records if landed.written else 0)
    elapsed = time.monotonic() - started
    for row in rows.values():
        row.seconds = elapsed / max(len(rows), 1)
        if not row.rows_written:
            row.note = "already landed"
    return list(rows.values())


def bronze(spark: SparkSession, settings: Settings, run_id: str, force: bool) -> list[SummaryRow]:
    """Load every landing entity into its bronze table."""
    out = []
    for entity in ENTITIES.values():
        progress(f"bronze: loading {entity.landing_prefix} -> bronze.{entity.table}")
        r = load_entity(spark, settings, entity, run_id=run_id, force=force)
        for warning in r.warnings:
            progress(f"bronze: warning: {warning}")
        note = "resumed an interrupted load" if r.resumed else ("no new files" if r.batch_id is None else "")
        out.append(
            SummaryRow(
                "bronze",
                f"bronze.{entity.table}",
                r.files_loaded,
                r.records_loaded + r.records_quarantined,
                r.records_loaded,
                r.records_quarantined,
                r.seconds,
                note,
            )
        )
    return out


def silver(spark: SparkSession, settings: Settings, run_id: str) -> list[SummaryRow]:
    """Check and MERGE new bronze batches into silver."""
    progress("silver: checking and merging new bronze batches")
    try:
        results = run_silver(spark, settings, run_id)
    finally:
        # The quality summary is printed (and sent to the webhook) whether the stage passed or halted.
        summary = run_summary(spark, settings, run_id)
        progress(summary)
        notify_summary(summary, settings.webhook_url)
    return [
        SummaryRow(
            "silver",
            f"silver.{r.table}",
            None,
            r.rows_in,
            r.inserted + r.updated,
            r.quarantined,
            r.seconds,
            f"{r.inserted} new, {r.updated} updated" if r.rows_in else "nothing new",
        )
        for r in results
    ]


def gold(spark: SparkSession, settings: Settings, run_id: str, full: bool) -> list[SummaryRow]:
    """Build gold from silver (only what changed, unless `full`)."""
    progress("gold: building" + (" (full recompute)" if full else ""))
    return [
        SummaryRow(
            "gold",
            f"gold.{r.table}",
            None,
            None,
            r.rows_out,
            None,
            r.seconds,
            ", ".join(x for x in (r.mode if r.mode != "full" else "", r.note) if x),
        )
        for r in run_gold(spark, settings, run_id, full=full)
    ]


def format_summary(rows: Sequence[SummaryRow]) -> str:
    """The per-table summary as an aligned text table."""
    header = ("stage", "table", "files in", "rows in", "rows written", "quarantined", "seconds", "note")

    def cell(value: int | float | str | None) -> str:
        if value is None:
            return "-"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    body = [
        (
            r.stage,
            r.table,
            cell(r.files_in),
            cell(r.rows_in),
            cell(r.rows_written),
            cell(r.quarantined),
            cell(r.seconds),
            r.note,
        )
        for r in rows
    ]
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


def run(
    settings: Settings,
    stages: Sequence[str],
    force: bool = False,
    spark: SparkSession | None = None,
    full_gold: bool = False,
) -> list[SummaryRow]:
    """Run the given stages in pipeline order; returns the summary rows."""
    run_id = new_run_id()
    rows: list[SummaryRow] = []
    if "land" in stages:
        progress(f"land: sample data -> {settings.landing_root}")
        rows += land(settings)
    if any(s in stages for s in ("bronze", "silver", "gold")):
        spark = spark or get_spark(settings)
        if "bronze" in stages:
            rows += bronze(spark, settings, run_id, force)
            register_tables(spark, settings)
        if "silver" in stages:
            rows += silver(spark, settings, run_id)
            register_tables(spark, settings)
        if "gold" in stages:
            rows += gold(spark, settings, run_id, full_gold)
            register_tables(spark, settings)
    # Race GPS: a small race (a few stages, every rider) through the same stages; see lakehouse.race.pipeline.
    race = race_steps(settings, stages, run_id, lambda: spark or get_spark(settings), progress)
    rows += [SummaryRow(r.layer, r.table, r.files_in, r.rows_in, r.rows_out, r.quarantined, r.seconds, r.note)
             for r in race]  # fmt: skip
    if race and spark is not None:
        register_tables(spark, settings)
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="settings file conf/<env>.toml (default: $LAKEHOUSE_ENV or local)")
    parser.add_argument("--stage", choices=(*STAGES, "all"), default="all", help="run one stage alone")
    parser.add_argument("--force", action="store_true", help="bronze: reload every landing file")
    parser.add_argument("--full-gold", action="store_true", help="gold: recompute everything, not just what changed")
    parser.add_argument(
        "--wait-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="if another run holds the run lock, wait this long for it (default: exit at once)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.pipeline` and spark-submit."""
    args = parse_args(argv)
    try:
        settings = load_settings(args.env)
    except ConfigError as exc:
        print(f"pipeline: bad settings: {exc}", file=sys.stderr)
        return 2
    stages = STAGES if args.stage == "all" else (args.stage,)
    started = time.monotonic()
    try:
        with run_lock(settings, wait_seconds=args.wait_lock, what=f"pipeline --stage {args.stage}"):
            rows = run(settings, stages, force=args.force, full_gold=args.full_gold)
    except RunLockedError as exc:
        print(f"pipeline: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # one clear line for the operator; the traceback is Spark's log business
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"pipeline failed in {time.monotonic() - started:.0f}s: {type(exc).__name__}: {first_line}",
            file=sys.stderr,
        )
        return 1
    print(format_summary(rows))
    print(f"\nlanding zone: {settings.landing_root}")
    print(f"tables:       {settings.tables_root}/{{bronze,silver,gold,ops}}/<table>")
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
