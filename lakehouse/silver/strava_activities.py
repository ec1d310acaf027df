"""silver.strava_activities: Strava activities, typed and in SI units.

Grain: one row per athlete per activity. Keys: (`athlete_id`, `activity_id`).
Source: bronze.strava_activities (SummaryActivity JSON), landed by the API sync or by the archive import
(`_route: "archive"`, see `lakehouse.sources.strava_archive`; the archive's ids are the API's ids).

Which version of an activity wins, in this order:
1. the route: an API pull (`source_route = "api"`, `_route_rank` 1) beats the archive's copy (`"archive"`,
   rank 0), whichever was ingested last. The API row has what the archive lacks (kudos, comments,
   achievements, photos, visibility, gear id, polyline), so an archive import never erases those fields,
   and an API pull replaces an archived row whole. Enforced both among new rows and in the MERGE
   (`precedence="_route_rank"`, see `lakehouse.tables.merge`).
2. then the latest ingestion: the same activity pulled again (kudos keep changing) replaces the older pull.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver.readable import as_text, finite, parse_errors, record_errors, unreadable
from lakehouse.tables.merge import latest_per_key, with_row_hash

NAME = "strava_activities"
BRONZE_TABLE = "strava_activities"
KEYS = ("athlete_id", "activity_id")
PARTITION_BY: tuple[str, ...] = ()

# The fields silver reads from the raw SummaryActivity; every other key stays in bronze's raw record.
RECORD_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("athlete", T.StructType([T.StructField("id", T.LongType())])),
        T.StructField("name", T.StringType()),
        T.StructField("type", T.StringType()),
        T.StructField("sport_type", T.StringType()),
        T.StructField("workout_type", T.IntegerType()),
        T.StructField("start_date", T.StringType()),
        T.StructField("start_date_local", T.StringType()),
        T.StructField("timezone", T.StringType()),
        T.StructField("utc_offset", T.DoubleType()),
        T.StructField("distance", T.DoubleType()),
        T.StructField("moving_time", T.LongType()),
        T.StructField("elapsed_time", T.LongType()),
        T.StructField("total_elevation_gain", T.DoubleType()),
        T.StructField("elev_high", T.DoubleType()),
        T.StructField("elev_low", T.DoubleType()),
        T.StructField("average_speed", T.DoubleType()),
        T.StructField("max_speed", T.DoubleType()),
        T.StructField("has_heartrate", T.BooleanType()),
        T.StructField("average_heartrate", T.DoubleType()),
        T.StructField("max_heartrate", T.DoubleType()),
        T.StructField("average_cadence", T.DoubleType()),
        T.StructField("average_watts", T.DoubleType()),
        T.StructField("kilojoules", T.DoubleType()),
        T.StructField("suffer_score", T.DoubleType()),
        T.StructField("kudos_count", T.IntegerType()),
        T.StructField("comment_count", T.IntegerType()),
        T.StructField("achievement_count", T.IntegerType()),
        T.StructField("pr_count", T.IntegerType()),
        T.StructField("athlete_count", T.IntegerType()),
        T.StructField("total_photo_count", T.IntegerType()),
        T.StructField("trainer", T.BooleanType()),
        T.StructField("commute", T.BooleanType()),
        T.StructField("manual", T.BooleanType()),
        T.StructField("private", T.BooleanType()),
        T.StructField("visibility", T.StringType()),
        T.StructField("gear_id", T.StringType()),
        T.StructField("device_name", T.StringType()),
        T.StructField("start_latlng", T.ArrayType(T.DoubleType())),
        T.StructField("end_latlng", T.ArrayType(T.DoubleType())),
        T.StructField("map", T.StructType([T.StructField("summary_polyline", T.StringType())])),
        T.StructField("_route", T.StringType()),
    ]
)

ROUTE_API = "api"
ROUTE_ARCHIVE = "archive"
ROUTE_RANKS = {ROUTE_API: 1, ROUTE_ARCHIVE: 0}  # higher wins
PRECEDENCE = "_route_rank"


def route_columns(route: F.Column) -> list[F.Column]:
    """`source_route` (a record without `_route` came from the API) and its rank `_route_rank`."""
    source = F.coalesce(route, F.lit(ROUTE_API))
    rank = F.when(source == ROUTE_ARCHIVE, F.lit(ROUTE_RANKS[ROUTE_ARCHIVE])).otherwise(F.lit(ROUTE_RANKS[ROUTE_API]))
    return [source.alias("source_route"), rank.alias(PRECEDENCE)]


UTC_PATTERN = "yyyy-MM-dd'T'HH:mm:ss'Z'"


def _latlng(column: str, index: int) -> F.Column:
    """Element `index` of a [lat, lng] pair, null when Strava sent `[]` (no GPS)."""
    return F.when(F.size(F.col(column)) == 2, F.get(F.col(column), index))


def _local_time(text: F.Column) -> F.Column:
    """Strava's local wall time, written with a misleading `Z`, as a timestamp without a time zone.

    `try_cast` is the tolerant parse here (there is no `try_to_timestamp_ntz`); the pattern is checked first
    because a cast accepts more shapes than Strava writes.
    """
    shaped = text.rlike(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    return F.when(shaped, F.regexp_replace(text, "Z$", "").try_cast("timestamp_ntz"))


def to_silver(bronze: DataFrame) -> DataFrame:
    """Bronze rows -> one typed row per (athlete, activity): an API row over an archive row, then the latest.

    Values that do not read (an impossible date, a number too big for its column) are named in
    `_parse_errors`; the quality gate quarantines those rows.
    """
    parsed = bronze.select(
        F.from_json(F.col("record"), RECORD_SCHEMA).alias("_typed"),
        F.from_json(F.col("record"), as_text(RECORD_SCHEMA)).alias("_text"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    ).select("_typed.*", "_typed", "_text", "_source_file", "_batch_id", "_record_index", "_ingested_at")
    start_utc = F.try_to_timestamp(F.col("start_date"), F.lit(UTC_PATTERN))
    start_local = _local_time(F.col("start_date_local"))
    utc_offset = finite(F.col("utc_offset")).try_cast("int")
    typed = parsed.select(
        F.col("athlete.id").alias("athlete_id"),
        F.col("id").alias("activity_id"),
        F.col("name"),
        F.coalesce(F.col("sport_type"), F.col("type")).alias("sport_type"),
        F.col("type").alias("activity_type"),
        F.col("workout_type"),
        start_utc.alias("start_time_utc"),
        start_local.alias("start_time_local"),
        # An archived activity without a recorded file (and no timezone given) has no local time: its UTC date.
        F.coalesce(F.to_date(start_local), F.to_date(start_utc)).alias("activity_date"),
        F.nullif(F.regexp_extract(F.col("timezone"), r"\)\s*(\S+)\s*$", 1), F.lit("")).alias("timezone"),
        utc_offset.alias("utc_offset_s"),
        F.col("distance").alias("distance_m"),
        F.col("moving_time").alias("moving_time_s"),
        F.col("elapsed_time").alias("elapsed_time_s"),
        F.col("total_elevation_gain").alias("elevation_gain_m"),
        F.col("elev_high").alias("elevation_high_m"),
        F.col("elev_low").alias("elevation_low_m"),
        F.col("average_speed").alias("average_speed_mps"),
        F.col("max_speed").alias("max_speed_mps"),
        F.coalesce(F.col("has_heartrate"), F.col("average_heartrate").isNotNull()).alias("has_heartrate"),
        F.col("average_heartrate").alias("average_heartrate_bpm"),
        F.col("max_heartrate").alias("max_heartrate_bpm"),
        F.col("average_cadence"),
        F.col("average_watts").alias("average_watts_w"),
        F.col("kilojoules").alias("energy_kj"),
        F.col("suffer_score"),
        F.coalesce(F.col("kudos_count"), F.lit(0)).alias("kudos_count"),
        F.col("comment_count"),
        F.col("achievement_count"),
        F.col("pr_count"),
        F.col("athlete_count"),
        F.col("total_photo_count").alias("photo_count"),
        F.col("trainer"),
        F.col("commute"),
        F.col("manual"),
        F.col("private"),
        F.col("visibility"),
        F.col("gear_id"),
        F.col("device_name"),
        _latlng("start_latlng", 0).alias("start_lat"),
        _latlng("start_latlng", 1).alias("start_lng"),
        _latlng("end_latlng", 0).alias("end_lat"),
        _latlng("end_latlng", 1).alias("end_lng"),
        F.nullif(F.col("map.summary_polyline"), F.lit("")).alias("summary_polyline"),
        parse_errors(
            record_errors(F.col("_typed"), F.col("_text"), RECORD_SCHEMA),
            unreadable("start_date", F.col("start_date"), start_utc, "a UTC timestamp (yyyy-MM-ddTHH:mm:ssZ)"),
            unreadable("start_date_local", F.col("start_date_local"), start_local, "a local timestamp"),
            unreadable("utc_offset", F.col("_text.utc_offset"), utc_offset, "an offset in seconds"),
        ),
        *route_columns(F.col("_route")),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    return with_row_hash(latest_per_key(typed, KEYS, PRECEDENCE).drop("_record_index"))
