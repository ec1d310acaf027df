"""Benchmarks at history sizes 1x, 4x, 16x, with DuckDB side by side, and the ingestion rates; one command.

    .venv/bin/python -m bench                      # sizes 1x, 4x, 16x (16x needs a big machine: ~50 M Fitbit rows)
    .venv/bin/python -m bench --sizes 1            # 1x alone
    .venv/bin/python -m bench --quick              # tiny sizes, seconds of data: checks that everything runs

Per size (`bench.history`: 1x = one person's ten years of Strava and MapMyRun plus a year of Fitbit minutes; Nx =
N such people), in a fresh temporary lakehouse: land the history, then run our pipeline (bronze, silver, gold)
cold, again with nothing new, and after one more week is landed; after each, DuckDB rebuilds the same silver
and gold tables from the same landing files (`bench.peer`). Each phase records wall time, rows per second (the
landing records the phase covers / its wall time), the peak resident memory of the driver's Python and of the
JVM, and the JVM's peak heap (`bench.memory`). At the end DuckDB's tables are checked against ours (row
counts, keys, column sums). Then the ingestion rates (`bench.ingestion`). It prints the tables and writes
`bench/results/bench-<time>.json`. The figures depend on the machine and its load: they are not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyspark
from pyspark.sql import SparkSession
from rich.console import Console
from rich.table import Table

from bench import history, ingestion, new_process
from bench import peer as duck_peer
from bench.memory import PeakSampler
from jobs.pipeline import run
from lakehouse import stages
from lakehouse.config import Settings, load_settings
from lakehouse.gold.run import run_gold
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.metastore import local_metastore, register_tables, stop_server
from lakehouse.silver.run import refresh_people
from lakehouse.spark import get_spark
from lakehouse.stages import SummaryRow, failed
from lakehouse.storage import LocalStore

RESULTS = Path(__file__).parent / "results"
TABLE_STAGES = ("bronze", "silver", "gold")
PHASES = ("cold", "rerun", "weekly")
# The tables both engines build (bronze included: DuckDB reads the raw files in the same step).
SAME_TABLES = frozenset({
    "bronze.strava_activities", "bronze.fitbit_intraday", "silver.strava_activities", "silver.fitbit_intraday",
    "gold.activity_summary_monthly", "gold.fitbit_daily_summary",
})  # fmt: skip
PEER_GOLD = frozenset(t.removeprefix("gold.") for t in SAME_TABLES if t.startswith("gold."))


@dataclass(frozen=True)
class Profile:
    """What each size multiplies, and the ingestion sample."""

    years: int
    fitbit_days: int
    mapmyrun_workouts: int
    google_days: int
    sizes: tuple[int, ...]


FULL = Profile(years=10, fitbit_days=365, mapmyrun_workouts=500, google_days=365, sizes=(1, 4, 16))
QUICK = Profile(years=1, fitbit_days=2, mapmyrun_workouts=12, google_days=2, sizes=(1, 2))


# The pipeline targets (issue 13): seconds at a size, or a ratio of the weekly run between two sizes.
RERUN_TARGET_S = 10.0
WEEKLY_TARGET_S = 20.0
WEEKLY_GROWTH_TARGET = 1.2  # the weekly run at 16x: no more than this times the weekly run at 1x


@dataclass(frozen=True)
class TargetCheck:
    """One target against what this run measured; `met` is None when the run did not measure it."""

    target: str
    measured: str
    met: bool | None


def target_checks(results: dict[str, Any]) -> list[TargetCheck]:
    """The pipeline targets this run can judge: a re-run with nothing new <= 10 s (every size), the weekly run
    <= 20 s at 1x, and the weekly run at 16x no more than 1.2 times the one at 1x. (The demo build, the Tour
    and the live standings have their own commands: `jobs.pipeline`, `bench.race_bench`.)"""
    seconds = {(entry["size"], p["phase"]): float(p["ours"]["wall_seconds"])
               for entry in results["sizes"] for p in entry["phases"]}  # fmt: skip
    checks = [
        TargetCheck(f"{size} re-run with nothing new <= {RERUN_TARGET_S:g} s", f"{s:.1f} s", s <= RERUN_TARGET_S)
        for (size, phase), s in seconds.items()
        if phase == "rerun"
    ]
    for entry in results["sizes"]:  # the same run as a scheduled job makes it: a new process, its start included
        fresh = entry.get("rerun_new_process")
        if fresh and fresh["returncode"] == 0:
            s = float(fresh["wall_seconds"])
            checks.append(TargetCheck(f"{entry['size']} re-run with nothing new, new process <= {RERUN_TARGET_S:g} s",
                                      f"{s:.1f} s{_how_new_process_ran(fresh)}", s <= RERUN_TARGET_S))  # fmt: skip
        elif fresh:
            checks.append(TargetCheck(f"{entry['size']} re-run with nothing new, new process <= {RERUN_TARGET_S:g} s",
                                      f"failed (exit {fresh['returncode']})", False))  # fmt: skip
    weekly_1x, weekly_16x = seconds.get(("1x", "weekly")), seconds.get(("16x", "weekly"))
    checks.append(TargetCheck(f"1x weekly run <= {WEEKLY_TARGET_S:g} s",
                              "not run" if weekly_1x is None else f"{weekly_1x:.1f} s",
                              None if weekly_1x is None else weekly_1x <= WEEKLY_TARGET_S))  # fmt: skip
    if weekly_1x is None or weekly_16x is None:
        checks.append(TargetCheck(f"16x weekly run <= {WEEKLY_GROWTH_TARGET:g} x the 1x one",
                                  "needs sizes 1 and 16", None))  # fmt: skip
    else:
        growth = weekly_16x / weekly_1x
        checks.append(TargetCheck(f"16x weekly run <= {WEEKLY_GROWTH_TARGET:g} x the 1x one",
                                  f"{weekly_16x:.1f} s = {growth:.2f} x {weekly_1x:.1f} s",
                                  growth <= WEEKLY_GROWTH_TARGET))  # fmt: skip
    return checks


def _how_new_process_ran(fresh: dict[str, Any]) -> str:
    """How the timed new process went: no stage run (nothing changed since the last good run), and the same run
    with `--recheck` (every stage through Spark), when measured."""
    recheck = fresh.get("recheck") or {}
    through_spark = f"--recheck {float(recheck['wall_seconds']):.1f} s" if recheck.get("returncode") == 0 else ""
    said = ["nothing changed: no stage run" if fresh.get("skipped") else "", through_spark]
    return f" ({'; '.join(x for x in said if x)})" if any(said) else ""


def _per_second(rows: int, seconds: float) -> float | None:
    return round(rows / seconds, 1) if rows and seconds > 0 else None


def like_for_like(spark: SparkSession, settings: Settings) -> list[SummaryRow]:
    """Our stages with gold limited to the tables the peer builds (bronze and silver as always)."""
    run_id = new_run_id()
    rows = stages.bronze(spark, settings, run_id, force=False)
    register_tables(spark, settings)
    rows += stages.silver(spark, settings, run_id)
    register_tables(spark, settings)
    refresh_people(spark, settings)
    rows += [
        SummaryRow("gold", f"gold.{r.table}", None, None, r.rows_out, None, r.seconds, r.note)
        for r in run_gold(spark, settings, run_id, only=PEER_GOLD)
    ]  # fmt: skip
    register_tables(spark, settings)
    return rows


def _ours(spark: SparkSession, settings: Settings, records: int, peer_only: bool) -> dict[str, Any]:
    """One run of our pipeline (bronze, silver, gold; gold limited to the peer's tables if `peer_only`)."""
    with PeakSampler(spark) as peak:
        started = time.monotonic()
        rows = like_for_like(spark, settings) if peer_only else run(settings, TABLE_STAGES, spark=spark)
        wall = time.monotonic() - started
    if failed(rows):
        raise RuntimeError("our pipeline failed: " + "; ".join(f"{r.table} {r.note}" for r in failed(rows)))
    same = sum(r.seconds for r in rows if r.table in SAME_TABLES)
    return {
        "wall_seconds": round(wall, 2),
        "same_tables_seconds": round(same, 2),
        "records": records,
        "rows_per_second": _per_second(records, wall),
        "rows_written": sum(r.rows_written or 0 for r in rows if r.stage in ("silver", "gold")),
        "memory": asdict(peak.result),
        "stages": _stage_seconds(rows),
    }


def _stage_seconds(rows: Sequence[SummaryRow]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        out[row.stage] = round(out.get(row.stage, 0.0) + row.seconds, 2)
    return out


def _duck(con: duckdb.DuckDBPyConnection, landing: Path, zones: dict[str, str], records: int) -> dict[str, Any]:
    """One full DuckDB rebuild with its figures."""
    with PeakSampler(None) as peak:
        started = time.monotonic()
        counts = duck_peer.build(con, landing, zones)
        wall = time.monotonic() - started
    return {
        "wall_seconds": round(wall, 2),
        "records": records,
        "rows_per_second": _per_second(records, wall),
        "table_rows": counts,
        "memory": {"driver_rss_mb": peak.result.driver_rss_mb},
    }


def bench_size(
    spark: SparkSession, base: Settings, factor: int, profile: Profile, root: Path, peer_only: bool = False,
    env: str | None = None, peer: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Every phase of one size, in its own lakehouse under `root`. With `env` (the settings environment `base`
    was loaded from, rooted in `base`'s folder), the re-run with nothing new is also timed as a new process
    (`bench.new_process`) after the in-session one. Without `peer`, DuckDB neither rebuilds nor compares (its
    fields are None): our figures alone, sooner (at 16x DuckDB's three rebuilds take some 15 minutes)."""
    size = history.HistorySize(factor, profile.years, profile.fitbit_days, profile.mapmyrun_workouts)
    settings = history.bench_settings(base.with_roots(str(root / "landing"), str(root / "tables")), size)
    new_process_rerun = None
    landing = LandingZone(LocalStore(settings.landing_root))
    landed = history.land_history(landing, size, base.sample)
    zones = {user: p.timezone for p in settings.people for user in p.fitbit_user_ids}
    con = duck_peer.connect(root / "peer.duckdb") if peer else None
    phases = []
    try:
        for phase in PHASES:
            new_records = {"cold": landed.records, "rerun": 0}.get(phase, 0)
            if phase == "weekly":
                new_records = history.land_week(landing, size, base.sample).records
            ours = _ours(spark, settings, new_records, peer_only)
            # DuckDB has no incremental state: every phase rebuilds from every landed file.
            all_records = landed.records + (new_records if phase == "weekly" else 0)
            duck = _duck(con, Path(settings.landing_root), zones, all_records) if con is not None else None
            phases.append({
                "phase": phase, "ours": ours, "duckdb": duck,
                "ratio": round(ours["wall_seconds"] / duck["wall_seconds"], 2) if duck else None,
                "ratio_same_tables": round(ours["same_tables_seconds"] / duck["wall_seconds"], 2) if duck else None,
            })  # fmt: skip
            if phase == "rerun" and env is not None and not peer_only:
                new_process_rerun = new_process.measure(env, Path(base.tables_root).parent, root, size)
        checks = duck_peer.compare(con, settings.tables_root) if con is not None else None
    finally:
        if con is not None:
            con.close()
        stop_server(local_metastore(settings))  # the new process's re-run started one for this size's lakehouse
    return {
        "size": f"{factor}x",
        "people": factor,
        "our_gold": "the peer's tables" if peer_only else "every table",
        "history": asdict(size) | {"end_date": size.end_date.isoformat()},
        "landed": asdict(landed) | {"records": landed.records},
        "phases": phases,
        "rerun_new_process": new_process_rerun,
        "equality": [asdict(c) for c in checks or []],
        "equal": None if checks is None else all(c.equal for c in checks),  # None: DuckDB not run
    }


def machine() -> dict[str, Any]:
    """What the figures were taken on, load included."""
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "duckdb": duckdb.__version__,
    }


def run_bench(
    sizes: Sequence[int], quick: bool, env: str = "test", spark: SparkSession | None = None,
    ingest: bool = True, workdir: Path | None = None, peer_only: bool = False, new_process_rerun: bool = True,
    peer: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Every size, then the ingestion rates; returns the results (what the JSON file holds)."""
    profile = QUICK if quick else FULL
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    # The lakehouses go in `workdir` when given (and stay: a caller's session may keep names pointing there).
    folder = contextlib.nullcontext(str(workdir)) if workdir else tempfile.TemporaryDirectory(prefix="lakehouse-bench-")
    with folder as tmp:
        root = Path(tmp)
        base = load_settings(env, environ={"LAKEHOUSE_ROOT": str(root / "session")})
        own_session = spark is None
        spark = spark or get_spark(base)
        try:
            results = [bench_size(spark, base, factor, profile, root / f"{factor}x", peer_only,
                                  env if new_process_rerun else None, peer) for factor in sizes]  # fmt: skip
        finally:
            if own_session:
                spark.stop()
                stop_server(local_metastore(base))
        sample = history.sample_for(history.HistorySize(1, profile.years, 0, 0), 0, base.sample)
        rates = [asdict(f) for f in ingestion.measure(sample, profile.google_days)] if ingest else []
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "our_gold": "the peer's tables" if peer_only else "every table",
        "env": env,
        "machine": machine() | {"load_average_1m_at_start": round(load_before, 2)},
        "profile": asdict(profile) | {"sizes": list(sizes)},
        "sizes": results,
        "ingestion": rates,
    }


def print_results(results: dict[str, Any], console: Console) -> None:
    """The figures as rich tables: pipeline vs DuckDB per size and phase, the equality check, ingestion."""
    m = results["machine"]
    main = Table(title=f"Ours (Spark + Delta; gold: {results['our_gold']}) vs DuckDB, {results['mode']} profile "
                       f"({m['cpus']} cpus, load average {m['load_average_1m_at_start']} at start)")  # fmt: skip
    for column in ("size", "phase", "records", "ours s", "ours same-tables s", "DuckDB s", "ratio",
                   "ratio same-tables", "ours rows/s", "DuckDB rows/s", "driver RSS MB", "JVM RSS MB",
                   "JVM heap peak MB", "DuckDB RSS MB"):  # fmt: skip
        main.add_column(column, justify="left" if column in ("size", "phase") else "right")
    for size in results["sizes"]:
        for p in size["phases"]:
            ours, duck, mem = p["ours"], p["duckdb"] or {}, p["ours"]["memory"]
            duck_rss = (duck.get("memory") or {}).get("driver_rss_mb")
            main.add_row(size["size"], p["phase"], f"{ours['records']:,}", f"{ours['wall_seconds']:.1f}",
                         f"{ours['same_tables_seconds']:.1f}", _num(duck.get("wall_seconds")), _ratio(p["ratio"]),
                         _ratio(p["ratio_same_tables"]), _num(ours["rows_per_second"]),
                         _num(duck.get("rows_per_second")), _num(mem["driver_rss_mb"]), _num(mem["jvm_rss_mb"]),
                         _num(mem["jvm_heap_peak_mb"]), _num(duck_rss))  # fmt: skip
    console.print(main)
    if any(size["equal"] is None for size in results["sizes"]):
        console.print("DuckDB not run (--no-peer): no peer figures, tables not compared")
    if any(size["equality"] for size in results["sizes"]):
        check = Table(title="DuckDB's tables vs ours (after the weekly run)")
        columns = ("size", "table", "DuckDB rows", "our rows", "keys only DuckDB", "keys only ours", "sums", "equal")
        for column in columns:
            check.add_column(column)
        for size in results["sizes"]:
            for c in size["equality"]:
                sums = ", ".join(f"{k} {d:,.3f}/{o:,.3f}" for k, (d, o) in c["sums"].items())
                check.add_row(size["size"], c["table"], f"{c['duck_rows']:,}", f"{c['our_rows']:,}",
                              str(c["keys_only_duck"]), str(c["keys_only_ours"]), sums,
                              "yes" if c["equal"] else "NO")  # fmt: skip
        console.print(check)
    goals = Table(title="Targets (issue 13)")
    for column in ("target", "measured", "met"):
        goals.add_column(column)
    for t in target_checks(results):
        goals.add_row(t.target, t.measured, "-" if t.met is None else "yes" if t.met else "NO")
    console.print(goals)
    if results["ingestion"]:
        rates = Table(title="Ingestion against the stand-ins, limits off; backfill time under the real limits")
        for column in ("source", "records", "API calls (ledger)", "seconds", "records/s", "backfill h (real limits)"):
            rates.add_column(column, justify="left" if column == "source" else "right")
        for r in results["ingestion"]:
            rates.add_row(r["source"], f"{r['records']:,} {r['record_kind']}", f"{r['api_calls']:,}",
                          f"{r['wall_seconds']:.1f}", f"{r['records_per_second']:,.0f}",
                          f"{r['backfill_hours_real_limits']:,.2f}")  # fmt: skip
        console.print(rates)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2f}"


def write_results(results: dict[str, Any], folder: Path = RESULTS) -> Path:
    """`bench/results/bench-<time>.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return out


def parse_sizes(text: str) -> tuple[int, ...]:
    """`"1,4,16"` -> (1, 4, 16); each a positive number of people."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers separated by commas, not {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be 1 or more, got {text!r}")
    return sizes


def main(
    argv: Sequence[str] | None = None,
    spark: SparkSession | None = None,
    results_dir: Path = RESULTS,
    workdir: Path | None = None,
) -> int:
    """Entry point of `python -m bench`; exit 0 when DuckDB's tables equal ours, 1 otherwise. A test passes its
    session, a results folder and a work folder (default: a temporary folder, removed at the end)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, help="history sizes (people), e.g. 1,4,16")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: 1 year of activities, 2 Fitbit days")
    parser.add_argument("--env", default="test", help="settings environment for Spark (default: test, a 2g driver)")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingestion rates")
    parser.add_argument("--no-new-process", action="store_true",
                        help="skip the re-run with nothing new as a new process (Python, imports, JVM)")  # fmt: skip
    parser.add_argument("--no-peer", action="store_true",
                        help="skip DuckDB's rebuilds and the comparison (our figures alone, sooner)")  # fmt: skip
    parser.add_argument("--like-for-like", action="store_true",
                        help="our gold builds only the peer's two tables (bronze and silver in full)")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK if args.quick else FULL).sizes
    results = run_bench(
        sizes,
        args.quick,
        env=args.env,
        spark=spark,
        ingest=not args.no_ingest,
        peer_only=args.like_for_like,
        workdir=workdir,
        new_process_rerun=not args.no_new_process,
        peer=not args.no_peer,
    )
    console = Console(width=200)
    print_results(results, console)
    out = write_results(results, results_dir)
    console.print(f"written: {out}")
    compared = [size["equal"] for size in results["sizes"] if size["equal"] is not None]
    if compared:
        equal = all(compared)
        console.print("DuckDB's tables equal ours: " + ("yes" if equal else "NO (see the table above)"))
        return 0 if equal else 1
    return 0


__all__ = ["main", "run_bench", "target_checks"]
