"""Stage results on a hand-built race, against values worked out by hand.

The race: two stages on the same straight road north from (45.0 N, 6.0 E), 3000 m long, route points
every 250 m. Flat at 100 m to 1000 m, then 6 % up to 160 m at 2000 m (the climb "Côte du Test",
foot 1000 m, top 2000 m), then flat to the finish at 3000 m. Sprint at 500 m.
Stage 1 (mass start 2024-07-01 10:00:00): riders 1 and 2 finish, rider 3 stops at 1500 m.
Stage 2 (time trial 2024-07-02): rider 1 starts 12:00:00, rider 2 12:01:00; rider 3 does not start.
Each rider's points are (seconds after his start, metres along the road); crossings are interpolated
between consecutive points: t0 + (mark - d0) / (d1 - d0) * (t1 - t0).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.race import standings_state
from lakehouse.race.geo import METRES_PER_DEGREE
from lakehouse.race.gold import (
    checkpoint_times,
    general_classification,
    live_standings,
    rider_profiles,
    segment_comparison,
    stage_results,
)
from lakehouse.race.gold.crossings import crossings, marks, point_pairs, rider_starts
from lakehouse.race.silver import route_cells
from lakehouse.race.silver import stages as silver_stages
from lakehouse.race.silver import telemetry as silver_telemetry

LAT0, LON0 = 45.0, 6.0
STAGE1_START = datetime(2024, 7, 1, 10, 0, 0)
STAGE2_START = datetime(2024, 7, 2, 12, 0, 0)
CHECKPOINTS = {0: ("Start", "start"), 500: ("Sprint", "sprint"), 1000: ("Côte du Test (foot)", "climb_foot"),
               2000: ("Côte du Test (top)", "climb_top"), 3000: ("Finish", "finish")}  # fmt: skip
POINTS = {  # (stage, rider): [(seconds after the rider's start, metres)]
    (1, 1): [(0, 0), (40, 480), (60, 720), (100, 1200), (300, 2100), (400, 3100)],
    (1, 2): [(0, 0), (50, 500), (120, 1100), (330, 2050), (420, 3030)],
    (1, 3): [(0, 0), (100, 800), (200, 1500)],
    (2, 1): [(0, 0), (150, 1500), (320, 3050)],
    (2, 2): [(0, 0), (160, 1500), (310, 3020)],
}
OWN_START = {(2, 1): STAGE2_START, (2, 2): STAGE2_START + timedelta(minutes=1)}


def altitude(d: float) -> float:
    return 100.0 if d <= 1000 else (100.0 + (d - 1000) * 0.06 if d <= 2000 else 160.0)


def lat_of(d: float) -> float:
    return LAT0 + d / METRES_PER_DEGREE


@pytest.fixture(scope="module")
def race(spark: SparkSession) -> dict[str, DataFrame]:
    """Silver tables of the hand-built race, built by the silver transforms from typed route rows."""
    route_rows = []
    for stage, day, kind, start in (
        (1, date(2024, 7, 1), "hilly", STAGE1_START),
        (2, date(2024, 7, 2), "itt", STAGE2_START),
    ):
        for point, d in enumerate(range(0, 3001, 250)):
            name, cp_kind = CHECKPOINTS.get(d, (None, None))
            climb = "Côte du Test" if cp_kind in ("climb_foot", "climb_top") else None
            route_rows.append(
                (stage, day, kind, start, "Here", "There", point, lat_of(d), LON0, altitude(d), float(d),
                 name, cp_kind, climb, "4" if climb else None, "route.csv", 1, datetime(2024, 8, 1))
            )  # fmt: skip
    routes = spark.createDataFrame(
        route_rows,
        "stage int, stage_date date, stage_kind string, start_time timestamp, start_town string, "
        "finish_town string, point int, lat double, lon double, altitude_m double, distance_m double, "
        "checkpoint string, checkpoint_kind string, climb string, climb_category string, "
        "_source_file string, _batch_id long, _ingested_at timestamp",
    )
    points = silver_stages.route_points(routes)
    stages = silver_stages.stages(routes)
    telemetry_rows = []
    for (stage, rider), samples in POINTS.items():
        start = OWN_START.get((stage, rider), STAGE1_START if stage == 1 else STAGE2_START)
        for seconds, d in samples:
            telemetry_rows.append(
                (rider, start + timedelta(seconds=seconds), lat_of(d), LON0, altitude(min(d, 3000)), 10.0,
                 150, 250 if rider == 1 else None, 90, start.date(), "f.csv", datetime(2024, 8, 1))
            )  # fmt: skip
    bronze_points = spark.createDataFrame(
        telemetry_rows,
        "rider_id int, ts timestamp, lat double, lon double, altitude_m double, speed_mps double, "
        "heart_rate int, power_w int, cadence_rpm int, stage_date date, _source_file string, "
        "_ingested_at timestamp",
    )
    cells = route_cells.build_cells(points)
    start_times = spark.createDataFrame(
        [(2, rider, start) for (_, rider), start in OWN_START.items()],
        "stage int, rider_id int, start_time timestamp",
    )
    telemetry = silver_telemetry.conform(bronze_points, stages, cells).cache()
    riders = spark.createDataFrame(
        [(1, "Un", "A"), (2, "Deux", "B"), (3, "Trois", "C")], "rider_id int, name string, team string"
    )
    checkpoints = silver_stages.checkpoints(routes)
    starts = rider_starts(telemetry, stages, start_times)
    passed = crossings(point_pairs(telemetry), marks(stages, checkpoints), starts).cache()
    return {
        "telemetry": telemetry, "stages": stages, "checkpoints": checkpoints, "starts": starts,
        "crossings": passed, "route_points": points, "start_times": start_times, "riders": riders,
    }  # fmt: skip


def test_points_are_matched_to_the_distance_along_the_route(
    race: dict[str, DataFrame], spark: SparkSession
) -> None:
    actual = race["telemetry"].where(F.col("stage") == 1).select("rider_id", "distance_m", "off_route_m")
    expected = spark.createDataFrame(
        [
            (rider, float(d), 0.0)
            for (stage, rider), samples in POINTS.items()
            if stage == 1
            for _, d in samples
        ],
        "rider_id int, distance_m double, off_route_m double",
    )
    # The last point of rider 1 is 100 m past the finish: the route is extended straight beyond it.
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_stage_results_time_gap_and_dnf(race: dict[str, DataFrame], spark: SparkSession) -> None:
    results = stage_results.stage_results(race["crossings"], race["starts"], race["stages"], race["riders"])

    actual = results.select("stage", "rider_id", "status", "rank", "stage_time_s", "stage_time", "gap_s")
    expected = spark.createDataFrame(
        [
            # stage 1, rider 1: finish between (300 s, 2100 m) and (400 s, 3100 m): 300 + 900/1000*100
            (1, 1, "finished", 1, 390.0, "0:06:30", 0.0),
            # rider 2: between (330, 2050) and (420, 3030): 330 + 950/980*90 = 417.244898
            (1, 2, "finished", 2, 417.245, "0:06:57", 27.245),
            (1, 3, "DNF", None, None, None, None),
            # stage 2 (own starts): rider 1: 150 + 1500/1550*170 = 314.516129; rider 2: 160 + 1500/1520*150
            (2, 1, "finished", 2, 314.516, "0:05:15", 6.49),
            (2, 2, "finished", 1, 308.026, "0:05:08", 0.0),
        ],
        "stage int, rider_id int, status string, rank int, stage_time_s double, stage_time string, "
        "gap_s double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_general_classification_sums_stage_times_and_drops_non_finishers(
    race: dict[str, DataFrame], spark: SparkSession
) -> None:
    results = stage_results.stage_results(race["crossings"], race["starts"], race["stages"], race["riders"])
    actual = general_classification.general_classification(results).select(
        "after_stage", "rider_id", "rank", "total_time_s", "gap_s", "stages_finished"
    )
    expected = spark.createDataFrame(
        [
            (1, 1, 1, 390.0, 0.0, 1),
            (1, 2, 2, 417.245, 27.245, 1),
            (2, 1, 1, 704.516, 0.0, 2),  # 390.0 + 314.516
            (2, 2, 2, 725.271, 20.755, 2),  # 417.245 + 308.026
        ],
        "after_stage int, rider_id int, rank int, total_time_s double, gap_s double, stages_finished int",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_checkpoint_times_in_order_of_passage(race: dict[str, DataFrame], spark: SparkSession) -> None:
    actual = (
        checkpoint_times.checkpoint_times(race["crossings"], race["checkpoints"])
        .where((F.col("stage") == 1) & F.col("kind").isin("sprint", "climb_foot"))
        .select("checkpoint", "rider_id", "elapsed_s", "position", "gap_s")
    )
    expected = spark.createDataFrame(
        [
            ("Sprint", 1, 41.667, 1, 0.0),  # 40 + 20/240*20
            ("Sprint", 2, 50.0, 2, 8.333),  # exactly on the point at 500 m
            ("Sprint", 3, 62.5, 3, 20.833),  # 0 + 500/800*100
            ("Côte du Test (foot)", 1, 83.333, 1, 0.0),  # 60 + 280/480*40
            ("Côte du Test (foot)", 2, 108.333, 2, 25.0),  # 50 + 500/600*70
            ("Côte du Test (foot)", 3, 128.571, 3, 45.238),  # 100 + 200/700*100
        ],
        "checkpoint string, rider_id int, elapsed_s double, position int, gap_s double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_climb_time_and_vam(race: dict[str, DataFrame], spark: SparkSession) -> None:
    actual = checkpoint_times.climb_times(race["crossings"], race["checkpoints"]).select(
        "stage", "rider_id", "length_m", "ascent_m", "avg_gradient_pct", "climb_time_s", "vam_m_per_h", "rank"
    )
    expected = spark.createDataFrame(
        [
            # rider 1: top at 100 + 800/900*200 = 277.777778, foot at 83.333333 -> 194.444 s;
            # VAM = 60 m / 194.444 s * 3600 = 1110.857 m/h
            (1, 1, 1000.0, 60.0, 6.0, 194.444, 1110.9, 1),
            # rider 2: top at 120 + 900/950*210 = 318.947368, foot 108.333333 -> 210.614 s; 1025.557 m/h
            (1, 2, 1000.0, 60.0, 6.0, 210.614, 1025.6, 2),
            # stage 2, rider 1: foot 1000/1500*150 = 100, top 150 + 500/1550*170 = 204.83871
            (2, 1, 1000.0, 60.0, 6.0, 104.839, 2060.3, 2),
            # rider 2: foot 160*1000/1500 = 106.666667, top 160 + 500/1520*150 = 209.342105 -> 102.675 s
            (2, 2, 1000.0, 60.0, 6.0, 102.675, 2103.7, 1),
        ],
        "stage int, rider_id int, length_m double, ascent_m double, avg_gradient_pct double, "
        "climb_time_s double, vam_m_per_h double, rank int",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_segment_gap_by_distance(race: dict[str, DataFrame], spark: SparkSession) -> None:
    segment = segment_comparison.resolve_segment(race["stages"], race["checkpoints"], 1, None)
    assert segment == segment_comparison.Segment(1, "Côte du Test", 1000.0, 2000.0)
    gaps = segment_comparison.segment_gaps(
        race["telemetry"], race["stages"], race["start_times"],
        segment_comparison.segment_marks(spark, segment, step_m=500), segment, 1, 2,
    )  # fmt: skip
    actual = gaps.select("distance_m", "a_elapsed_s", "b_elapsed_s", "gap_s", "gap_change_s")
    expected = spark.createDataFrame(
        [
            (1000.0, 83.333, 108.333, 25.0, 0.0),
            # rider 1 at 1500 m: 100 + 300/900*200 = 166.666667; rider 2: 120 + 400/950*210 = 208.421053
            (1500.0, 166.667, 208.421, 41.754, 16.754),
            (2000.0, 277.778, 318.947, 41.17, 16.17),
        ],
        "distance_m double, a_elapsed_s double, b_elapsed_s double, gap_s double, gap_change_s double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_live_standings_of_a_finished_stage(race: dict[str, DataFrame], spark: SparkSession) -> None:
    standings = live_standings.live_standings(race["telemetry"], race["crossings"], race["stages"])
    actual = standings.where(F.col("stage") == 1).select(
        "rider_id", "position", "status", "distance_m", "km_to_go", "last_mark_m", "gap_s", "stage_time_s"
    )
    expected = spark.createDataFrame(
        [
            (1, 1, "finished", 3000.0, 0.0, 3000.0, 0.0, 390.0),
            (2, 2, "finished", 3000.0, 0.0, 3000.0, 27.245, 417.245),
            # rider 3 passed 1000 m last, at 128.571 s; rider 1 was there at 83.333 s
            (3, 3, "racing", 1500.0, 1.5, 1000.0, 45.238, None),
        ],
        "rider_id int, position int, status string, distance_m double, km_to_go double, last_mark_m double, "
        "gap_s double, stage_time_s double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_rider_profile_speed_and_gradient_per_kilometre(
    race: dict[str, DataFrame], spark: SparkSession
) -> None:
    profiles = rider_profiles.rider_profiles(
        race["crossings"], race["telemetry"], race["route_points"], race["stages"]
    )
    actual = profiles.where((F.col("stage") == 1) & (F.col("rider_id") == 1)).select(
        "km", "length_m", "seconds", "speed_kmh", "gradient_pct", "power_w"
    )
    expected = spark.createDataFrame(
        [
            (0, 1000.0, 83.333, 43.2, 0.0, 250.0),  # 1000 m in 83.333 s
            (1, 1000.0, 194.444, 18.51, 6.0, 250.0),  # 277.778 - 83.333
            (2, 1000.0, 112.222, 32.08, 0.0, 250.0),  # 390 - 277.778
        ],
        "km int, length_m double, seconds double, speed_kmh double, gradient_pct double, power_w double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_live_standings_carried_micro_batch_by_micro_batch(race: dict[str, DataFrame], spark: SparkSession) -> None:
    """Stage 1's points in micro-batches: up to 120 s after the start, then the rest (carried from the first), a
    late point among rider 3's (carried: his pairs around it recomputed), then a point before all he has (rebuilt
    from silver) and a micro-batch silver holds one point more than (rebuilt). Each micro-batch comes with the
    silver version that appended it: silver is counted only when the versions do not follow on (another commit
    came in between)."""
    reference = standings_state.Reference(race["stages"], race["checkpoints"], race["start_times"])
    stage1 = race["telemetry"].where(F.col("stage") == 1)
    seconds = F.unix_timestamp("ts") - F.unix_timestamp(F.lit(STAGE1_START))
    silver: list[DataFrame] = []
    state = standings_state.LiveStandings()
    counted: list[int] = []  # silver counts asked for

    def micro_batch(rows: DataFrame, own_commit: int, silver_extra: int = 0) -> DataFrame:
        """As the stream does: the standings carried over silver (at version `own_commit` - 1, holding
        `silver_extra` points more than the parts appended here) plus `rows`, then `rows` appended to silver as
        version `own_commit`."""
        held = rows.limit(0)
        for part in silver:
            held = held.unionByName(part)
        with_rows = held.unionByName(rows)
        batch = [
            standings_state.BatchStage(r["stage"], r["stage_date"], r["points"], r["newest_us"])
            for r in standings_state.batch_stages(rows).collect()
        ]
        def silver_points(b: standings_state.BatchStage) -> int:
            counted.append(b.stage)
            return held.count() + silver_extra

        state.carry(reference, batch, standings_state.batch_points(rows), silver_points,
                    lambda dates: with_rows.where(F.col("stage_date").isin(dates)), base=own_commit - 1)  # fmt: skip
        silver.append(rows)
        state.appended([b.stage for b in batch], own_commit)
        return state.standings(spark, reference, [1]).select(
            "rider_id", "position", "status", "distance_m", "km_to_go", "last_mark_m", "gap_s", "stage_time_s",
            F.date_format("as_of_ts", "HH:mm:ss").alias("as_of"),
        )  # fmt: skip

    def rider3_at(second: int, metres: float) -> DataFrame:
        """Rider 3's point at 200 s, moved to `second` after the start and `metres` along the road."""
        point = stage1.where((F.col("rider_id") == 3) & (seconds == 200))
        moved = F.col("ts") + F.make_interval(secs=F.lit(second - 200))
        return point.withColumn("ts", moved).withColumn("distance_m", F.lit(metres))

    schema = (
        "rider_id int, position int, status string, distance_m double, km_to_go double, last_mark_m double, "
        "gap_s double, stage_time_s double, as_of string"
    )
    first = micro_batch(stage1.where(seconds <= 120), own_commit=1)
    expected = spark.createDataFrame(
        [
            # rider 1 passed 1000 m at 60 + 280/480*40 = 83.333 s; rider 2 at 50 + 500/600*70 = 108.333 s
            (1, 1, "racing", 1200.0, 1.8, 1000.0, 0.0, None, "10:02:00"),
            (2, 2, "racing", 1100.0, 1.9, 1000.0, 25.0, None, "10:02:00"),
            # rider 3 passed 500 m at 500/800*100 = 62.5 s; rider 1 was there at 40 + 20/240*20 = 41.667 s
            (3, 3, "racing", 800.0, 2.2, 500.0, 20.833, None, "10:02:00"),
        ],
        schema,
    )
    assert_df_equality(first, expected, ignore_row_order=True, ignore_nullable=True)
    assert state.rebuilt == [1]  # nothing to carry yet

    second = micro_batch(stage1.where(seconds > 120), own_commit=2)
    # The finished stage's standings (test_live_standings_of_a_finished_stage): rider 3's crossing of 1000 m
    # comes from his point at 100 s, carried from the first micro-batch, and his new one at 200 s.
    expected = spark.createDataFrame(
        [
            (1, 1, "finished", 3000.0, 0.0, 3000.0, 0.0, 390.0, "10:07:00"),
            (2, 2, "finished", 3000.0, 0.0, 3000.0, 27.245, 417.245, "10:07:00"),
            (3, 3, "racing", 1500.0, 1.5, 1000.0, 45.238, None, "10:07:00"),
        ],
        schema,
    )
    assert_df_equality(second, expected, ignore_row_order=True, ignore_nullable=True)
    assert state.rebuilt == [1] and counted == []  # carried; silver still at 1, the state's version: no count

    # Late: rider 3 at 1100 m 150 s after the start, between his points at 100 s (800 m) and 200 s (1500 m).
    # His pair across 1000 m is split: 1000 m passed at 100 + 200/300*50 = 133.333 s, 50 s after rider 1.
    third = micro_batch(rider3_at(150, 1100.0), own_commit=4)  # version 3 was another writer's: counted
    assert third.where("rider_id = 3").select("distance_m", "last_mark_m", "gap_s").first() == (1500.0, 1000.0, 50.0)
    assert state.rebuilt == [1] and counted == [1]  # carried: his points from 100 s on were kept

    micro_batch(rider3_at(-10, 0.0), own_commit=5)  # before every point he has: rebuilt from silver
    assert state.rebuilt == [1, 1] and counted == [1]
    last = micro_batch(rider3_at(230, 1500.0), own_commit=7, silver_extra=1)  # silver: a point more than expected
    assert state.rebuilt == [1, 1, 1] and counted == [1, 1]
    assert last.where("rider_id = 3").select("last_mark_m", "gap_s").first() == (1000.0, 50.0)
