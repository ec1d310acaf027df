"""Where the Spark JVM's CPU goes: a summary of a Java Flight Recording's execution samples.

    .venv/bin/python bench/profile_run.py --phases cold,weekly --table-threads 1 \\
        "--java-option=-XX:StartFlightRecording=filename=/tmp/run.jfr,settings=profile,dumponexit=true"
    .venv/bin/python bench/jfr_summary.py /tmp/run.jfr --since 05:06:26    # the weekly phase only

The JDK's own `jfr` tool prints the recording's `jdk.ExecutionSample` events (a Java thread's stack, sampled
every 10-20 ms while it runs Java code); this counts them three ways: by thread kind (the driver's query
threads, executor tasks, the scheduler), by area of Spark and Delta a sample is anywhere inside (analysis,
optimizer, Delta snapshots, Java serialization of tasks, closure cleaning...; one sample can count in
several), and by the method on top of the stack. `--since HH:MM:SS` keeps the samples from that time of day
on (the recording's clock: the phase start `profile_run.py` prints). Native work (the JIT compilers, GC) is
not sampled. Figures describe one run on one machine: compare shares, not counts. Not a test.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Areas: a label and the frame text that puts a sample in it (anywhere in its stack).
AREAS = (
    ("Catalyst analysis", "org.apache.spark.sql.catalyst.analysis."),
    ("Catalyst optimizer", "org.apache.spark.sql.catalyst.optimizer."),
    ("rule executor (analysis + optimizer + AQE rules)", "org.apache.spark.sql.catalyst.rules.RuleExecutor"),
    ("tree transforms", "org.apache.spark.sql.catalyst.trees.TreeNode"),
    ("adaptive execution", "org.apache.spark.sql.execution.adaptive."),
    ("Delta (any)", "org.apache.spark.sql.delta."),
    ("Delta snapshot / log replay", "org.apache.spark.sql.delta.Snapshot"),
    ("Delta commit", "org.apache.spark.sql.delta.OptimisticTransaction"),
    ("Delta MERGE", "org.apache.spark.sql.delta.commands.MergeIntoCommand"),
    ("DAG scheduler", "org.apache.spark.scheduler.DAGScheduler"),
    ("task serialization (Java)", "java.io.ObjectOutputStream"),
    ("task deserialization (Java)", "java.io.ObjectInputStream"),
    ("closure cleaning", "org.apache.spark.util.ClosureCleaner"),
    ("broadcast", "org.apache.spark.broadcast."),
    ("Python <-> JVM (py4j)", "py4j."),
    ("Python UDF runner", "org.apache.spark.api.python."),
    ("Parquet", "org.apache.parquet."),
    ("JSON (Jackson)", "com.fasterxml.jackson."),
    ("Hadoop file system", "org.apache.hadoop.fs."),
    ("Hive client / metastore", "org.apache.hadoop.hive."),
    ("code generation (Janino)", "org.codehaus."),
    ("class loading", "java.lang.ClassLoader"),
    ("reflection", "java.lang.reflect."),
    ("shuffle", "org.apache.spark.shuffle."),
    ("status store (listeners)", "org.apache.spark.status."),
)
EVENT = re.compile(r"jdk\.ExecutionSample \{(.*?)\n\}", re.S)
START = re.compile(r"startTime = (\d\d:\d\d:\d\d)")
THREAD = re.compile(r'sampledThread = "([^"]*)"')
FRAME = re.compile(r"^\s+([\w$.<>]+)\(", re.M)


@dataclass
class Summary:
    """Sample counts: in all, per thread kind, per area (inclusive), per top frame (self)."""

    samples: int = 0
    threads: Counter[str] = field(default_factory=Counter)
    areas: Counter[str] = field(default_factory=Counter)
    top_frames: Counter[str] = field(default_factory=Counter)


def thread_kind(name: str) -> str:
    """A thread's name without its numbers: `Executor task launch worker for task 3.0 ...` -> `executor task`."""
    if name.startswith("Executor task launch"):
        return "executor task"
    return re.sub(r"\d+", "N", name)


def samples(printed: str, since: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """(thread name, frames top first) per sample in `jfr print --events jdk.ExecutionSample` text."""
    for match in EVENT.finditer(printed):
        body = match.group(1)
        start = START.search(body)
        if since and start and start.group(1) < since:
            continue
        thread = THREAD.search(body)
        yield (thread.group(1) if thread else "?"), FRAME.findall(body)


def summarise(printed: str, since: str | None = None) -> Summary:
    """Count the samples of a printed recording (pure: the caller runs `jfr`)."""
    out = Summary()
    for thread, frames in samples(printed, since):
        if not frames:
            continue
        out.samples += 1
        out.threads[thread_kind(thread)] += 1
        out.top_frames[frames[0]] += 1
        stack = "\n".join(frames)
        out.areas.update(label for label, needle in AREAS if needle in stack)
    return out


def print_recording(path: Path, depth: int = 200) -> str:
    """The recording's execution samples as text, by the JDK's `jfr` tool."""
    tool = shutil.which("jfr")
    if tool is None:
        raise SystemExit("jfr_summary: the JDK's `jfr` tool is not on PATH (it ships with JDK 11 and later)")
    command = [tool, "print", "--events", "jdk.ExecutionSample", "--stack-depth", str(depth), str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _table(title: str, counts: Counter[str], total: int, limit: int) -> Table:
    table = Table(title=title)
    for column in ("samples", "share", "what"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for what, n in counts.most_common(limit):
        table.add_row(f"{n:,}", f"{100 * n / total:.1f} %", what)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/jfr_summary.py", description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, help="a .jfr file (e.g. from profile_run.py --java-option=...)")
    parser.add_argument("--since", help="only samples from this time of day on (HH:MM:SS, the recording's clock)")
    parser.add_argument("--top", type=int, default=25, help="rows in the top-frame table (default 25)")
    args = parser.parse_args(argv)
    summary = summarise(print_recording(args.recording), args.since)
    console = Console(width=160)
    if not summary.samples:
        console.print("no execution samples (wrong --since, or a recording without jdk.ExecutionSample)")
        return 1
    console.print(f"{summary.samples:,} samples" + (f" from {args.since}" if args.since else ""))
    console.print(_table("By thread", summary.threads, summary.samples, 12))
    console.print(_table("By area (a sample counts in every area on its stack)", summary.areas, summary.samples,
                         len(AREAS)))  # fmt: skip
    console.print(_table("On top of the stack", summary.top_frames, summary.samples, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
