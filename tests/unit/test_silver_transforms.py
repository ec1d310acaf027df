"""Silver transforms on literal bronze rows: typing, units, and which duplicate wins."""

from __future__ import annotations

import json
from datetime import date, datetime

from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver import fitbit, mapmyrun_workouts, strava_activities

BRONZE_SCHEMA = T.StructType(
    [
        T.StructField("record", T.StringType()),
        T.StructField("_source_file", T.StringType()),
        T.StructField("_batch_id", T.LongType()),
        T.StructField("_record_index", T.IntegerType()),
        T.StructField("_ingested_at", T.TimestampType()),
    ]
)


def bronze(spark: SparkSession, rows: list[tuple[dict[str, object], str, int, int, datetime]]) -> DataFrame:
    return spark.createDataFrame([(json.dumps(r), f, b, i, t) for r, f, b, i, t in rows], BRONZE_SCHEMA)


RUN = {
    "id": 1001,
    "athlete": {"id": 7, "resource_state": 1},
    "name": "Lunch Run",
    "distance": 10000.0,
    "moving_time": 3000,
    "elapsed_time": 3100,
    "total_elevation_gain": 0,
    "type": "Run",
    "sport_type": "TrailRun",
    "start_date": "2024-07-01T10:00:00Z",
    "start_date_local": "2024-07-01T06:00:00Z",
    "timezone": "(GMT-05:00) America/New_York",
    "utc_offset": -14400.0,
    "start_latlng": [40.7, -74.0],
    "end_latlng": [],
    "kudos_count": 3,
    "average_speed": 3.333,
    "max_speed": 5,
}


