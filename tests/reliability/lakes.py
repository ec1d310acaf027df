"""Helpers of the reliability tests: a small landing set, the real job as a subprocess, and a table-by-table
comparison of two lakehouses that ignores what legitimately differs between runs (run ids, clock times,
Delta version numbers of the inputs a model was trained on).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import faults
from lakehouse.config import Settings, load_settings
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.stages import SummaryRow, run_stages
from lakehouse.storage import LocalStore
from lakehouse_demo.sample import land_sample

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("bronze", "silver", "gold", "ops")
STAGE_NAMES = ("bronze", "silver", "gold")

# Columns whose value is about *when* or *which run*, never about the data: a killed-and-resumed lakehouse
# differs from an uninterrupted one there by design.
VOLATILE = {
    "_run_id", "run_id", "_ingested_at", "_ingest_date", "ingested_at", "recorded_at", "merged_at", "built_at",
    "trained_at", "activated_at", "started_at", "finished_at", "checked_at", "_processed_at", "processed_at",
    # Delta versions of the inputs (a resumed run may have made extra no-op commits) and names built from them.
    "data_version", "source_version", "model_version", "model_path", "path",
    # A hash of the row's business columns, run columns among them (a model's version): every business column
    # is compared on its own, so leaving the hash out hides nothing.
    "_row_hash",
}  # fmt: skip
# Per-run logs: a killed run leaves its own rows (it did run), so only what they say about the data is compared.
RUN_LOGS = {
    "ops.check_results": None,  # one row per check per run: more runs, more rows
    "ops.silver_progress": ("silver_table", "bronze_table", "max:last_bronze_batch"),
    "ops.gold_progress": ("gold_table", "source_table"),
    "ops.model_registry": ("model_name", "person_id", "n_train"),
    "ops.kudos_model_runs": ("activities", "activity_ids_hash", "n_train", "n_test", "mae", "rmse"),
    "ops.bronze_load_ledger": "committed",
}


@dataclass(frozen=True)
class JobRun:
    """One finished subprocess: its exit code (-9: killed by SIGKILL) and its output."""

    returncode: int
    stdout: str
    stderr: str


def small_landing(root: Path) -> Settings:
    """Land a small seeded sample (eight months of Strava, two Fitbit days, 15 MapMyRun workouts) under `root`."""
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": str(root)})
    sample = replace(settings.sample, start_date=date(2022, 10, 1), end_date=date(2023, 5, 31), fitbit_days=2,
                     mapmyrun_workouts=15)  # fmt: skip
    land_sample(LandingZone(LocalStore(settings.landing_root)), sample)
    return settings


def start_job(
    root: Path, args: list[str], crash_at: str | None = None, output: Path | None = None, job: str = "jobs.run",
    tz: str | None = None,
) -> subprocess.Popen[str]:  # fmt: skip
    """Start `python -m <job> <args>` on the lakehouse at `root` (`test` settings), in its own process group
    so a crash point's SIGKILL takes its Spark JVM down with it, as `kill -9 -<pgid>` would. With `output`,
    stdout and stderr go to `<output>.out` and `<output>.err` (readable while it runs) instead of pipes. With
    `tz`, the process runs in that time zone (`TZ`): Python's local time, as on a machine set to it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    env.update({"LAKEHOUSE_ENV": "test", "LAKEHOUSE_ROOT": str(root), "LAKEHOUSE_LOG_DIR": str(root / "logs")})
    if tz:
        env["TZ"] = tz
    if crash_at:
        env["LAKEHOUSE_CRASH_AT"] = crash_at
    streams: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    if output is not None:
        streams = {name: output.with_suffix(f".{name[3:]}").open("w", encoding="utf-8") for name in streams}
    try:
        return subprocess.Popen(
            [sys.executable, "-m", job, *args], cwd=REPO, env=env, text=True, start_new_session=True,
            **streams,
        )  # fmt: skip
    finally:
        for stream in streams.values():
            if stream is not subprocess.PIPE:
                stream.close()  # the child has its own copy


