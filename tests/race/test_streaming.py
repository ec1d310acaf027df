"""Streaming against batch: the same silver and gold from the same files; restarts lose and repeat nothing;
late and duplicate points handled as documented in `lakehouse.race.stream`."""

from __future__ import annotations

import os
import shutil
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import race_stream as race_stream_job
from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.race import bronze as race_bronze
from lakehouse.race import run, stream
from lakehouse.race.gold import live_standings
from lakehouse.race.standings_state import LiveStandings
from lakehouse.storage import LocalStore
from lakehouse.tables import AUTO_COMPACT, Tables, delta_table
from lakehouse_demo.race.landing import stage_points, telemetry_files
from lakehouse_demo.race.replay import replay_stage
from lakehouse_demo.race.routes import plan_of
from tests.race.conftest import RACE, Streamed, copy_of, rows, table
from tests.race.odd_files import FOLDER, assert_odd_files_read, land_odd_files

GOLD = ("race_stage_results", "race_general_classification", "race_checkpoint_times", "race_climb_times",
        "race_rider_profiles", "race_live_standings")  # fmt: skip
SMALL_BATCHES = stream.StreamOptions(files_per_trigger=3)


def test_batch_and_stream_build_the_same_silver_and_gold(
    spark: SparkSession, race_lake: Settings, streamed_race: Streamed, tmp_path: Path
) -> None:
    streamed = copy_of(streamed_race.settings, tmp_path / "s")  # the same landed files, streamed

    run.bronze_telemetry(spark, race_lake, "b1")
    run.silver_telemetry_batches(spark, race_lake, "b1")
    run.gold(spark, race_lake, "b1", force=True)
    live = rows(table(spark, streamed, "gold", live_standings.NAME))
    run.gold(spark, streamed, "s1", force=True)

    assert streamed_race.micro_batches > 1
    batch_silver = table(spark, race_lake, "silver", "race_telemetry")
    assert rows(table(spark, streamed, "silver", "race_telemetry")) == rows(batch_silver)
    assert batch_silver.groupBy("rider_id", "ts").count().where("count > 1").count() == 0
    for name in GOLD:
        assert rows(table(spark, streamed, "gold", name)) == rows(table(spark, race_lake, "gold", name)), name
    # The standings the stream MERGEd micro-batch by micro-batch end where batch's do.
    assert live == rows(table(spark, race_lake, "gold", live_standings.NAME))


class Killed(RuntimeError):
    pass


