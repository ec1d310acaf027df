"""Profile the demo by counting: Spark jobs, stages, tasks, Delta commits and files per stage and table.

    .venv/bin/python bench/profile_run.py                 # the `test` env's demo, in a temporary folder
    .venv/bin/python bench/profile_run.py --env demo      # the full demo sample (slow on a loaded machine)
    .venv/bin/python bench/profile_run.py --phases cold   # only the first build

It builds the demo cold, runs it again with nothing new, then lands one more week of Strava activities and
runs again (the weekly run), all in one Spark session with its UI on. The library labels the Spark jobs of
every table (`lakehouse.joblabel`: job group `stage:table`); after each phase the profiler reads Spark's
REST API (`/api/v1/applications/<id>/jobs` and `/sql`) and every table's `_delta_log`, and reports per
stage and per table label:

- Spark jobs, stages and tasks run (skipped stages not counted), and jobs that computed a Delta snapshot
  (a log replay: Delta names those jobs "Compute snapshot");
- Delta commits, files added (and their total and median size) per table, attributed to the label running
  when the commit was made;
- Python UDF nodes in the physical plans (`BatchEvalPython`, `ArrowEvalPython`, pandas UDF nodes);
- the call sites of its jobs (Spark's job names, e.g. `collect at merge.py:180`) and the seconds spent per
  call site and job description, in the JSON only;
- wall seconds, approximated as the time from a label's first job to the next label's first job (with
  several tables built at once, `[spark] table_threads`, labels interleave: run with `--table-threads 1`
  for per-table seconds; the profiler builds its own settings, so LAKEHOUSE_* variables do not reach it).

Counts are what to compare between runs: seconds on a shared machine are noise. Writes
bench/results/profile-<env>-<time>.json and prints a table per phase. Not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from jobs.pipeline import STAGES, run
from lakehouse.config import Settings, load_settings
from lakehouse.landing import LandingZone
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.spark import get_spark
from lakehouse.storage import LocalStore
from lakehouse_demo.sample import strava as sample_strava

PYTHON_NODES = re.compile(
    r"\b(BatchEvalPython|ArrowEvalPython|FlatMapGroupsInPandas|FlatMapCoGroupsInPandas|MapInPandas|MapInArrow"
    r"|AggregateInPandas|WindowInPandas|FlatMapGroupsInArrow|PythonMapInArrow)\b"
)
SNAPSHOT_JOB = re.compile(r"Compute snapshot|state reconstruction|Filtering files for query", re.IGNORECASE)
UNLABELLED = "(unlabelled)"
TOTALS = ("jobs", "stages", "tasks", "snapshot_jobs", "commits", "files_added")
PROFILE_CONF = {
    "spark.ui.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    # Keep every job and query of the run for the REST API (the lakehouse's defaults keep the last 100).
    "spark.ui.retainedJobs": "100000",
    "spark.ui.retainedStages": "100000",
    "spark.sql.ui.retainedExecutions": "100000",
    "spark.ui.retainedTasks": "100",
}


def rest(base: str, path: str) -> Any:
    """GET one resource of Spark's monitoring REST API."""
    with urllib.request.urlopen(f"{base}/api/v1{path}", timeout=120) as response:
        return json.loads(response.read())


