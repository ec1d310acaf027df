"""Race benchmark (not a test): batch throughput of the Tour, live latency from landing to standings.

    .venv/bin/python -m bench.race_bench                          # full Tour batch, then a live replay
    .venv/bin/python -m bench.race_bench --scale 0.25             # a quarter-length Tour
    .venv/bin/python -m bench.race_bench --skip-batch --speed 60 --replay-minutes 20

Batch: the race is generated and landed (timed apart), reference files loaded, then telemetry goes
bronze -> silver -> gold; points per second = telemetry points landed / (bronze + silver + gold seconds).
Live: a fresh lakehouse with the reference tables; the stream on a processing-time trigger;
one stage replayed at `--speed` times real time. For each landed file, latency = when the
micro-batch holding its points had updated the live standings (`ops.race_stream_batches.standings_at`)
- when the file landed. Reports median and 95th percentile, the points dropped as late, and the
driver JVM's heap after a full GC, sampled every few seconds (to show memory stays flat).
Results also go to bench/results/race_bench-<time>.json.
Settings: conf/<env>.toml (default local); the lakehouse goes to a temporary folder unless --root.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings, load_settings
from lakehouse.landing import LandingZone
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.race import run, stream
from lakehouse.spark import get_spark
from lakehouse.storage import open_store
from lakehouse.tables import Tables, read_table
from lakehouse_demo.race.landing import RaceSpec, land_reference, land_telemetry
from lakehouse_demo.race.replay import ReplayedFile, replay_stage

RESULTS = Path(__file__).resolve().parent / "results"
HEAP_WINDOW_S = 300.0  # the heap's course, window by window, in the results
HEAP_SAMPLE_S = 30.0  # each sample is a full GC: every 5 s they slowed the stream they measure


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def heap_windows(heap: Sequence[tuple[float, int]], seconds: float) -> list[int]:
    """Mean heap after GC (MB) in each `seconds`-long window since sampling began, in order: flat when the
    stream holds nothing more as it runs. Windows without a sample are skipped."""
    windows: dict[int, list[int]] = {}
    for at, used in heap:
        windows.setdefault(int(at // seconds), []).append(used)
    return [round(statistics.mean(values) / 1e6) for _, values in sorted(windows.items())]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def batch_breakdown(log_rows: DataFrame) -> dict[str, float]:
    """Where a live micro-batch's seconds go, the median over the micro-batches with rows (from the stream's log):
    read, validate and match (`silver_s`); carry and publish the standings (`standings_s`); the appends after them
    (`appends_s`: standings published -> log row built); the whole micro-batch bar its log row (`batch_s`); and
    from one micro-batch's start to the next's (`cycle_s`: its log row, the checkpoint's commits, the trigger)."""
    if "standings_at" not in log_rows.columns:
        return {}
    rows = sorted(
        log_rows.where(F.col("rows_in") > 0)
        .select("batch_id", "started_at", "finished_at", "standings_at", "silver_s", "standings_s")
        .collect(),
        key=lambda r: r["batch_id"],
    )
    if not rows:
        return {}
    cycles = [
        (b["started_at"] - a["started_at"]).total_seconds()
        for a, b in itertools.pairwise(rows)
        if b["batch_id"] == a["batch_id"] + 1
    ]
    figures = {
        "silver_s": [r["silver_s"] for r in rows],
        "standings_s": [r["standings_s"] for r in rows],
        "appends_s": [(r["finished_at"] - r["standings_at"]).total_seconds() for r in rows if r["standings_at"]],
        "batch_s": [(r["finished_at"] - r["started_at"]).total_seconds() for r in rows],
        "cycle_s": cycles,
    }
    return {name: round(statistics.median(values), 2) for name, values in figures.items() if values}


def bench_batch(spark: SparkSession, settings: Settings, spec: RaceSpec) -> dict[str, Any]:
    """Land the race, load reference files, then time telemetry through bronze, silver and gold."""
    zone = LandingZone(open_store(settings.landing_root, settings.s3))
    started = time.monotonic()
    land_reference(zone, spec)
    files = land_telemetry(zone, spec, log)
    land_s = time.monotonic() - started
    points = sum(f.records for f in files)
    megabytes = sum(f.size for f in files) / 1e6
    log(f"batch: landed {points} points in {len(files)} files ({megabytes:.0f} MB) in {land_s:.0f}s")
    started = time.monotonic()
    run.bronze_reference(spark, settings, "bench")
    run.silver_reference(spark, settings, "bench")
    reference_s = time.monotonic() - started
    timings = {}
    for name, step in (
        ("bronze", lambda: run.bronze_telemetry(spark, settings, "bench")),
        ("silver", lambda: run.silver_telemetry_batches(spark, settings, "bench")),
        ("gold", lambda: run.gold(spark, settings, "bench", force=True)),
    ):
        t = time.monotonic()
        result = step()
        timings[name] = time.monotonic() - t
        log(f"batch: {name} in {timings[name]:.0f}s: {result}")
    total = sum(timings.values())
    silver_rows = read_table(spark, Tables(settings).ref("silver", "race_telemetry")).count()
    return {
        "stages": list(spec.stages),
        "scale": spec.distance_scale,
        "riders": spec.riders,
        "points_landed": points,
        "files": len(files),
        "landed_mb": round(megabytes, 1),
        "silver_points": silver_rows,
        "generate_and_land_s": round(land_s, 1),
        "reference_s": round(reference_s, 1),
        **{f"{k}_s": round(v, 1) for k, v in timings.items()},
        "bronze_silver_gold_s": round(total, 1),
        "points_per_s": round(points / total),
    }


def bench_live(
    spark: SparkSession, settings: Settings, spec: RaceSpec, stage: int, speed: float, file_every: float,
    trigger_s: float, max_files: int | None,
) -> dict[str, Any]:  # fmt: skip
    """Replay a stage while the stream runs live; latency from file landed to standings updated."""
    zone = LandingZone(open_store(settings.landing_root, settings.s3))
    single = RaceSpec(
        spec.seed, spec.riders, (stage,), spec.distance_scale, spec.file_seconds, spec.max_file_rows
    )
    land_reference(zone, single)
    run.bronze_reference(spark, settings, "bench")
    run.silver_reference(spark, settings, "bench")
    stream_log = stream.StreamLog()
    spark.streams.addListener(stream_log)
    landed_at: dict[str, datetime] = {}
    heap: list[tuple[float, int]] = []
    stop = threading.Event()
    runtime = spark.sparkContext._jvm.java.lang.Runtime.getRuntime()  # type: ignore[union-attr]

    system = spark.sparkContext._jvm.java.lang.System  # type: ignore[union-attr]

    def sample_heap() -> None:
        # Heap in use right after a full GC: what the driver really holds, not garbage not yet collected.
        started = time.monotonic()
        while not stop.is_set():
            system.gc()
            used = int(runtime.totalMemory() - runtime.freeMemory())
            heap.append((round(time.monotonic() - started, 1), used))
            stop.wait(HEAP_SAMPLE_S)

    def landed(f: ReplayedFile) -> None:
        landed_at[f.landed.key] = datetime.now(UTC)

    queries = (stream.start_live(spark, settings, trigger_s, log=stream_log),)
    sampler = threading.Thread(target=sample_heap, daemon=True)
    sampler.start()
    time.sleep(max(3.0, trigger_s * 3))  # let the stream settle on its first (empty) batch
    started = time.monotonic()
    try:
        files = replay_stage(zone, single, stage, speed, file_every, landed, max_files)
        log(
            f"live: replay landed {len(files)} files in {time.monotonic() - started:.0f}s; "
            "waiting for the stream"
        )
        # Drained when the stream has taken every landed file (its source's rows are the files' names): told by its
        # listener, not by a query of the log table every second (a Spark job beside the stream's own, which
        # delayed the last files it measures).
        landed_files, seen, idle_since = len(files), -1, time.monotonic()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and time.monotonic() - idle_since < 60:
            read = sum(e["input_rows"] for e in stream_log.events)
            if read >= landed_files:
                break
            if read != seen:
                seen, idle_since = read, time.monotonic()
            time.sleep(0.5)
    finally:
        stream.stop(queries)
        stop.set()
        stream_log.wait_for_end(queries)
        spark.streams.removeListener(stream_log)
    log_rows = read_table(spark, Tables(settings).ref(*stream.BATCH_LOG))
    # When the standings were published (a log from before `standings_at`: when the micro-batch finished).
    at = F.coalesce("standings_at", "finished_at") if "standings_at" in log_rows.columns else F.col("finished_at")
    finished = {
        r["file"]: r["finished_at"]
        for r in log_rows.select(F.explode("source_files").alias("file"), at.alias("at"))
        .groupBy("file")
        .agg(F.min("at").alias("finished_at"))
        .collect()
    }
    breakdown = batch_breakdown(log_rows)
    latencies = [
        (finished[key].astimezone(UTC) - at).total_seconds()  # collected naive, in local time
        for key, at in landed_at.items()
        if key in finished
    ]
    micro_batches = [e for e in stream_log.events if e["query"] == stream.LIVE_QUERY and e["input_rows"]]
    third = max(1, len(heap) // 3)
    return {
        "stage": stage,
        "speed": speed,
        "file_every_s": file_every,
        "trigger_s": trigger_s,
        "files": len(landed_at),
        "files_in_standings": len(latencies),
        "points": sum(f.landed.records for f in files),
        "latency_median_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 95), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "micro_batches": len(micro_batches),
        "micro_batch_median_s": breakdown,
        "dropped_late": stream_log.dropped_late(),
        "heap_after_gc_mb_first_third": round(sum(h for _, h in heap[:third]) / third / 1e6)
        if heap
        else None,
        "heap_after_gc_mb_last_third": round(sum(h for _, h in heap[-third:]) / third / 1e6)
        if heap
        else None,
        "heap_after_gc_mb_max": round(max(h for _, h in heap) / 1e6) if heap else None,
        "heap_after_gc_mb_per_5_min": heap_windows(heap, HEAP_WINDOW_S),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="race_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--root", default=None, help="lakehouse folder (default: a new temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lakehouse (its path is in the results)")
    parser.add_argument("--stages", default="1-21", help="batch: stages, e.g. 1-21 or 3,9")
    parser.add_argument("--scale", type=float, default=1.0, help="batch and live: distance scale")
    parser.add_argument("--riders", type=int, default=None)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--replay-stage", type=int, default=3)
    parser.add_argument("--speed", type=float, default=60.0, help="live: times real time")
    parser.add_argument("--file-every", type=float, default=1.0, help="live: seconds between landed files")
    parser.add_argument("--trigger-seconds", type=float, default=1.0)
    parser.add_argument(
        "--replay-minutes", type=float, default=None, help="live: stop after this much wall time"
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting on top of the env's (repeatable), e.g. spark.sql.codegen.wholeStage=false",
    )
    parser.add_argument(
        "--java-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="a JVM option on top of the env's [spark] java_options (repeatable), e.g. a Flight Recording's",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    from jobs.race import parse_stages

    args = parse_args(argv)
    base = load_settings(args.env)
    if args.java_option or args.conf:
        conf = dict(item.split("=", 1) for item in args.conf)
        base = replace(
            base,
            spark=replace(
                base.spark,
                java_options=(*base.spark.java_options, *args.java_option),
                extra_conf={**base.spark.extra_conf, **conf},
            ),
        )
    root = Path(args.root or tempfile.mkdtemp(prefix="race-bench-"))
    spec = RaceSpec.from_settings(base.race, stages=parse_stages(args.stages), scale=args.scale)
    if args.riders:
        spec = RaceSpec(
            spec.seed, args.riders, spec.stages, spec.distance_scale, spec.file_seconds, spec.max_file_rows
        )
    batch = base.with_roots(str(root / "batch" / "landing"), str(root / "batch" / "tables"))
    live = base.with_roots(str(root / "live" / "landing"), str(root / "live" / "tables"))
    kept = args.root is not None or args.keep
    report: dict[str, Any] = {"env": args.env, "root": str(root), "kept": kept, "at": datetime.now(UTC).isoformat()}
    spark = get_spark(batch)
    try:
        if not args.skip_batch:
            report["batch"] = bench_batch(spark, batch, spec)
        if not args.skip_live:
            max_files = int(args.replay_minutes * 60 / args.file_every) if args.replay_minutes else None
            report["live"] = bench_live(spark, live, spec, args.replay_stage, args.speed, args.file_every,
                                        args.trigger_seconds, max_files)  # fmt: skip
    finally:
        # The session's end stops its JVM; the lakehouses' metastore servers (started for them, and kept running
        # for the next process by design) are stopped too, and a temporary lakehouse is removed: a benchmark
        # leaves no JVM and no gigabytes of race files behind.
        spark.stop()
        for lake in (batch, live):
            stop_server(local_metastore(lake))
        if not kept:
            shutil.rmtree(root, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"race_bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
