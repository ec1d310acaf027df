"""The notebooks run top to bottom (nbclient) on the demo lakehouse and show what its tables hold, and on a
lakehouse without data they say what is missing instead of failing.

One kernel runs the three notebooks in turn, its namespace reset (`%reset -f`) before each: they share the
kernel's Spark session, so one JVM starts per lakehouse instead of one per notebook. The kernel is this test's
own interpreter (the checkout's `.venv`), from a kernel spec written for the run; it finds the lakehouse through
its environment (`LAKEHOUSE_ENV=test`, `LAKEHOUSE_ROOT`), as a user's Jupyter would. Expected values are read
by the test's own Spark session from the Delta folders by path (not by name), or counted in plain Python.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import pytest
from delta.tables import DeltaTable
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbformat import NotebookNode
from pyspark.sql import SparkSession

from lakehouse.config import load_settings
from lakehouse.metastore import LAYERS, local_metastore, stop_server
from lakehouse.sqlserver import listening
from tests.conftest import DemoLakehouse

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
KERNEL_NAME = "fitness-lakehouse-test"
CELL_TIMEOUT_S = 900
JVM_EXIT_TIMEOUT_S = 60.0
SKIPPED = "Skipped: this lakehouse has no "


@dataclass(frozen=True)
class NotebookRun:
    """The executed notebooks by file name; the kernel's Spark JVMs running before it shut down, and after."""

    notebooks: dict[str, NotebookNode]
    jvms_seen: list[int]
    jvms_left: list[int]


def write_kernel_spec(folder: Path) -> Path:
    """A kernel spec for this interpreter (the checkout's .venv) in `folder`; returns the kernels folder."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "fitness-lakehouse (test)", "language": "python"}), encoding="utf-8"
    )
    return folder / "kernels"


def kernel_jvms(marker: str) -> list[psutil.Process]:
    """The Spark JVMs started with `marker` on their command line."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in process.info["cmdline"] or ()):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def run_notebooks(root: Path, workdir: Path, metastore_mode: str = "local") -> NotebookRun:
    """Execute every notebook, in one kernel, on the `test`-env lakehouse at `root`; stop what it started."""
    marker = f"spark.lakehouse.notebook_test={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "PYSPARK_GATEWAY"))}
    # The marker tags the kernel's JVM (PySpark passes these arguments to spark-submit), so the test can tell
    # that it exits with the kernel.
    env.update(
        LAKEHOUSE_ENV="test",
        LAKEHOUSE_ROOT=str(root),
        LAKEHOUSE_METASTORE=metastore_mode,
        PYSPARK_SUBMIT_ARGS=f"--conf {marker} pyspark-shell",
    )
    metastore = local_metastore(load_settings("test", environ={"LAKEHOUSE_ROOT": str(root)}))
    metastore_was_running = metastore_mode != "local" or listening(metastore.host, metastore.port)
    specs = KernelSpecManager(kernel_dirs=[str(write_kernel_spec(workdir))])
    manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    executed, seen = {}, []
    try:
        for i, path in enumerate(NOTEBOOKS):
            notebook = nbformat.read(path, as_version=4)
            if i:  # a fresh namespace: no notebook leans on another's variables
                notebook.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
            client = NotebookClient(
                notebook, km=manager, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
            )
            client.execute(env=env, cwd=str(NOTEBOOKS_DIR))
            executed[path.name] = nbformat.from_dict({**notebook, "cells": notebook.cells[1 if i else 0 :]})
        seen = [jvm.pid for jvm in kernel_jvms(marker)]
    finally:
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)()
        deadline = time.monotonic() + JVM_EXIT_TIMEOUT_S
        while (jvms := kernel_jvms(marker)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for jvm in jvms:  # reported by the test below; not left running
            jvm.kill()
        if not metastore_was_running:
            stop_server(metastore)
    return NotebookRun(executed, seen, [jvm.pid for jvm in jvms])


@pytest.fixture(scope="module")
def demo_run(demo_lakehouse: DemoLakehouse, tmp_path_factory: pytest.TempPathFactory) -> NotebookRun:
    """The notebooks executed on the demo lakehouse."""
    return run_notebooks(demo_lakehouse.root, tmp_path_factory.mktemp("kernel-demo"))


@pytest.fixture(scope="module")
def empty_run(tmp_path_factory: pytest.TempPathFactory) -> NotebookRun:
    """The notebooks executed on a lakehouse with no tables at all.

    Its names come from the session's own catalog (`[metastore] mode = "external"`): a new local metastore would
    only add a Derby server and its schema's creation (half a minute on a loaded machine) to find no names either.
    """
    return run_notebooks(tmp_path_factory.mktemp("empty-lake"), tmp_path_factory.mktemp("kernel-empty"), "external")


def output_text(notebook: NotebookNode, tag: str) -> str:
    """The printed text of the cell tagged `tag`."""
    cells = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r} expected, found {len(cells)}"
    return "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream")