def test_strava_latest_ingestion_wins_and_types_are_si(spark: SparkSession) -> None:
    early, late = datetime(2024, 7, 2, 8), datetime(2024, 7, 9, 8)
    rows = [
        (RUN, "strava/activities/month=2024-07/a.json", 1, 0, early),
        ({**RUN, "kudos_count": 12}, "strava/activities/month=2024-07/b.json", 2, 5, late),
        (
            {**RUN, "id": 1002, "sport_type": "Swim", "type": "Swim", "start_latlng": []},
            "x.json",
            1,
            1,
            early,
        ),
    ]
    actual = strava_activities.to_silver(bronze(spark, rows)).select(
        "athlete_id",
        "activity_id",
        "sport_type",
        "activity_type",
        "start_time_utc",
        "start_time_local",
        "activity_date",
        "timezone",
        "utc_offset_s",
        "distance_m",
        "elevation_gain_m",
        "max_speed_mps",
        "kudos_count",
        "start_lat",
        "start_lng",
        "end_lat",
        "_source_file",
    )
    expected = spark.createDataFrame(
        [
            (
                7,
                1001,
                "TrailRun",
                "Run",
                datetime(2024, 7, 1, 10),
                datetime(2024, 7, 1, 6),
                date(2024, 7, 1),
                "America/New_York",
                -14400,
                10000.0,
                0.0,
                5.0,
                12,
                40.7,
                -74.0,
                None,
                "strava/activities/month=2024-07/b.json",
            ),
            (
                7,
                1002,
                "Swim",
                "Swim",
                datetime(2024, 7, 1, 10),
                datetime(2024, 7, 1, 6),
                date(2024, 7, 1),
                "America/New_York",
                -14400,
                10000.0,
                0.0,
                5.0,
                3,
                None,
                None,
                None,
                "x.json",
            ),
        ],
        "athlete_id long, activity_id long, sport_type string, activity_type string, start_time_utc timestamp,"
        " start_time_local timestamp_ntz, activity_date date, timezone string, utc_offset_s int,"
        " distance_m double, elevation_gain_m double, max_speed_mps double, kudos_count int, start_lat double,"
        " start_lng double, end_lat double, _source_file string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_strava_row_hash_ignores_lineage(spark: SparkSession) -> None:
    one = strava_activities.to_silver(bronze(spark, [(RUN, "a.json", 1, 0, datetime(2024, 1, 1))]))
    two = strava_activities.to_silver(bronze(spark, [(RUN, "b.json", 9, 3, datetime(2025, 1, 1))]))
    assert one.select("_row_hash").first()[0] == two.select("_row_hash").first()[0]


MMR_ROW = {
    "Date Submitted": "Oct. 1, 2020",
    "Workout Date": "Sept. 30, 2020",
    "Activity Type": "Run",
    "Calories Burned (kCal)": "340",
    "Distance (km)": "5.0",
    "Workout Time (seconds)": "1500",
    "Avg Pace (min/km)": "5.0",
    "Max Pace (min/km)": "4.0",
    "Avg Speed (km/h)": "12.0",
    "Max Speed (km/h)": "15.0",
    "Avg Heart Rate": "0",
    "Steps": "",
    "Notes": "b''",
    "Source": "Map My Fitness MapMyRun iPhone",
    "Link": "http://www.mapmyfitness.com/workout/5429050492",
}


def test_mapmyrun_metric_and_imperial_land_in_the_same_units(spark: SparkSession) -> None:
    imperial = {
        k.replace("(km)", "(mi)").replace("min/km", "min/mi").replace("km/h", "mi/h"): v
        for k, v in MMR_ROW.items()
    } | {
        "Workout Date": "May 6, 2025", "Date Submitted": "May 6, 2025", "Distance (mi)": "2.0",
        "Avg Pace (min/mi)": "10.0", "Avg Speed (mi/h)": "6.0", "Avg Heart Rate": "151", "Steps": "4100",
        "Notes": "b'Easy run'", "Link": "http://www.mapmyrun.com/workout/2255711738",
    }  # fmt: skip
    rows = [(MMR_ROW, "a.csv", 1, 0, datetime(2024, 1, 1)), (imperial, "b.csv", 1, 0, datetime(2024, 1, 1))]
    actual = mapmyrun_workouts.to_silver(bronze(spark, rows)).select(
        "workout_id",
        "workout_date",
        "submitted_date",
        "distance_m",
        "duration_s",
        "avg_pace_s_per_km",
        "avg_speed_mps",
        "avg_heart_rate_bpm",
        "steps",
        "notes",
        "unit_system",
    )
    # Hand-computed: 2 mi = 3218.688 m; 10 min/mi = 600 s / 1.609344 km = 372.8227 s/km; 6 mi/h = 2.68224 m/s;
    # 12 km/h = 3.3333 m/s; 5 min/km = 300 s/km.
    expected = spark.createDataFrame(
        [
            (
                5429050492,
                date(2020, 9, 30),
                date(2020, 10, 1),
                5000.0,
                1500.0,
                300.0,
                12 / 3.6,
                None,
                None,
                None,
                "metric",
            ),
            (
                2255711738,
                date(2025, 5, 6),
                date(2025, 5, 6),
                3218.688,
                1500.0,
                600 / 1.609344,
                2.68224,
                151.0,
                4100,
                "Easy run",
                "imperial",
            ),
        ],
        "workout_id long, workout_date date, submitted_date date, distance_m double, duration_s double,"
        " avg_pace_s_per_km double, avg_speed_mps double, avg_heart_rate_bpm double, steps long, notes string,"
        " unit_system string",
    )
    assert_approx_df_equality(actual, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_ap_dates(spark: SparkSession) -> None:
    texts = [
        "Jan. 31, 2021",
        "Sept. 30, 2020",
        "May 6, 2025",
        "June 4, 2022",
        "March 7, 2016",
        "Feb. 30, 2021",
    ]
    df = spark.createDataFrame([(t,) for t in texts], "text string")
    actual = df.select("text", mapmyrun_workouts.ap_date(F.col("text")).alias("day"))
    expected = spark.createDataFrame(
        [
            ("Jan. 31, 2021", date(2021, 1, 31)),
            ("Sept. 30, 2020", date(2020, 9, 30)),
            ("May 6, 2025", date(2025, 5, 6)),
            ("June 4, 2022", date(2022, 6, 4)),
            ("March 7, 2016", date(2016, 3, 7)),
            ("Feb. 30, 2021", None),
        ],
        "text string, day date",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def fitbit_envelope(
    resource: str, day: str, daily: object, points: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "user_id": "U1",
        "resource": resource,
        "date": day,
        "detail_level": "1min",
        "response": {
            f"activities-{resource}": [{"dateTime": day, "value": daily}],
            f"activities-{resource}-intraday": {
                "dataset": points,
                "datasetInterval": 1,
                "datasetType": "minute",
            },
        },
    }


def test_fitbit_intraday_long_form_in_si_units_and_utc(spark: SparkSession) -> None:
    rows = [
        (fitbit_envelope("distance", "2024-07-01", "0.5", [{"time": "00:00:00", "value": 0.25},
                                                            {"time": "13:30:00", "value": 0.25}]),
         "d.json", 1, 0, datetime(2024, 7, 2)),
        (fitbit_envelope("calories", "2024-01-15", "2000", [{"time": "08:00:00", "value": 1.5, "level": 1,
                                                             "mets": 12}]),
         "c.json", 1, 0, datetime(2024, 7, 2)),
    ]  # fmt: skip
    actual = fitbit.intraday_to_silver(bronze(spark, rows), "Europe/Amsterdam").select(
        "user_id", "metric", "ts_local", "ts_utc", "month", "value", "activity_level", "mets", "interval_s"
    )
    # Amsterdam is UTC+2 in July (summer time) and UTC+1 in January.
    expected = spark.createDataFrame(
        [
            (
                "U1",
                "distance_m",
                datetime(2024, 7, 1, 0, 0),
                datetime(2024, 6, 30, 22, 0),
                "2024-06",  # the month of ts_utc (the partition follows the key since routes share the table)
                250.0,
                None,
                None,
                60,
            ),
            (
                "U1",
                "distance_m",
                datetime(2024, 7, 1, 13, 30),
                datetime(2024, 7, 1, 11, 30),
                "2024-07",
                250.0,
                None,
                None,
                60,
            ),
            (
                "U1",
                "calories_kcal",
                datetime(2024, 1, 15, 8, 0),
                datetime(2024, 1, 15, 7, 0),
                "2024-01",
                1.5,
                1,
                12.0,
                60,
            ),
        ],
        "user_id string, metric string, ts_local timestamp_ntz, ts_utc timestamp, month string, value double,"
        " activity_level int, mets double, interval_s int",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_fitbit_daily_totals_and_heart_zones(spark: SparkSession) -> None:
    zones = [
        {"name": "Out of Range", "min": 30, "max": 95, "minutes": 1300, "caloriesOut": 2000.5},
        {"name": "Fat Burn", "min": 95, "max": 133, "minutes": 60, "caloriesOut": 400},
    ]
    rows = [
        (fitbit_envelope("heart", "2024-07-01", {"customHeartRateZones": [], "heartRateZones": zones,
                                                 "restingHeartRate": 56}, []), "h.json", 1, 0, datetime(2024, 7, 2)),
        (fitbit_envelope("steps", "2024-07-01", "7796", []), "s.json", 1, 0, datetime(2024, 7, 2)),
    ]  # fmt: skip
    actual = fitbit.daily_to_silver(bronze(spark, rows), "UTC").select(
        "metric",
        "date",
        "total",
        "resting_heart_rate_bpm",
        F.col("heart_rate_zones")[1]["minutes"].alias("fat_burn_minutes"),
    )
    expected = spark.createDataFrame(
        [("heart_rate_bpm", date(2024, 7, 1), None, 56, 60), ("steps", date(2024, 7, 1), 7796.0, None, None)],
        "metric string, date date, total double, resting_heart_rate_bpm int, fat_burn_minutes int",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_fitbit_envelope_zone_known_offset_or_named_as_unreadable(spark: SparkSession) -> None:
    """The envelope's own zone: an IANA name (slashes and underscores) or a fixed offset converts; a name no
    time-zone database knows leaves the instant null and says why (the rules quarantine such rows)."""
    point = [{"time": "10:00:00", "value": 0.5}]
    rows = [
        ({**fitbit_envelope("distance", "2024-07-01", "0.5", point), "timezone": zone}, f"{i}.json", 1, 0,
         datetime(2024, 7, 2))
        for i, zone in enumerate(("America/Argentina/Buenos_Aires", "+05:30", "Mars/Olympus"))
    ]  # fmt: skip
    actual = fitbit.intraday_to_silver(bronze(spark, rows), "Europe/Amsterdam").select(
        "_source_file", "ts_utc", "_parse_errors"
    )
    # Buenos Aires is UTC-3 all year (no summer time since 2009); +05:30 is 5 h 30 min ahead of UTC.
    expected = spark.createDataFrame(
        [
            ("0.json", datetime(2024, 7, 1, 13, 0), []),
            ("1.json", datetime(2024, 7, 1, 4, 30), []),
            ("2.json", None, ["timezone: 'Mars/Olympus' is not a known time zone"]),
        ],
        "_source_file string, ts_utc timestamp, _parse_errors array<string>",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
