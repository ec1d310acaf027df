"""silver.workouts on literal Strava and MapMyRun rows: the same session from both sources is one workout."""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import AnalyticsSettings, Person
from lakehouse.people import people_frame, resolve_people
from lakehouse.silver.workouts import conform

ATHLETE = 7
EXPORT = "/landing/mapmyrun/workouts/month=2024-04/20240501T000000Z-abc123--ana_workout_history.csv"
STRAVA = (
    "athlete_id long, activity_id long, sport_type string, activity_date date, start_time_utc timestamp,"
    " start_time_local timestamp_ntz, distance_m double, moving_time_s long, elapsed_time_s long,"
    " elevation_gain_m double, average_heartrate_bpm double, max_heartrate_bpm double, kudos_count int"
)
MAPMYRUN = (
    "workout_id long, activity_type string, workout_date date, distance_m double, duration_s double,"
    " avg_heart_rate_bpm double, _source_file string"
)
OUT = (
    "workout_id string, athlete_id long, strava_activity_id long, mapmyrun_workout_id long, sport string,"
    " workout_date date, distance_m double, duration_s double, avg_heart_rate_bpm double, kudos_count long,"
    " pace_s_per_km double, sources array<string>"
)


def _strava(activity_id: int, sport: str, day: date, metres: float, seconds: int, hr: float | None) -> tuple:
    start = datetime(day.year, day.month, day.day, 7)
    return (ATHLETE, activity_id, sport, day, start, start, metres, seconds, seconds + 60, 10.0, hr, None, 2)


def _people(spark: SparkSession) -> tuple[DataFrame, list[tuple]]:
    """Ana is Strava athlete 7 and the MapMyRun export `ana_workout_history*.csv` is hers; Ben is athlete 8."""
    rows = resolve_people(
        [Person("ana", strava_athlete_id=ATHLETE, mapmyrun_files=("ana_workout_history*.csv",)),
         Person("ben", strava_athlete_id=8)],
        AnalyticsSettings(),
    )  # fmt: skip
    return people_frame(spark, rows), rows


def _mmr(*rows: tuple) -> list[tuple]:
    return [(*r, EXPORT) for r in rows]


def _select(df: DataFrame) -> DataFrame:
    return df.select(
        "workout_id", "athlete_id", "strava_activity_id", "mapmyrun_workout_id", "sport", "workout_date",
        "distance_m", "duration_s", "avg_heart_rate_bpm", "kudos_count", "pace_s_per_km", "sources",
    )  # fmt: skip