def spark_time(text: str | None) -> float | None:
    """Spark's REST timestamps (`2026-12-01T21:00:00.123GMT`) as epoch seconds."""
    if not text:
        return None
    return datetime.strptime(text.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def delta_logs(tables_root: Path) -> dict[str, set[Path]]:
    """Every table's commit files, as {`layer.table`: {commit paths}}."""
    out: dict[str, set[Path]] = {}
    for log in tables_root.glob("*/*/_delta_log"):
        out[f"{log.parent.parent.name}.{log.parent.name}"] = set(log.glob("*.json"))
    return out


def commit_facts(path: Path) -> dict[str, Any]:
    """What one Delta commit did: its operation, time, files added (sizes) and removed."""
    facts: dict[str, Any] = {"operation": "?", "timestamp": None, "add_sizes": [], "removed": 0}
    for line in path.read_text(encoding="utf-8").splitlines():
        action = json.loads(line)
        if "commitInfo" in action:
            facts["operation"] = action["commitInfo"].get("operation", "?")
            facts["timestamp"] = action["commitInfo"].get("timestamp", 0) / 1000
        elif "add" in action:
            facts["add_sizes"].append(int(action["add"].get("size", 0)))
        elif "remove" in action:
            facts["removed"] += 1
    if facts["timestamp"] is None:
        facts["timestamp"] = path.stat().st_mtime
    return facts


def label_windows(jobs: list[dict[str, Any]], phase_end: float) -> list[tuple[float, float, str]]:
    """(start, end, label) spans: a label runs from its first job until the next label's first job."""
    spans: list[tuple[float, str]] = []
    for job in sorted(jobs, key=lambda j: j["jobId"]):
        label = job.get("jobGroup") or UNLABELLED
        if not spans or spans[-1][1] != label:
            spans.append((spark_time(job["submissionTime"]) or 0.0, label))
    ends = [s for s, _ in spans[1:]] + [phase_end]
    return [(start, end, label) for (start, label), end in zip(spans, ends, strict=True)]


def label_at(windows: list[tuple[float, float, str]], moment: float) -> str:
    """The label running at `moment` (the last one started before it)."""
    found = UNLABELLED
    for start, _end, label in windows:
        if start <= moment + 0.5:  # a commit's timestamp may precede its job's REST time by a hair
            found = label
    return found


def profile_phase(base: str, app: str, tables_root: Path, seen_job: int, seen_sql: int,
                  before: dict[str, set[Path]], started: float, ended: float) -> dict[str, Any]:  # fmt: skip
    """Counts per label for the jobs, queries and commits of one phase."""
    jobs = [j for j in rest(base, f"/applications/{app}/jobs") if j["jobId"] > seen_job]
    sql = [q for q in rest(base, f"/applications/{app}/sql?details=true&planDescription=true&offset=0&length=100000")
           if q["id"] > seen_sql]  # fmt: skip
    windows = label_windows(jobs, ended)
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "jobs": 0, "stages": 0, "tasks": 0, "snapshot_jobs": 0, "job_seconds": 0.0, "wall_seconds": 0.0,
        "commits": 0, "operations": Counter(), "files_added": 0, "bytes_added": 0, "file_sizes": [],
        "python_udf_nodes": Counter(), "tables_committed": Counter(), "job_names": Counter(),
        "seconds_by_job_name": Counter(),
    })  # fmt: skip
    group_of_job = {}
    for job in jobs:
        label = job.get("jobGroup") or UNLABELLED
        group_of_job[job["jobId"]] = label
        row = per[label]
        row["jobs"] += 1
        row["stages"] += len(job.get("stageIds", [])) - int(job.get("numSkippedStages", 0))
        row["tasks"] += int(job.get("numCompletedTasks", 0))
        row["job_names"][job.get("name", "?")] += 1  # the call site, e.g. "collect at merge.py:180"
        row["snapshot_jobs"] += bool(SNAPSHOT_JOB.search(f"{job.get('description', '')} {job.get('name', '')}"))
        start, end = spark_time(job.get("submissionTime")), spark_time(job.get("completionTime"))
        if start and end:
            row["job_seconds"] += end - start
            what = " | ".join(filter(None, (job.get("name", "?"), (job.get("description") or "")[:100])))
            row["seconds_by_job_name"][what] += end - start
    for start, end, label in windows:
        per[label]["wall_seconds"] += end - start
    for query in sql:
        ids = query.get("successJobIds", []) + query.get("failedJobIds", []) + query.get("runningJobIds", [])
        labels = {group_of_job.get(i, UNLABELLED) for i in ids} or {UNLABELLED}
        for node in PYTHON_NODES.findall(query.get("planDescription", "")):
            for label in labels:
                per[label]["python_udf_nodes"][node] += 1
    after = delta_logs(tables_root)
    for table, commits in after.items():
        for path in sorted(commits - before.get(table, set())):
            facts = commit_facts(path)
            row = per[label_at(windows, facts["timestamp"])]
            row["commits"] += 1
            row["operations"][f"{table} {facts['operation']}"] += 1
            row["tables_committed"][table] += 1
            row["files_added"] += len(facts["add_sizes"])
            row["bytes_added"] += sum(facts["add_sizes"])
            row["file_sizes"] += facts["add_sizes"]
    out = {}
    for label, row in sorted(per.items(), key=lambda kv: kv[0]):
        sizes = row.pop("file_sizes")
        row["median_file_bytes"] = int(statistics.median(sizes)) if sizes else 0
        row["small_files_under_64k"] = sum(1 for s in sizes if s < 64 * 1024)
        row["job_seconds"] = round(row["job_seconds"], 2)
        row["wall_seconds"] = round(row["wall_seconds"], 2)
        for key in ("operations", "python_udf_nodes", "tables_committed", "job_names"):
            row[key] = dict(row[key])
        row["seconds_by_job_name"] = {k: round(v, 2) for k, v in row["seconds_by_job_name"].most_common()}
        out[label] = row
    stages: dict[str, dict[str, float]] = defaultdict(Counter)  # type: ignore[arg-type]
    for label, row in out.items():
        stage = label.split(":", 1)[0]
        for key in ("jobs", "stages", "tasks", "snapshot_jobs", "commits", "files_added", "wall_seconds"):
            stages[stage][key] += row[key]
    return {
        "wall_seconds": round(ended - started, 1),
        "totals": {k: sum(r[k] for r in out.values()) for k in TOTALS},
        "per_stage": {s: {k: round(v, 2) for k, v in c.items()} for s, c in sorted(stages.items())},
        "per_label": out,
        "max_job": max((j["jobId"] for j in jobs), default=seen_job),
        "max_sql": max((q["id"] for q in sql), default=seen_sql),
    }


