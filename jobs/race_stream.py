"""The race live: Structured Streaming from the landing zone into bronze, silver and live standings.

    python -m jobs.race_stream                                    # catch up on landed files, then stop
    python -m jobs.race_stream --trigger processing-time          # live, until Ctrl-C (or --timeout)
    python -m jobs.race_replay --stage 9 --speed 60 &             # ... while a stage is replayed

Route, athletes and start-list files are loaded in batch first (the stream matches points to routes).
After the stream stops, the gold race tables are rebuilt from silver (skip with --no-gold). Checkpoints
live under <tables>/ops/checkpoints/: a restart carries on exactly where the stream stopped.
Exits 0 on success; on failure prints a one-line reason and exits 1 (2 for bad arguments or settings).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from jobs.race import summary_rows
from lakehouse.cli import progress, run_job
from lakehouse.config import Settings
from lakehouse.landing import new_run_id
from lakehouse.race import run, stream
from lakehouse.race.gold import live_standings
from lakehouse.race.silver import telemetry as silver_telemetry
from lakehouse.spark import get_spark, interpreted_session
from lakehouse.stages import format_summary
from lakehouse.tables import Tables, read_table, table_exists

STANDINGS_EVERY_S = 10.0


def positive_int(text: str) -> int:
    """A whole number of at least 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more (got {value})")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments (`--env` is added by the shared CLI helper)."""
    parser = argparse.ArgumentParser(prog="race_stream", description=__doc__.splitlines()[0])
    parser.add_argument("--trigger", choices=("available-now", "processing-time"), default="available-now")
    parser.add_argument("--seconds", type=float, default=None, help="processing-time trigger interval")
    parser.add_argument("--timeout", type=float, default=None, help="live: stop after this many seconds")
    parser.add_argument("--no-gold", action="store_true", help="do not rebuild gold when the stream stops")
    parser.add_argument(
        "--files-per-trigger", type=positive_int, default=stream.MAX_FILES_PER_TRIGGER,
        help=f"landed files per micro-batch at most (default {stream.MAX_FILES_PER_TRIGGER})",
    )  # fmt: skip
    return parser


def show_leaders(spark: SparkSession, settings: Settings) -> None:
    """The top five of the latest stage in the live standings, on stderr."""
    ref = Tables(settings).ref("gold", live_standings.NAME)
    if not table_exists(spark, ref):
        return
    rows = read_table(spark, ref).orderBy(F.col("stage").desc(), F.col("position")).limit(5).collect()
    for r in rows:
        gap = f"+{r['gap_s']:.0f}s" if r["gap_s"] is not None else "-"
        progress(f"  stage {r['stage']} #{r['position']} rider {r['rider_id']} {r['km_to_go']} km to go {gap}")


def stream_result(files: int, counts: stream.BatchCounts, batches: int, seconds: float) -> run.StepResult:
    """The stream's line of the run summary: landed files and lines read, new points written to silver, lines
    quarantined (and files Spark could not read), micro-batches and late points in the note."""
    return run.StepResult(
        "stream", "silver.race_telemetry", rows_in=counts.lines, rows_out=counts.silver_rows, seconds=seconds,
        note=f"{batches} micro-batches, {counts.late} late", files_in=files, quarantined=counts.quarantined,
    )  # fmt: skip


def body(args: argparse.Namespace, settings: Settings) -> int:
    """Run the stream (catch up, or live until stopped), then rebuild gold; print the summary."""
    started = time.monotonic()
    run_id = new_run_id()
    options = stream.StreamOptions(files_per_trigger=args.files_per_trigger)
    queries: tuple[StreamingQuery, ...] = ()
    try:
        spark = get_spark(settings)
        progress("reference: routes, athletes and start lists (batch)")
        results = run.bronze_reference(spark, settings, run_id) + run.silver_reference(spark, settings, run_id)
        streamed = time.monotonic()
        if args.trigger == "available-now":
            progress("stream: catching up (availableNow)")
            log = stream.run_available_now(spark, settings, options=options)
        else:
            log = stream.StreamLog()
            spark.streams.addListener(log)
            queries = (stream.start_live(spark, settings, args.seconds, options=options, log=log),)
            progress(f"stream: live every {args.seconds or settings.race.trigger_seconds:g}s; Ctrl-C to stop")
            viewer = interpreted_session(spark)  # a five-row read every 10 s: no code generated for it
            try:
                shown = live_since = time.monotonic()  # --timeout counts the stream's time, not the reference's
                while args.timeout is None or time.monotonic() - live_since < args.timeout:
                    for query in queries:
                        if query.exception() is not None:
                            raise stream.StreamError(stream.failure_reason(query.exception()))
                    time.sleep(0.5)
                    if time.monotonic() - shown >= STANDINGS_EVERY_S:
                        show_leaders(viewer, settings)
                        shown = time.monotonic()
            except KeyboardInterrupt:
                progress("stream: stopping after the running micro-batches (Ctrl-C again to stop at once)")
            stream.stop(queries)
            log.wait_for_end(queries)
        batches = [e for e in log.events if e["query"] == stream.LIVE_QUERY and e["input_rows"]]
        taken, counts = sum(e["input_rows"] for e in batches), log.totals()
        progress(
            f"stream: {len(batches)} micro-batches, {taken} landed files taken, {counts.quarantined} quarantined "
            f"(bronze.quarantine), {counts.late} points dropped as too late"
        )
        results.append(stream_result(taken, counts, len(batches), time.monotonic() - streamed))
        if not args.no_gold:
            if table_exists(spark, Tables(settings).ref("silver", silver_telemetry.NAME)):
                results += run.gold(spark, settings, run_id)
            else:  # nothing streamed yet (no file landed, or the stream stopped before its first one)
                progress("gold: not rebuilt: no race point has reached silver yet")
                results.append(run.StepResult("gold", "gold.race_*", None, None, 0.0, "no race points yet"))
    except BaseException:  # stop the queries at once, then the shared CLI helper reports it in one line
        stream.stop(queries, grace_s=0)
        raise
    print(format_summary(summary_rows(results)))
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.race_stream` (the demo lakehouse unless --env says otherwise)."""
    return run_job("race_stream", build_parser(), body, argv, default_env="demo")


if __name__ == "__main__":
    sys.exit(main())