def finish(proc: subprocess.Popen[str], timeout: float = 900, output: Path | None = None) -> JobRun:
    """Wait for a started job (killing its process group if it overruns); `output` as given to `start_job`."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        stdout, stderr = proc.communicate()
    if output is not None:
        stdout, stderr = (output.with_suffix(f".{name}").read_text(encoding="utf-8") for name in ("out", "err"))
    return JobRun(proc.returncode, stdout, stderr)


def run_job(
    root: Path, args: list[str], crash_at: str | None = None, timeout: float = 900, tz: str | None = None
) -> JobRun:
    """Run `python -m jobs.run <args>` on the lakehouse at `root` to its end (see `start_job`)."""
    return finish(start_job(root, args, crash_at, tz=tz), timeout)


class SimulatedKill(BaseException):
    """Raised at a crash point in-process: like SIGKILL it passes every `except Exception` and nothing after
    the point runs (unlike SIGKILL, `finally` blocks do: they only release caches here)."""


def lake_settings(root: Path) -> Settings:
    """The `test` settings of the lakehouse at `root`."""
    return load_settings("test", environ={"LAKEHOUSE_ROOT": str(root)})


def run_in_process(
    spark: SparkSession, settings: Settings, crash_at: str | None = None, monkeypatch: Any = None
) -> list[SummaryRow]:
    """bronze -> silver -> gold in this process's Spark, as `jobs.run --stages bronze,silver,gold` runs them;
    with `crash_at`, a fresh "process" (hit counts from zero) whose crash point raises `SimulatedKill`."""
    if not crash_at:
        return run_stages(settings, STAGE_NAMES, new_run_id(), spark=spark, with_race=False)
    with simulated_crash(monkeypatch, crash_at):
        return run_stages(settings, STAGE_NAMES, new_run_id(), spark=spark, with_race=False)


@contextmanager
def simulated_crash(monkeypatch: Any, crash_at: str, error: type[BaseException] = SimulatedKill) -> Iterator[list[str]]:
    """Within the block, reaching `crash_at` raises `error` (hit counts start from zero: a new process); yields the
    points that raised, so a test can tell where the run died."""
    died: list[str] = []

    def kill() -> None:
        died.append(crash_at)
        raise error(crash_at)

    monkeypatch.setenv(faults.CRASH_ENV, crash_at)
    monkeypatch.setattr(faults, "kill_now", kill)
    monkeypatch.setattr(faults, "_hits", {})
    try:
        yield died
    finally:
        monkeypatch.delenv(faults.CRASH_ENV)


def stop_metastore(root: Path) -> None:
    """Stop the Derby server the subprocesses started for this lakehouse (it outlives them by design)."""
    stop_server(local_metastore(load_settings("test", environ={"LAKEHOUSE_ROOT": str(root)})))


def table_paths(root: Path) -> dict[str, Path]:
    """Every Delta table of the lakehouse at `root`: `layer.name` -> folder."""
    return {
        f"{layer}.{log.parent.name}": log.parent
        for layer in LAYERS
        for log in sorted((root / "tables" / layer).glob("*/_delta_log"))
    }


def _canonical(df: DataFrame) -> DataFrame:
    """Volatile columns dropped, doubles rounded (sums in another order may differ in the last bits)."""
    keep = [f for f in df.schema.fields if f.name not in VOLATILE]
    cols = [
        F.round(F.col(f"`{f.name}`"), 6).alias(f.name)
        if isinstance(f.dataType, (T.DoubleType, T.FloatType))
        else F.col(f"`{f.name}`")
        for f in keep
    ]
    return df.select(*cols)


def _rows(spark: SparkSession, name: str, path: Path) -> Counter[str]:
    df = spark.read.format("delta").load(str(path))
    rule = RUN_LOGS.get(name, "data")
    if rule is None:
        return Counter()
    if name == "ops.silver_progress":
        # silver.people and silver.workouts record their inputs' Delta versions (`silver.<name>`): a killed
        # run's extra no-op commits make other numbers, as with `data_version` (VOLATILE).
        df = df.where(~F.col("bronze_table").startswith("silver."))
    if rule == "committed":  # the ledger: what each committed batch loaded (its planned rows are per run)
        df = df.where(F.col("status") == "committed")
    elif rule != "data":
        keys = [c for c in rule if not c.startswith("max:")]
        maxes = [F.max(c[4:]).alias(c[4:]) for c in rule if c.startswith("max:")]
        df = df.groupBy(*keys).agg(*maxes) if maxes else df.select(*keys).distinct()
    return Counter(r[0] for r in _canonical(df).select(F.to_json(F.struct("*"))).collect())


def _change_feed(spark: SparkSession, path: Path) -> str:
    properties = DeltaTable.forPath(spark, str(path)).detail().select("properties").first()[0] or {}
    return properties.get("delta.enableChangeDataFeed", "off")


def differences(
    spark: SparkSession, expected_root: Path, actual_root: Path, prefixes: tuple[str, ...] = ()
) -> list[str]:
    """What differs between two lakehouses, table by table (empty: equal). Row *multisets* are compared, so a
    doubled row is a difference. With `prefixes`, only the tables whose `layer.name` starts with one of them."""
    expected, actual = (
        {name: path for name, path in table_paths(root).items() if name.startswith(prefixes or ("",))}
        for root in (expected_root, actual_root)
    )
    out = [f"{name}: missing" for name in sorted(set(expected) - set(actual))]
    out += [f"{name}: unexpected table" for name in sorted(set(actual) - set(expected))]
    for name in sorted(set(expected) & set(actual)):
        feeds = [_change_feed(spark, lake[name]) for lake in (expected, actual)]
        if feeds[0] != feeds[1]:
            out.append(f"{name}: change data feed {feeds[0]} in the uninterrupted run, {feeds[1]} here")
        want, got = _rows(spark, name, expected[name]), _rows(spark, name, actual[name])
        if want != got:
            lost, extra = want - got, got - want
            example = {"lost": next(iter(lost), None), "extra": next(iter(extra), None)}
            out.append(f"{name}: {sum(lost.values())} row(s) lost, {sum(extra.values())} extra; e.g. "
                       f"{json.dumps(example)[:600]}")  # fmt: skip
    return out