def test_the_same_session_in_both_sources_is_one_workout(spark: SparkSession) -> None:
    d = {n: date(2024, 4, n) for n in range(1, 8)}
    activities = spark.createDataFrame(
        [
            _strava(1, "Run", d[1], 5000.0, 1500, None),
            _strava(2, "Run", d[2], 10000.0, 3000, 150.0),
            _strava(3, "Walk", d[3], 2000.0, 1500, None),
            _strava(5, "Ride", d[5], 20000.0, 2400, None),
            _strava(6, "Run", d[6], 5000.0, 1500, None),
        ],
        STRAVA,
    )
    mapmyrun = spark.createDataFrame(
        _mmr(
            (11, "Run", d[1], 5050.0, 1530.0, 148.0),  # within 10 % (+ slack) of Strava 1: the same session
            (12, "Run", d[2], 4000.0, 1200.0, None),  # same day as Strava 2, far shorter: another session
            (13, "Run", d[3], 2000.0, 1500.0, None),  # same numbers as Strava 3, but a run, not a walk
            (14, "Walk", d[4], 1500.0, 1200.0, None),  # MapMyRun only
            (61, "Run", d[6], 5000.0, 1560.0, None),  # both close to Strava 6; 62 is closer in duration
            (62, "Run", d[6], 5000.0, 1510.0, None),
        ),
        MAPMYRUN,
    )
    # Strava's values win where both have one; heart rate comes from MapMyRun when Strava has none.
    expected = spark.createDataFrame(
        [
            ("strava:1", ATHLETE, 1, 11, "run", d[1], 5000.0, 1500.0, 148.0, 2, 300.0, ["strava", "mapmyrun"]),
            ("strava:2", ATHLETE, 2, None, "run", d[2], 10000.0, 3000.0, 150.0, 2, 300.0, ["strava"]),
            ("mapmyrun:12", ATHLETE, None, 12, "run", d[2], 4000.0, 1200.0, None, None, 300.0, ["mapmyrun"]),
            ("strava:3", ATHLETE, 3, None, "walk", d[3], 2000.0, 1500.0, None, 2, 750.0, ["strava"]),
            ("mapmyrun:13", ATHLETE, None, 13, "run", d[3], 2000.0, 1500.0, None, None, 750.0, ["mapmyrun"]),
            ("mapmyrun:14", ATHLETE, None, 14, "walk", d[4], 1500.0, 1200.0, None, None, 800.0, ["mapmyrun"]),
            ("strava:5", ATHLETE, 5, None, "ride", d[5], 20000.0, 2400.0, None, 2, 120.0, ["strava"]),
            ("strava:6", ATHLETE, 6, 62, "run", d[6], 5000.0, 1500.0, None, 2, 300.0, ["strava", "mapmyrun"]),
            ("mapmyrun:61", ATHLETE, None, 61, "run", d[6], 5000.0, 1560.0, None, None, 312.0, ["mapmyrun"]),
        ],
        OUT,
    )
    assert_approx_df_equality(
        _select(conform(activities, mapmyrun, *_people(spark))),
        expected,
        1e-9,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_pairs_are_matched_best_duration_first(spark: SparkSession) -> None:
    # Two walks on one day in each source; every pair is within tolerance (10 % + 120 s, same distance).
    # Best match first: Strava 8 and MapMyRun 71 (5 s apart) pair up; of what is left, Strava 7 and
    # MapMyRun 72 (200 s apart) pair up. Two workouts, not three.
    day = date(2024, 4, 7)
    activities = spark.createDataFrame(
        [_strava(7, "Walk", day, 2000.0, 1500, None), _strava(8, "Walk", day, 2000.0, 1520, None)], STRAVA
    )
    mapmyrun = spark.createDataFrame(
        _mmr((71, "Walk", day, 2000.0, 1515.0, None), (72, "Walk", day, 2000.0, 1700.0, None)), MAPMYRUN
    )
    expected = spark.createDataFrame(
        [
            ("strava:7", ATHLETE, 7, 72, "walk", day, 2000.0, 1500.0, None, 2, 750.0, ["strava", "mapmyrun"]),
            ("strava:8", ATHLETE, 8, 71, "walk", day, 2000.0, 1520.0, None, 2, 760.0, ["strava", "mapmyrun"]),
        ],
        OUT,
    )
    assert_approx_df_equality(
        _select(conform(activities, mapmyrun, *_people(spark))),
        expected,
        1e-9,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_mapmyrun_export_matches_only_its_own_athletes_sessions(spark: SparkSession) -> None:
    # Athletes 7 and 8 both ran on 8 April; the MapMyRun export is athlete 7's. Athlete 8's run is closer
    # in duration, but it is someone else's session.
    day = date(2024, 4, 8)
    other = (8, 81, "Run", day, datetime(2024, 4, 8, 7), datetime(2024, 4, 8, 7), 5000.0, 1505, 1565, 10.0,
             None, None, 2)  # fmt: skip
    activities = spark.createDataFrame([_strava(9, "Run", day, 5000.0, 1600, None), other], STRAVA)
    mapmyrun = spark.createDataFrame(_mmr((91, "Run", day, 5000.0, 1500.0, None)), MAPMYRUN)
    expected = spark.createDataFrame(
        [
            ("strava:9", ATHLETE, 9, 91, "run", day, 5000.0, 1600.0, None, 2, 320.0, ["strava", "mapmyrun"]),
            ("strava:81", 8, 81, None, "run", day, 5000.0, 1505.0, None, 2, 301.0, ["strava"]),
        ],
        OUT,
    )
    assert_approx_df_equality(
        _select(conform(activities, mapmyrun, *_people(spark))),
        expected,
        1e-9,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_either_source_alone_makes_the_workouts(spark: SparkSession) -> None:
    # A Strava-only and a MapMyRun-only lakehouse: every workout of the one source, attributed to its person.
    day = date(2024, 4, 9)
    activities = spark.createDataFrame([_strava(5, "Run", day, 5000.0, 1500, None)], STRAVA)
    mapmyrun = spark.createDataFrame(_mmr((55, "Walk", day, 2000.0, 1500.0, None)), MAPMYRUN)
    people, rows = _people(spark)
    strava_only = conform(activities, None, people, rows).select("workout_id", "person_id", "athlete_id", "sources")
    mapmyrun_only = conform(None, mapmyrun, people, rows).select("workout_id", "person_id", "athlete_id", "sources")
    schema = "workout_id string, person_id string, athlete_id long, sources array<string>"
    assert_approx_df_equality(
        strava_only, spark.createDataFrame([("strava:5", "ana", ATHLETE, ["strava"])], schema), 1e-9,
        ignore_nullable=True,
    )  # fmt: skip
    # Ana's export (by its file name): her person, with her Strava athlete id.
    assert_approx_df_equality(
        mapmyrun_only, spark.createDataFrame([("mapmyrun:55", "ana", ATHLETE, ["mapmyrun"])], schema), 1e-9,
        ignore_nullable=True,
    )  # fmt: skip
