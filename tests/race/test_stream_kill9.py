"""The live race stream killed mid-micro-batch at each of its steps in turn, restarted after each kill: its tables
end as an uninterrupted stream's do.

The first two kills are real: `python -m jobs.race_stream` as a subprocess, SIGKILL to its whole process group
(Python and its Spark JVM), one of them while bronze's and silver's appends run side by side. The other two raise
`StreamKilled` at the point inside this process's stream (the query dies with its micro-batch half done, its
checkpoint as SIGKILL leaves it), which saves a JVM start-up and the reference step per kill. The last restart runs
its micro-batches on the stream's own session generating code, the path a micro-batch too large for the
interpreted clone takes (`stream.INTERPRETED_MAX_BYTES`); the uninterrupted stream took the clone."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from lakehouse.race import stream
from lakehouse.race.gold import live_standings
from tests.race.conftest import CALM_BATCHES, LINEAGE, Streamed, rows, table
from tests.reliability.lakes import JobRun, finish, simulated_crash, start_job, stop_metastore

FILES_PER_TRIGGER = CALM_BATCHES.files_per_trigger  # three micro-batches, as the calm stream's: kills hit the second
# Each kill in a new process, or a new "process" (hits counted from zero), one after the other on the same
# checkpoint: after the standings are published (bronze and silver not yet written: the standings count points
# silver lacks), after bronze's append (silver's may be running beside it), after silver's, after the batch's log
# row (its checkpoint commit not yet written); then the stream is restarted here and runs to its end.
REAL_KILLS = ("stream.after_standings:2", "stream.after_bronze_write:1")
SIMULATED_KILLS = ("stream.after_silver_write:1", "stream.after_batch_log:1")
BRONZE_LINEAGE = (*LINEAGE, "_run_id", "_batch_id")


class StreamKilled(RuntimeError):
    """Raised at a crash point inside the stream's micro-batch. An `Exception`, not `SimulatedKill`: py4j hands
    only those back to Spark as the batch's failure (nothing in the micro-batch catches one)."""


def run_stream(root: Path, crash_at: str) -> JobRun:
    """`python -m jobs.race_stream` (catch up, then stop; no gold) on the lakehouse at `root`."""
    args = ["--env", "test", "--no-gold", "--files-per-trigger", str(FILES_PER_TRIGGER)]
    return finish(start_job(root, args, crash_at, job="jobs.race_stream"), timeout=600)


def test_a_stream_killed_at_each_step_and_restarted_ends_as_an_uninterrupted_one(
    spark: SparkSession, race_lake: Settings, streamed_race: Streamed, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = streamed_race.settings  # the same landed files, streamed without a kill
    root = Path(race_lake.tables_root).parent
    try:
        for point in REAL_KILLS:
            killed = run_stream(root, crash_at=point)
            assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-3000:])
    finally:
        stop_metastore(root)
    for point in SIMULATED_KILLS:
        with simulated_crash(monkeypatch, point, StreamKilled) as died:
            with pytest.raises(stream.StreamError, match="StreamKilled"):
                stream.run_available_now(spark, race_lake, options=CALM_BATCHES)
        assert died == [point], point  # it died there, not elsewhere
    # The restart takes every micro-batch as too large for the interpreted clone (`INTERPRETED_MAX_BYTES`), so its
    # queries run on the session it was started on, here generating code (the test env's does not): the calm stream
    # took the clone, and the tables must not tell the two paths apart.
    sizes: list[int] = []

    def never_cheaper(landed_bytes: int) -> bool:
        sizes.append(landed_bytes)
        return False

    monkeypatch.setattr(stream, "interpreted_is_cheaper", never_cheaper)
    generating = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}
    before = {key: spark.conf.get(key) for key in generating}
    try:
        for key, value in generating.items():
            spark.conf.set(key, value)
        stream.run_available_now(spark, race_lake, options=CALM_BATCHES)
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)
    assert sizes and min(sizes) > 0, sizes  # micro-batches with files ran on the caller's session

    silver = table(spark, race_lake, "silver", "race_telemetry")
    assert silver.count() > 0
    assert rows(silver) == rows(table(spark, calm, "silver", "race_telemetry"))
    assert silver.groupBy("rider_id", "ts").count().where("count > 1").count() == 0
    # Bronze: every landed line once, however often its micro-batch ran.
    assert rows(table(spark, race_lake, "bronze", "race_telemetry"), BRONZE_LINEAGE) == rows(
        table(spark, calm, "bronze", "race_telemetry"), BRONZE_LINEAGE
    )
    assert rows(table(spark, race_lake, "gold", live_standings.NAME)) == rows(
        table(spark, calm, "gold", live_standings.NAME)
    )
    # One log row per micro-batch, every landed file in one of them.
    log = table(spark, race_lake, *stream.BATCH_LOG)
    assert log.groupBy("batch_id").count().where("count > 1").count() == 0
    files = {r[0] for r in log.select(F.explode("source_files")).collect()}
    landed = {p.relative_to(race_lake.landing_root).as_posix() for p in Path(race_lake.landing_root).rglob("*.csv")}
    assert files == {f for f in landed if f.startswith("race/telemetry/")}