def land_week(settings: Settings) -> int:
    """Land one more week of Strava activities (the last seven, a week later, new ids); returns how many."""
    activities = sorted(sample_strava.generate_activities(settings.sample), key=lambda a: str(a["start_date"]))
    week = [sample_strava.shifted(a, 7, int(a["id"]) + 10_000_000) for a in activities[-7:]]
    LandingZone(LocalStore(settings.landing_root)).write_json_month(
        "strava", "activities", str(week[-1]["start_date"])[:7], "profile-week", week
    )
    return len(week)


def print_phase(console: Console, phase: str, figures: dict[str, Any]) -> None:
    """One rich table per phase: a row per label, then per stage."""
    table = Table(title=f"{phase}: {figures['wall_seconds']} s wall, {figures['totals']}")
    for column in ("label", "jobs", "stages", "tasks", "snap", "commits", "files", "median B", "py udf", "wall s"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, row in figures["per_label"].items():
        udfs = ",".join(f"{k}x{v}" for k, v in row["python_udf_nodes"].items())
        table.add_row(label, str(row["jobs"]), str(row["stages"]), str(row["tasks"]), str(row["snapshot_jobs"]),
                      str(row["commits"]), str(row["files_added"]), str(row["median_file_bytes"]), udfs,
                      f"{row['wall_seconds']:.1f}")  # fmt: skip
    table.add_section()
    for stage, row in figures["per_stage"].items():
        table.add_row(f"[b]{stage}[/b]", str(int(row["jobs"])), str(int(row["stages"])), str(int(row["tasks"])),
                      str(int(row["snapshot_jobs"])), str(int(row["commits"])), str(int(row["files_added"])), "", "",
                      f"{row['wall_seconds']:.1f}")  # fmt: skip
    console.print(table)


def conf_item(text: str) -> tuple[str, str]:
    """`KEY=VALUE` as a pair (argparse reports anything else as a usage error)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def main() -> None:
    """Build, re-run and run weekly; count; write the JSON and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="test", help="settings (default: test, the small demo)")
    parser.add_argument("--phases", default="cold,rerun,weekly", help="comma list of cold, rerun, weekly")
    parser.add_argument("--tag", default="", help="a word for the result file name (e.g. before, after)")
    parser.add_argument("--keep", help="build in this folder (kept) instead of a temporary one")
    parser.add_argument("--table-threads", type=int, help="tables built at once (default: the env's setting)")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        type=conf_item,
        metavar="KEY=VALUE",
        help="a Spark setting on top of the env's (repeatable), e.g. spark.sql.adaptive.enabled=false",
    )
    parser.add_argument(
        "--java-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="a JVM option on top of the env's [spark] java_options (repeatable), e.g. -XX:TieredStopAtLevel=1",
    )
    args = parser.parse_args()
    extra = dict(args.conf)
    phases = args.phases.split(",")
    console = Console(width=160)  # the labels whole, also when the output is a file
    with tempfile.TemporaryDirectory(prefix="lakehouse-profile-") as tmp:
        root = args.keep or tmp
        base = load_settings(args.env, environ={"LAKEHOUSE_ROOT": root})
        threads = args.table_threads or base.spark.table_threads
        conf = {**base.spark.extra_conf, **extra, **PROFILE_CONF}
        java_options = (*base.spark.java_options, *args.java_option)
        spark_settings = replace(
            base.spark, ui_enabled=True, table_threads=threads, extra_conf=conf, java_options=java_options
        )
        settings = replace(base, spark=spark_settings)
        spark = get_spark(settings)
        ui = spark.sparkContext.uiWebUrl
        if not ui:
            raise SystemExit("this session has no UI (an active session without one?); run the profiler on its own")
        app = spark.sparkContext.applicationId
        tables_root = Path(settings.tables_root.removeprefix("file:"))
        results: dict[str, Any] = {"env": args.env, "root": root, "table_threads": threads, "conf": extra, "phases": {}}
        out = Path(__file__).parent / "results" / f"profile-{args.env}{'-' + args.tag if args.tag else ''}-" \
            f"{time.strftime('%Y%m%dT%H%M%S')}.json"  # fmt: skip
        out.parent.mkdir(exist_ok=True)
        seen_job = seen_sql = -1
        try:
            for phase in phases:
                if phase == "weekly":
                    results["weekly_activities_landed"] = land_week(settings)
                before = delta_logs(tables_root)
                started = time.time()
                run(settings, STAGES, spark=spark)  # land (a no-op when landed), then every stage
                ended = time.time()
                time.sleep(2)  # the UI's listener catches up with the last jobs
                figures = profile_phase(ui, app, tables_root, seen_job, seen_sql, before, started, ended)
                seen_job, seen_sql = figures.pop("max_job"), figures.pop("max_sql")
                results["phases"][phase] = figures
                print_phase(console, phase, figures)
                out.write_text(json.dumps(results, indent=2, default=str))  # each phase as soon as it is counted
        finally:
            spark.stop()
            stop_server(local_metastore(settings))
    console.print(f"written: {out}")


if __name__ == "__main__":
    main()