def all_text(notebook: NotebookNode) -> str:
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def delta(spark: SparkSession, demo: DemoLakehouse, layer: str, name: str):
    """A table of the demo lakehouse read by path."""
    return spark.read.format("delta").load(f"{demo.settings.tables_root}/{layer}/{name}")


def number(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return match.group(1)


def test_every_notebook_runs_every_cell_and_its_jvm_exits(demo_run: NotebookRun) -> None:
    assert sorted(demo_run.notebooks) == [p.name for p in NOTEBOOKS]
    for name, notebook in demo_run.notebooks.items():
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(c.execution_count is not None for c in code), name
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"
        assert SKIPPED not in all_text(notebook), f"{name} skipped a section on the demo lakehouse"
    assert demo_run.jvms_seen, "the kernel's Spark JVM was found while it ran"
    assert demo_run.jvms_left == [], "the kernel's Spark JVM outlived the kernel"


def test_tables_and_history_show_the_demo_tables(
    demo_run: NotebookRun, demo_lakehouse: DemoLakehouse, spark: SparkSession
) -> None:
    notebook = demo_run.notebooks["01_tables_and_history.ipynb"]
    root = Path(demo_lakehouse.settings.tables_root)
    folders = [p for layer in LAYERS for p in (root / layer).glob("*/_delta_log")]
    assert f"{len(folders)} tables" in output_text(notebook, "tables")

    path = f"{root}/silver/strava_activities"
    latest = DeltaTable.forPath(spark, path).history(1).first()["version"]
    rows_now = delta(spark, demo_lakehouse, "silver", "strava_activities").count()
    rows_first = spark.read.format("delta").option("versionAsOf", 0).load(path).count()
    assert (
        f"silver.strava_activities: {rows_now} rows at version {latest} (now), {rows_first} rows at version 0"
        in output_text(notebook, "time-travel")
    )

    ledger = delta(spark, demo_lakehouse, "ops", "bronze_load_ledger").where("status = 'committed'").collect()
    files = len({(r.table_name, r.file_path) for r in ledger})
    loaded = sum(r.records_loaded or 0 for r in ledger)
    assert files > 0 and f"committed: {files} files, {loaded} records loaded" in output_text(notebook, "ledger")

    quarantined = delta(spark, demo_lakehouse, "bronze", "quarantine").count()
    assert f"bronze.quarantine: {quarantined} records" in output_text(notebook, "bronze-quarantine")
    silver_quarantined = delta(spark, demo_lakehouse, "ops", "silver_quarantine").count()
    assert f"ops.silver_quarantine: {silver_quarantined} rows" in output_text(notebook, "silver-quarantine")


def test_training_load_notebook_shows_the_latest_day_and_the_label_mix(
    demo_run: NotebookRun, demo_lakehouse: DemoLakehouse, spark: SparkSession
) -> None:
    notebook = demo_run.notebooks["02_training_load_and_eras.ipynb"]
    days = delta(spark, demo_lakehouse, "gold", "training_load_daily").collect()
    last = max((r for r in days if r.person_id == "sam"), key=lambda r: r.date)
    text = output_text(notebook, "latest-load")
    assert f"sam on {last.date}: CTL {last.ctl:.1f}, ATL {last.atl:.1f}, TSB {last.tsb:.1f}" in text

    event = delta(spark, demo_lakehouse, "silver", "people").where("person_id = 'sam'").first()["event_date"]
    assert f"sam: event date {event}" in output_text(notebook, "before-after")
    labels = delta(spark, demo_lakehouse, "gold", "workout_classification").where("person_id = 'sam'").collect()
    mix = Counter(("before" if r.workout_date < event else "after", r.label) for r in labels)
    text = output_text(notebook, "classification-mix")
    for era in ("before", "after"):
        shown = dict(re.findall(r"(\w+) (\d+)", number(rf"sam {era}: (.*)", text)))
        assert {label: int(n) for label, n in shown.items()} == {lb: n for (e, lb), n in mix.items() if e == era}


def test_tour_notebook_shows_winners_the_leader_and_a_segment(
    demo_run: NotebookRun, demo_lakehouse: DemoLakehouse, spark: SparkSession
) -> None:
    notebook = demo_run.notebooks["03_tour.ipynb"]
    results = delta(spark, demo_lakehouse, "gold", "race_stage_results").collect()
    stages = sorted({r.stage for r in results})
    text = output_text(notebook, "stage-winners")
    for stage in stages:
        fastest = min((r for r in results if r.stage == stage and r.stage_time_s is not None),
                      key=lambda r: (r.stage_time_s, r.rider_id))  # fmt: skip
        assert f"stage {stage} winner: {fastest['name']} (rider {fastest.rider_id})" in text

    # The leader after the last stage: the lowest total over riders who finished every stage, summed here.
    totals: dict[int, list[float]] = {}
    for r in results:
        if r.stage_time_s is not None:
            totals.setdefault(r.rider_id, []).append(r.stage_time_s)
    complete = {rider: sum(times) for rider, times in totals.items() if len(times) == len(stages)}
    leader = min(complete, key=lambda rider: (complete[rider], rider))
    assert f"GC leader after stage {stages[-1]}: " in output_text(notebook, "gc")
    assert f"(rider {leader}) in " in output_text(notebook, "gc")

    # The segment: what B lost on A over it equals the difference of their climb times (another gold table) on
    # a climb, or of their stage times on the finale.
    text = output_text(notebook, "segment")
    stage, segment = int(number(r"stage (\d+), ", text)), number(r"stage \d+, (.+?) \(", text)
    b, a = (int(x) for x in re.findall(r"\(rider (\d+)\)", text))
    change = float(number(r"(?:lost|gained) ([\d.]+) s", text)) * (1 if " lost " in text else -1)
    if segment == "finale":
        times = {r.rider_id: r.stage_time_s for r in results if r.stage == stage}
        gap_at_end = float(number(r"gap at the end (-?[\d.]+) s", text))
        assert gap_at_end == pytest.approx(times[b] - times[a], abs=0.06)
    else:
        climbs = (
            delta(spark, demo_lakehouse, "gold", "race_climb_times")
            .where(f"stage = {stage} AND climb = '{segment}'")
            .collect()
        )
        climb_time = {r.rider_id: r.climb_time_s for r in climbs}
        assert change == pytest.approx(climb_time[b] - climb_time[a], abs=0.06)


def test_notebooks_explain_a_lakehouse_without_tables(empty_run: NotebookRun) -> None:
    assert sorted(empty_run.notebooks) == [p.name for p in NOTEBOOKS]
    for name, notebook in empty_run.notebooks.items():
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), name
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], name
        assert SKIPPED in all_text(notebook), f"{name} does not say what is missing"
    assert "No tables yet" in output_text(empty_run.notebooks["01_tables_and_history.ipynb"], "tables")
    assert empty_run.jvms_seen and empty_run.jvms_left == []
