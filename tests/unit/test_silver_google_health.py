"""Google Health dataPoints (API and Takeout routes) into silver.fitbit_intraday / fitbit_daily: literal rows,
hand-computed instants and units, and which route wins."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver import google_health
from lakehouse.sources.google_health import DATA_TYPES, envelope
from lakehouse_demo.standins.google_health import daily_resting_heart_rate_point, heart_rate_point, interval_point

BRONZE_SCHEMA = T.StructType(
    [
        T.StructField("record", T.StringType()),
        T.StructField("_source_file", T.StringType()),
        T.StructField("_batch_id", T.LongType()),
        T.StructField("_record_index", T.IntegerType()),
        T.StructField("_ingested_at", T.TimestampType()),
    ]
)
INGESTED = datetime(2025, 3, 5)


def bronze(spark: SparkSession, records: list[dict[str, object]], file: str = "f.json") -> DataFrame:
    rows = [(json.dumps(r), file, 1, i, INGESTED) for i, r in enumerate(records)]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def api(data_type: str, point: dict[str, object], route: str = "google-health-api") -> dict[str, object]:
    return envelope("ana", DATA_TYPES.get(data_type) or DATA_TYPES["steps"], route, point) | {"data_type": data_type}


def civil_only_heart_rate(local: datetime, bpm: int) -> dict[str, object]:
    """A Takeout JSON heart-rate record normalised: civil time only, no instant, no offset."""
    civil = {
        "date": {"year": local.year, "month": local.month, "day": local.day},
        "time": {"hours": local.hour, "minutes": local.minute, "seconds": local.second},
    }
    return {"heartRate": {"sampleTime": {"civilTime": civil}, "beatsPerMinute": str(bpm)}}


def test_instants_offsets_and_units(spark: SparkSession) -> None:
    records = [
        # 06:30:05 UTC at +01:00: local 07:30:05
        api("heart-rate", heart_rate_point(datetime(2025, 3, 1, 6, 30, 5, tzinfo=UTC), 3600, 61)),
        # 23:45 UTC on 1 March at -05:00 is 18:45 local; 900 s interval; 1,234 steps
        api("steps", interval_point("steps", datetime(2025, 3, 1, 23, 45, tzinfo=UTC), 900, -18000, count="1234")),
        # 750,000 mm = 750 m
        api(
            "distance",
            interval_point("distance", datetime(2025, 3, 1, 7, 0, tzinfo=UTC), 900, 3600, millimeters="750000"),
        ),
        # gain 3,048 mm = 3.048 m
        api(
            "altitude",
            interval_point("altitude", datetime(2025, 3, 1, 7, 0, tzinfo=UTC), 3600, 3600, gainMillimeters="3048"),
        ),
        # Takeout JSON: 12:00 local in Amsterdam on 1 March (UTC+1) is 11:00 UTC
        api("heart-rate", civil_only_heart_rate(datetime(2025, 3, 1, 12, 0), 70), route="takeout-json"),
    ]
    actual = google_health.intraday_to_silver(bronze(spark, records), "Europe/Amsterdam").select(
        "metric", "ts_utc", "ts_local", "date", "month", "value", "interval_s", "source"
    )
    expected = spark.createDataFrame(
        [
            (
                "heart_rate_bpm",
                datetime(2025, 3, 1, 6, 30, 5),
                datetime(2025, 3, 1, 7, 30, 5),
                date(2025, 3, 1),
                "2025-03",
                61.0,
                None,
                "google-health-api",
            ),
            (
                "steps",
                datetime(2025, 3, 1, 23, 45),
                datetime(2025, 3, 1, 18, 45),
                date(2025, 3, 1),
                "2025-03",
                1234.0,
                900,
                "google-health-api",
            ),
            (
                "distance_m",
                datetime(2025, 3, 1, 7, 0),
                datetime(2025, 3, 1, 8, 0),
                date(2025, 3, 1),
                "2025-03",
                750.0,
                900,
                "google-health-api",
            ),
            (
                "elevation_m",
                datetime(2025, 3, 1, 7, 0),
                datetime(2025, 3, 1, 8, 0),
                date(2025, 3, 1),
                "2025-03",
                3.048,
                3600,
                "google-health-api",
            ),
            (
                "heart_rate_bpm",
                datetime(2025, 3, 1, 11, 0),
                datetime(2025, 3, 1, 12, 0),
                date(2025, 3, 1),
                "2025-03",
                70.0,
                None,
                "takeout-json",
            ),
        ],
        "metric string, ts_utc timestamp, ts_local timestamp_ntz, date date, month string, value double,"
        " interval_s int, source string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_same_instant_by_two_routes_keeps_the_api_point_and_a_repeated_point_counts_once(spark: SparkSession) -> None:
    instant = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    api_point = api("heart-rate", heart_rate_point(instant, 3600, 64))
    csv_point = api(
        "heart-rate",
        {"heartRate": {"sampleTime": {"physicalTime": "2025-03-01T06:00:00Z"}, "beatsPerMinute": "65"}},
        route="takeout-csv",
    )
    # The CSV row is ingested later, yet the API route ranks first; the API point came twice (two files).
    frame = bronze(spark, [api_point, api_point]).unionByName(
        spark.createDataFrame([(json.dumps(csv_point), "t.json", 2, 0, datetime(2025, 3, 9))], BRONZE_SCHEMA)
    )
    actual = google_health.intraday_to_silver(frame, "UTC").select("ts_utc", "value", "source")
    expected = spark.createDataFrame(
        [(datetime(2025, 3, 1, 6, 0), 64.0, "google-health-api")], "ts_utc timestamp, value double, source string"
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_daily_resting_heart_rate_and_zone_minutes(spark: SparkSession) -> None:
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    records = [
        api("daily-resting-heart-rate", daily_resting_heart_rate_point(date(2025, 3, 1), 54)),
        # 20 + 10 minutes MODERATE and 5 minutes PEAK on 1 March (local +01:00)
        api(
            "time-in-heart-rate-zone",
            interval_point("time-in-heart-rate-zone", start, 1200, 3600, heartRateZoneType="MODERATE"),
        ),
        api(
            "time-in-heart-rate-zone",
            interval_point("time-in-heart-rate-zone", start.replace(hour=9), 600, 3600, heartRateZoneType="MODERATE"),
        ),
        api(
            "time-in-heart-rate-zone",
            interval_point("time-in-heart-rate-zone", start.replace(hour=10), 300, 3600, heartRateZoneType="PEAK"),
        ),
        api(
            "daily-time-in-heart-rate-zones",
            {
                "dailyTimeInHeartRateZones": {
                    "date": {"year": 2025, "month": 3, "day": 2},
                    "minutesInZones": [
                        {"zone": "BELOW_DEFAULT_ZONE_1", "minutes": 1037.0},
                        {"zone": "IN_DEFAULT_ZONE_1", "minutes": 154.0},
                    ],
                }
            },
            route="takeout-json",
        ),
    ]
    actual = google_health.daily_to_silver(bronze(spark, records), "UTC").select(
        "metric",
        "date",
        "resting_heart_rate_bpm",
        F.transform("heart_rate_zones", lambda z: F.concat_ws("=", z["zone"], z["minutes"])).alias("zones"),
        "source",
    )
    expected = spark.createDataFrame(
        [
            ("heart_rate_bpm", date(2025, 3, 1), 54, None, "google-health-api"),
            ("heart_rate_zone_minutes", date(2025, 3, 1), None, ["MODERATE=30", "PEAK=5"], "google-health-api"),
            ("heart_rate_zone_minutes", date(2025, 3, 2), None, ["Out of Range=1037", "Fat Burn=154"], "takeout-json"),
        ],
        "metric string, date date, resting_heart_rate_bpm int, zones array<string>, source string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