def wait_for(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the stream did not get there in time")
        time.sleep(0.5)


def test_a_stream_killed_mid_replay_and_restarted_has_no_duplicate_and_no_gap(
    spark: SparkSession, empty_race_lake: Settings
) -> None:
    settings = empty_race_lake
    landing = LandingZone(LocalStore(settings.landing_root))
    files = replay_stage(landing, RACE, 3, speed=1e6, file_every_s=60 / 1e6, sleep=lambda s: None, max_files=4)
    killed: list[int] = []

    def die_once(batch_id: int, written: int) -> None:
        if written and not killed:
            killed.append(batch_id)
            raise Killed("killed after the standings and the silver write, before the log")

    query = stream.start_live(spark, settings, 0.5, stream.StreamHooks(die_once), SMALL_BATCHES)
    try:
        wait_for(lambda: not query.isActive, 240)
        assert killed and isinstance(query.exception(), Exception)
    finally:
        stream.stop((query,))
    # The replay goes on while the stream is down; then the stream comes back and catches up live.
    files += replay_stage(landing, RACE, 3, speed=1e6, file_every_s=60 / 1e6, sleep=lambda s: None)  # 10 in all
    queries = (stream.start_live(spark, settings, 0.5, options=SMALL_BATCHES),)
    try:
        _, points = stage_points(RACE, 3)
        expected = {(int(r), int(t)) for r, t in zip(points.rider_id, points.epoch_s, strict=True)}
        silver = table(spark, settings, "silver", "race_telemetry")
        wait_for(lambda: silver.count() >= len(expected), 240)
    finally:
        stream.stop(queries)
    stream.run_available_now(spark, settings)

    got = [
        (int(r["rider_id"]), int(r["t"]))
        for r in silver.select("rider_id", F.unix_timestamp("ts").alias("t")).collect()
    ]
    assert len(got) == len(set(got)), "duplicates in silver"
    assert set(got) == expected, "points missing from silver"
    landed = sum(f.landed.records for f in files if f.landed.written)
    assert table(spark, settings, "bronze", "race_telemetry").count() == landed  # bronze: each file once
    log = table(spark, settings, "ops", "race_stream_batches")
    assert log.groupBy("batch_id").count().where("count > 1").count() == 0
    assert log.where(F.col("batch_id") == killed[0]).count() == 1  # the killed batch, replayed once
    standings = rows(table(spark, settings, "gold", live_standings.NAME))
    assert standings == rows(stream.standings_for(spark, settings, [plan_of(3).stage_date]))
    # Tables the stream adds a small file to per micro-batch compact themselves.
    for layer, name in (("bronze", "race_telemetry"), ("silver", "race_telemetry"), stream.BATCH_LOG,
                        ("gold", live_standings.NAME)):  # fmt: skip
        detail = delta_table(spark, Tables(settings).ref(layer, name)).detail().first()
        assert detail["properties"].get(AUTO_COMPACT) == "true", name


def test_a_stop_lets_the_running_micro_batch_finish(spark: SparkSession, empty_race_lake: Settings) -> None:
    """Stopped while a micro-batch is between its silver write and its log row (held there by a hook), the
    query finishes that batch first: its log row is written and the checkpoint commits it
    (stopped at once, the batch is abandoned: no log row, no commit, and it runs again on restart)."""
    settings = empty_race_lake
    landing = LandingZone(LocalStore(settings.landing_root))
    replay_stage(landing, RACE, 3, speed=1e6, file_every_s=30 / 1e6, sleep=lambda s: None, max_files=2)
    held = threading.Event()
    batches: list[int] = []

    def hold_first(batch_id: int, written: int) -> None:
        if written and not held.is_set():
            batches.append(batch_id)
            held.set()
            time.sleep(2)

    events = stream.StreamLog()
    spark.streams.addListener(events)
    queries = (stream.start_live(spark, settings, 0.5, stream.StreamHooks(hold_first), SMALL_BATCHES),)
    try:
        assert held.wait(240), "no silver micro-batch wrote points"
        stream.stop(queries)  # while the hook holds the batch
        events.wait_for_end(queries)
    finally:
        stream.stop(queries, grace_s=0)
        spark.streams.removeListener(events)
    # The listener has heard the finished batch by the time it has heard the query end.
    assert batches[0] in [e["batch_id"] for e in events.events if e["query"] == stream.LIVE_QUERY]
    assert not queries[0].isActive and queries[0].exception() is None
    log = table(spark, settings, "ops", "race_stream_batches")
    assert batches[0] in [r[0] for r in log.select("batch_id").collect()]
    commits = Path(stream.checkpoint_uri(settings, stream.CHECKPOINT).removeprefix("file:")) / "commits"
    assert str(batches[0]) in os.listdir(commits)
    assert table(spark, settings, "gold", live_standings.NAME).count() > 0


HEADER = "rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm"


def line(second: str) -> str:
    return f"11,2024-07-01T{second}Z,49.0,-0.3,100.0,10.0,150,200,90"


def test_late_and_duplicate_points(spark: SparkSession, empty_race_lake: Settings, tmp_path: Path) -> None:
    """Watermark 30 minutes, one file per micro-batch. File 1: 10:00:00-09 and a re-send of 10:00:05 (dropped
    in the batch). File 2: 11:00:00-04: the newest point is 11:00:04, so from the next micro-batch on a point
    before 10:30:04 is late. File 3: 10:40:00, on time. The stream stops; restarted, it still knows 11:00:04
    (kept beside its checkpoint). File 4: 10:20:00 is too late (the stream drops it, batch keeps it), the re-send
    of 11:00:02 is a duplicate of a point landed two batches and a restart before (dropped), the re-send of
    10:00:03 is both (dropped, counted as late)."""
    files = {
        "a-1.csv": [line(f"10:00:{s:02d}") for s in range(10)] + [line("10:00:05")],
        "a-2.csv": [line(f"11:00:{s:02d}") for s in range(5)],
        "a-3.csv": [line("10:40:00")],
        "a-4.csv": [line("10:20:00"), line("11:00:02"), line("10:00:03")],
    }
    batch = empty_race_lake.with_roots(str(tmp_path / "b" / "landing"), str(tmp_path / "b" / "tables"))
    shutil.copytree(empty_race_lake.tables_root, batch.tables_root)
    zones = [LandingZone(LocalStore(s.landing_root)) for s in (empty_race_lake, batch)]

    def land(name: str) -> None:
        lines = files[name]
        for zone in zones:
            zone.write_bytes(
                f"race/telemetry/date=2024-07-01/{name}", ("\n".join([HEADER, *lines]) + "\n").encode(), len(lines)
            )

    one_by_one = stream.StreamOptions(files_per_trigger=1)
    log = stream.StreamLog()
    for name in ("a-1.csv", "a-2.csv", "a-3.csv"):
        land(name)
    stream.run_available_now(spark, empty_race_lake, log=log, options=one_by_one)
    land("a-4.csv")
    stream.run_available_now(spark, empty_race_lake, log=log, options=one_by_one)  # a new query, same checkpoint
    run.bronze_telemetry(spark, batch, "b1")
    run.silver_telemetry_batches(spark, batch, "b1")

    def seconds(settings: Settings) -> list[str]:
        df = table(spark, settings, "silver", "race_telemetry")
        return sorted(r[0] for r in df.select(F.date_format("ts", "HH:mm:ss")).collect())

    kept = [f"10:00:{s:02d}" for s in range(10)] + ["10:40:00"] + [f"11:00:{s:02d}" for s in range(5)]
    assert seconds(empty_race_lake) == kept
    assert seconds(batch) == sorted([*kept, "10:20:00"])
    assert log.dropped_late() == 2
    # 20 lines read, none quarantined, 2 late, the 16 kept points written to silver (each batch counted once).
    assert log.totals() == stream.BatchCounts(lines=20, quarantined=0, late=2, silver_rows=16)
    assert table(spark, empty_race_lake, "bronze", "race_telemetry").count() == 20  # bronze keeps all as landed


def test_bad_lines_are_quarantined_and_the_good_ones_around_them_stream_on(
    spark: SparkSession, empty_race_lake: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """One file: two good lines around three bad ones (a rider id that is not a number, a timestamp on another day
    than the file's folder, a line cut short). The bad ones go to bronze.quarantine with their reason; the good
    ones reach bronze, silver and the standings in the same micro-batch; the job's summary counts them."""
    good = [line("10:00:00"), line("10:00:01")]
    bad = [
        "x1,2024-07-01T10:00:02Z,49.0,-0.3,100.0,10.0,150,200,90",
        "11,2024-07-02T10:00:03Z,49.0,-0.3,100.0,10.0,150,200,90",
        "11,2024-07-01T10:00:04Z,49.0",
    ]
    zone = LandingZone(LocalStore(empty_race_lake.landing_root))
    lines = [good[0], *bad, good[1]]
    zone.write_bytes(
        "race/telemetry/date=2024-07-01/b-1.csv", ("\n".join([HEADER, *lines]) + "\n").encode(), len(lines)
    )
    args = race_stream_job.build_parser().parse_args(["--no-gold"])  # catch up, then stop
    assert race_stream_job.body(args, empty_race_lake) == 0

    out = capsys.readouterr()
    assert "1 landed files taken, 3 quarantined (bronze.quarantine), 0 points dropped as too late" in out.err
    (summary,) = [line.split() for line in out.out.splitlines() if line.startswith("stream ")]
    # files in, lines read, new silver rows, quarantined; then the seconds and the note
    assert summary[:6] == ["stream", "silver.race_telemetry", "1", "5", "2", "3"] and summary[7:] == [
        "1", "micro-batches,", "0", "late"
    ]  # fmt: skip
    quarantined = table(spark, empty_race_lake, "bronze", "quarantine").where(F.col("_table") == "race_telemetry")
    assert sorted(r["raw"] for r in quarantined.collect()) == sorted(bad)
    assert all(r["reason"] for r in quarantined.collect())
    assert table(spark, empty_race_lake, "bronze", "race_telemetry").count() == 2
    silver = table(spark, empty_race_lake, "silver", "race_telemetry")
    assert sorted(r[0] for r in silver.select(F.date_format("ts", "HH:mm:ss")).collect()) == ["10:00:00", "10:00:01"]
    batches = table(spark, empty_race_lake, *stream.BATCH_LOG).collect()
    assert [(r["rows_in"], r["rows_written"]) for r in batches if r["rows_in"]] == [(2, 2)]


def test_files_are_read_as_their_first_line_says_and_a_checkpoint_of_the_csv_source_carries_on(
    spark: SparkSession, empty_race_lake: Settings
) -> None:
    """The stream reads each file as batch does (tests/race/odd_files.py: no header, a single headerless line,
    columns in another order, fewer and more, a name with a space and a `%`). A checkpoint from when the query read
    the files as CSV itself carries on: the file it had taken is not taken again."""
    zone = LandingZone(LocalStore(empty_race_lake.landing_root))
    zone.write_bytes(f"{FOLDER}/before.csv", f"{HEADER}\n{line('09:00:00')}\n".encode(), 1)
    source = f"{empty_race_lake.landing_root}/race/telemetry"
    before = (  # the query's source as it was until 2026-12-06
        spark.readStream.schema(race_bronze.RAW_SCHEMA).option("header", True).option("recursiveFileLookup", True)
        .option("pathGlobFilter", "*.csv").csv(source)
        .writeStream.foreachBatch(lambda df, batch_id: None)
        .option("checkpointLocation", stream.checkpoint_uri(empty_race_lake, stream.CHECKPOINT))
        .trigger(availableNow=True).start()
    )  # fmt: skip
    before.awaitTermination()
    land_odd_files(empty_race_lake)

    stream.run_available_now(spark, empty_race_lake)

    assert_odd_files_read(spark, empty_race_lake)  # before.csv's point is not among them


@pytest.fixture(autouse=True)
def no_active_streams(spark: SparkSession) -> object:
    yield
    for query in spark.streams.active:
        query.stop()


def test_standings_carried_between_micro_batches_equal_a_recompute_after_each(
    spark: SparkSession, empty_race_lake: Settings
) -> None:
    """Stage 3's files land two per micro-batch, in arrival order but for one that comes two files late (its
    points late, within the watermark). After every micro-batch the live standings equal a recompute from silver;
    the state is built from silver once, on the stage's first micro-batch, and carried forward from then on, the
    late file's points folded in among the points kept, the riders' finishes crossed in the last ones."""
    settings = empty_race_lake
    route, points = stage_points(RACE, 3)
    files = list(telemetry_files(RACE, route, points))
    assert len(files) >= 5
    landing = Path(settings.landing_root)
    for n, (key, data, _, _) in enumerate([*files[:2], *files[3:5], files[2], *files[5:]]):
        path = landing / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1_700_000_000 + n * 10, 1_700_000_000 + n * 10))  # the order the stream takes them in
    stage_date = plan_of(3).stage_date
    compared: list[bool] = []
    rebuilds: list[int] = []
    versions: list[int | None] = []  # the silver version the state knows it matches

    def check(batch_id: int, state: LiveStandings) -> None:
        live = table(spark, settings, "gold", live_standings.NAME).where(F.col("stage") == 3)
        compared.append(rows(live) == rows(stream.standings_for(spark, settings, [stage_date])))
        rebuilds.append(len(state.rebuilt))
        versions.append(state.stages[3].silver_version)

    two_by_two = stream.StreamOptions(files_per_trigger=2)
    stream.run_available_now(spark, settings, stream.StreamHooks(after_standings=check), options=two_by_two)

    assert len(compared) >= len(files) // 2 and all(compared), compared
    assert set(rebuilds) == {1}, rebuilds
    # Most micro-batches found their own silver commit right after the one before (so silver was not counted);
    # the table's set-up commits after the first micro-batch (auto compaction turned on) break the chain once.
    follows = [b == a + 1 for a, b in pairwise(versions) if a is not None and b is not None]
    assert versions[-1] is not None and sum(follows) >= len(versions) // 2, versions


def test_the_live_job_with_nothing_landed_stops_at_its_timeout_and_says_gold_has_no_points_yet(
    spark: SparkSession, empty_race_lake: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jobs.race_stream --trigger processing-time --timeout` before the first file lands: no gold failure."""
    live = ["--trigger", "processing-time", "--seconds", "1", "--timeout", "3"]
    args = race_stream_job.build_parser().parse_args(live)
    assert race_stream_job.body(args, empty_race_lake) == 0
    out = capsys.readouterr()
    assert "no race point has reached silver yet" in out.err
    assert "no race points yet" in out.out
    assert not [q for q in spark.streams.active if q.name == stream.LIVE_QUERY]
