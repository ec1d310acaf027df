"""Google Health dataPoints (API and Takeout routes) -> silver.fitbit_intraday and silver.fitbit_daily.

Same tables, columns, keys and winner order as the legacy Fitbit route (`lakehouse.silver.fitbit`, whose
docstring states the grain): intraday one row per (`user_id`, `metric`, `ts_utc`), daily one row per
(`user_id`, `metric`, `date`); `source` is the landing record's `route` (`google-health-api`,
`takeout-csv`, `takeout-json`).

Times: a point with a UTC instant (`sampleTime.physicalTime`, `interval.startTime`) keeps it as `ts_utc`;
its local time is its `civilTime` (or `civilStartTime`), else the instant plus its `utcOffset`. A point with
only a civil time (a Takeout JSON record) is local time in the configured zone. `date` is the local date.

Values in the units of silver.fitbit_intraday: `beatsPerMinute` bpm, `count` steps or floors,
`millimeters` / 1000 = distance m, `gainMillimeters` / 1000 = elevation gain m, `kcal` kcal (Takeout's
calories). `interval_s` is the interval's length (null for heart-rate samples: they have none).

Daily: `daily-resting-heart-rate` -> metric `heart_rate_bpm` (`resting_heart_rate_bpm`); minutes per zone
(Google's `time-in-heart-rate-zone` intervals summed per local day, or Takeout's daily zone minutes) ->
metric `heart_rate_zone_minutes`; zone bounds (`daily-heart-rate-zones`) -> metric `heart_rate_zone_bounds`.
Separate metrics, because each comes in its own data type and a MERGE replaces whole rows.

Bronze rows are first reduced to one per (`user_id`, `data_type`, `point_id`) (the latest ingestion), so a
point pulled twice by overlapping windows counts once, before any sum.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver.fitbit import DAILY_KEYS, INTRADAY_KEYS, ROUTE_RANK, UserZones, user_zone, winner_per_key
from lakehouse.silver.readable import PARSE_ERRORS, non_finite, parse_errors, unreadable
from lakehouse.tables.merge import WINNER_ORDER, with_row_hash

BRONZE_TABLE = "google_health_datapoints"
# Takeout's legacy zone names -> the names the legacy Fitbit daily summary used (and gold reads).
TAKEOUT_ZONE_NAMES = {
    "BELOW_DEFAULT_ZONE_1": "Out of Range",
    "IN_DEFAULT_ZONE_1": "Fat Burn",
    "IN_DEFAULT_ZONE_2": "Cardio",
    "IN_DEFAULT_ZONE_3": "Peak",
}

_CIVIL = T.StructType(
    [
        T.StructField(
            "date",
            T.StructType([T.StructField(n, T.IntegerType()) for n in ("year", "month", "day")]),
        ),
        T.StructField(
            "time",
            T.StructType([T.StructField(n, T.IntegerType()) for n in ("hours", "minutes", "seconds", "nanos")]),
        ),
    ]
)
_DATE = _CIVIL["date"].dataType
_INTERVAL = T.StructType(
    [
        T.StructField("startTime", T.StringType()),
        T.StructField("startUtcOffset", T.StringType()),
        T.StructField("endTime", T.StringType()),
        T.StructField("civilStartTime", _CIVIL),
        T.StructField("civilEndTime", _CIVIL),
    ]
)


def _interval_with(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField("interval", _INTERVAL), *[T.StructField(n, t) for n, t in fields]])


POINT_SCHEMA = T.StructType(
    [
        T.StructField(
            "heartRate",
            T.StructType(
                [
                    T.StructField(
                        "sampleTime",
                        T.StructType(
                            [
                                T.StructField("physicalTime", T.StringType()),
                                T.StructField("utcOffset", T.StringType()),
                                T.StructField("civilTime", _CIVIL),
                            ]
                        ),
                    ),
                    T.StructField("beatsPerMinute", T.StringType()),  # int64: a JSON string
                ]
            ),
        ),
        T.StructField("steps", _interval_with(("count", T.StringType()))),
        T.StructField("distance", _interval_with(("millimeters", T.StringType()))),
        T.StructField("altitude", _interval_with(("gainMillimeters", T.StringType()))),
        T.StructField("floors", _interval_with(("count", T.StringType()))),
        T.StructField("totalCalories", _interval_with(("kcal", T.DoubleType()))),
        T.StructField("timeInHeartRateZone", _interval_with(("heartRateZoneType", T.StringType()))),
        T.StructField(
            "dailyRestingHeartRate",
            T.StructType([T.StructField("date", _DATE), T.StructField("beatsPerMinute", T.StringType())]),
        ),
        T.StructField(
            "dailyHeartRateZones",
            T.StructType(
                [
                    T.StructField("date", _DATE),
                    T.StructField(
                        "heartRateZones",
                        T.ArrayType(
                            T.StructType(
                                [
                                    T.StructField("heartRateZoneType", T.StringType()),
                                    T.StructField("minBeatsPerMinute", T.StringType()),
                                    T.StructField("maxBeatsPerMinute", T.StringType()),
                                ]
                            )
                        ),
                    ),
                ]
            ),
        ),
        T.StructField(
            "dailyTimeInHeartRateZones",  # Takeout only: minutes per zone for a day
            T.StructType(
                [
                    T.StructField("date", _DATE),
                    T.StructField(
                        "minutesInZones",
                        T.ArrayType(
                            T.StructType(
                                [T.StructField("zone", T.StringType()), T.StructField("minutes", T.DoubleType())]
                            )
                        ),
                    ),
                ]
            ),
        ),
    ]
)
ENVELOPE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType()),
        T.StructField("data_type", T.StringType()),
        T.StructField("route", T.StringType()),
        T.StructField("point_id", T.StringType()),
        T.StructField("data_point", POINT_SCHEMA),
    ]
)
ZONE_TYPE = T.StructType(
    [
        T.StructField("zone", T.StringType()),
        T.StructField("min_bpm", T.IntegerType()),
        T.StructField("max_bpm", T.IntegerType()),
        T.StructField("minutes", T.IntegerType()),
        T.StructField("calories_kcal", T.DoubleType()),
    ]
)
LINEAGE = ("_source_file", "_batch_id", "_record_index", "_ingested_at")

# data type -> (metric, union field, value field, factor to silver's unit)
INTRADAY: dict[str, tuple[str, str, str, float]] = {
    "steps": ("steps", "steps", "count", 1.0),
    "distance": ("distance_m", "distance", "millimeters", 0.001),
    "altitude": ("elevation_m", "altitude", "gainMillimeters", 0.001),
    "floors": ("floors", "floors", "count", 1.0),
    "total-calories": ("calories_kcal", "totalCalories", "kcal", 1.0),
}


def _points(bronze: DataFrame) -> DataFrame:
    """Bronze records -> one row per distinct point (`p` = the parsed point), the latest ingestion kept."""
    parsed = bronze.select(F.from_json(F.col("record"), ENVELOPE_SCHEMA).alias("e"), *LINEAGE).select(
        F.col("e.user_id").alias("user_id"),
        F.col("e.data_type").alias("data_type"),
        F.col("e.route").alias("source"),
        F.col("e.point_id").alias("point_id"),
        F.col("e.data_point").alias("p"),
        *LINEAGE,
    )
    window = Window.partitionBy("user_id", "data_type", "point_id").orderBy(*[F.col(c).desc() for c in WINNER_ORDER])
    return parsed.withColumn("_n", F.row_number().over(window)).where(F.col("_n") == 1).drop("_n")


def _civil_ts(civil: Column) -> Column:
    """A `CivilDateTime` struct -> TIMESTAMP_NTZ (null when absent)."""
    seconds = F.coalesce(civil["time"]["seconds"], F.lit(0)) + F.coalesce(civil["time"]["nanos"], F.lit(0)) / 1e9
    # The try_ form: under ANSI mode a month 13 would stop the stage; null instead (the point has no time).
    return F.try_make_timestamp_ntz(
        civil["date"]["year"],
        civil["date"]["month"],
        civil["date"]["day"],
        F.coalesce(civil["time"]["hours"], F.lit(0)),
        F.coalesce(civil["time"]["minutes"], F.lit(0)),
        seconds.cast("decimal(16,6)"),
    )


def _civil_date(day: Column) -> Column:
    midnight = F.try_make_timestamp_ntz(day["year"], day["month"], day["day"], F.lit(0), F.lit(0), F.lit(0))
    return F.to_date(midnight)


def _offset_seconds(text: Column) -> Column:
    """`"3600s"` / `"-18000s"` -> seconds (a proto3 JSON Duration)."""
    return F.regexp_extract(text, r"^(-?\d+)(\.\d+)?s$", 1).try_cast("long")


def _times(instant: Column, offset: Column, civil: Column, default_timezone: UserZones) -> tuple[Column, Column]:
    """(ts_utc, ts_local) of a point: its instant and civil time (or instant + offset); an instant alone (a
    Takeout CSV row) is shown in the user's home zone (the people file); a civil time alone (Takeout JSON) is in
    that zone."""
    zone = user_zone(F.col("user_id"), default_timezone)
    utc = instant.try_cast("timestamp")  # an impossible instant (30 Feb) reads as null, named by `_instant_error`
    from_offset = F.timestamp_seconds(F.unix_seconds(utc) + _offset_seconds(offset)).cast("timestamp_ntz")
    in_default_zone = F.from_utc_timestamp(utc, zone).cast("timestamp_ntz")
    local = F.coalesce(_civil_ts(civil), from_offset, in_default_zone)
    ts_utc = F.coalesce(utc, F.to_utc_timestamp(local.cast("timestamp"), zone))
    return ts_utc, local


def _instant_error(name: str, instant: Column) -> Column:
    """A message when an instant is there but is not a timestamp (`2024-02-30T10:00:00Z`), else null."""
    return unreadable(name, instant, instant.try_cast("timestamp"), "a UTC timestamp (RFC 3339)")


def _intraday_rows(points: DataFrame, default_timezone: UserZones) -> DataFrame:
    heart = F.col("p.heartRate")
    heart_utc, heart_local = _times(
        heart["sampleTime"]["physicalTime"],
        heart["sampleTime"]["utcOffset"],
        heart["sampleTime"]["civilTime"],
        default_timezone,
    )
    parts = [
        points.where(F.col("data_type") == "heart-rate").select(
            "user_id",
            "source",
            *LINEAGE,
            F.lit("heart_rate_bpm").alias("metric"),
            heart_utc.alias("ts_utc"),
            heart_local.alias("ts_local"),
            heart["beatsPerMinute"].try_cast("double").alias("value"),
            F.lit(None).cast("int").alias("interval_s"),
            parse_errors(
                _instant_error("heartRate.sampleTime.physicalTime", heart["sampleTime"]["physicalTime"]),
                unreadable("heartRate.beatsPerMinute", heart["beatsPerMinute"].cast("string"),
                           heart["beatsPerMinute"].try_cast("double"), "a number"),
                non_finite("heartRate.beatsPerMinute", heart["beatsPerMinute"].try_cast("double")),
            ),
        )
    ]
    for data_type, (metric, union, field, factor) in INTRADAY.items():
        body = F.col(f"p.{union}")
        interval = body["interval"]
        ts_utc, ts_local = _times(
            interval["startTime"], interval["startUtcOffset"], interval["civilStartTime"], default_timezone
        )
        end_utc, _ = _times(interval["endTime"], interval["startUtcOffset"], interval["civilEndTime"], default_timezone)
        parts.append(
            points.where(F.col("data_type") == data_type).select(
                "user_id",
                "source",
                *LINEAGE,
                F.lit(metric).alias("metric"),
                ts_utc.alias("ts_utc"),
                ts_local.alias("ts_local"),
                (body[field].try_cast("double") * F.lit(factor)).alias("value"),
                (F.unix_seconds(end_utc) - F.unix_seconds(ts_utc)).cast("int").alias("interval_s"),
                parse_errors(
                    _instant_error(f"{union}.interval.startTime", interval["startTime"]),
                    _instant_error(f"{union}.interval.endTime", interval["endTime"]),
                    unreadable(f"{union}.{field}", body[field].cast("string"), body[field].try_cast("double"),
                               "a number"),
                    non_finite(f"{union}.{field}", body[field].try_cast("double")),
                ),
            )
        )
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.unionByName(part)
    return rows


def intraday_to_silver(bronze: DataFrame, default_timezone: UserZones) -> DataFrame:
    """Bronze dataPoints -> silver.fitbit_intraday rows, one per (user, metric, UTC instant), best route winning."""
    # A point without a time or value is left out, unless something was there and did not read: that row
    # goes on with its `_parse_errors` for the quality gate to quarantine (rule `values_readable`).
    rows = _intraday_rows(_points(bronze), default_timezone).where(
        (F.col("ts_utc").isNotNull() & F.col("value").isNotNull()) | (F.size(PARSE_ERRORS) > 0)
    )
    typed = rows.select(
        "user_id",
        "metric",
        "ts_local",
        "ts_utc",
        F.to_date("ts_local").alias("date"),
        F.date_format("ts_utc", "yyyy-MM").alias("month"),
        "value",
        F.lit(None).cast("int").alias("activity_level"),
        F.lit(None).cast("double").alias("mets"),
        "interval_s",
        "source",
        _route_rank().alias("_route_rank"),
        *LINEAGE,
        PARSE_ERRORS,
    )
    return with_row_hash(winner_per_key(typed, INTRADAY_KEYS).drop("_record_index"))


def _route_rank() -> Column:
    ranks = F.create_map(*[x for route, rank in ROUTE_RANK.items() for x in (F.lit(route), F.lit(rank))])
    return F.coalesce(F.try_element_at(ranks, F.col("source")), F.lit(len(ROUTE_RANK) + 1))


def _zone(name: Column, low: Column, high: Column, minutes: Column) -> Column:
    return F.struct(
        name.alias("zone"),
        low.cast("int").alias("min_bpm"),
        high.cast("int").alias("max_bpm"),
        minutes.cast("int").alias("minutes"),
        F.lit(None).cast("double").alias("calories_kcal"),
    )


def daily_to_silver(bronze: DataFrame, default_timezone: UserZones) -> DataFrame:
    """Bronze dataPoints -> silver.fitbit_daily rows: resting heart rate, zone minutes, zone bounds."""
    points = _points(bronze)
    no_zones = F.lit(None).cast(T.ArrayType(ZONE_TYPE))
    resting = points.where(F.col("data_type") == "daily-resting-heart-rate").select(
        "user_id",
        "source",
        *LINEAGE,
        F.lit("heart_rate_bpm").alias("metric"),
        _civil_date(F.col("p.dailyRestingHeartRate.date")).alias("date"),
        F.round(F.col("p.dailyRestingHeartRate.beatsPerMinute").try_cast("double")).cast("int").alias("resting"),
        no_zones.alias("zones"),
    )
    bounds = points.where(F.col("data_type") == "daily-heart-rate-zones").select(
        "user_id",
        "source",
        *LINEAGE,
        F.lit("heart_rate_zone_bounds").alias("metric"),
        _civil_date(F.col("p.dailyHeartRateZones.date")).alias("date"),
        F.lit(None).cast("int").alias("resting"),
        F.transform(
            F.col("p.dailyHeartRateZones.heartRateZones"),
            lambda z: _zone(z["heartRateZoneType"], z["minBeatsPerMinute"], z["maxBeatsPerMinute"], F.lit(None)),
        ).alias("zones"),
    )
    names = F.create_map(*[x for k, v in TAKEOUT_ZONE_NAMES.items() for x in (F.lit(k), F.lit(v))])
    takeout_minutes = points.where(F.col("data_type") == "daily-time-in-heart-rate-zones").select(
        "user_id",
        "source",
        *LINEAGE,
        F.lit("heart_rate_zone_minutes").alias("metric"),
        _civil_date(F.col("p.dailyTimeInHeartRateZones.date")).alias("date"),
        F.lit(None).cast("int").alias("resting"),
        F.transform(
            F.col("p.dailyTimeInHeartRateZones.minutesInZones"),
            lambda z: _zone(
                F.coalesce(F.try_element_at(names, z["zone"]), z["zone"]),
                F.lit(None),
                F.lit(None),
                F.round(z["minutes"]),
            ),
        ).alias("zones"),
    )
    body = F.col("p.timeInHeartRateZone.interval")
    start_utc, start_local = _times(body["startTime"], body["startUtcOffset"], body["civilStartTime"], default_timezone)
    end_utc, _ = _times(body["endTime"], body["startUtcOffset"], body["civilEndTime"], default_timezone)
    intervals = points.where(F.col("data_type") == "time-in-heart-rate-zone").select(
        "user_id",
        "source",
        *LINEAGE,
        F.to_date(start_local).alias("date"),
        F.col("p.timeInHeartRateZone.heartRateZoneType").alias("zone"),
        (F.unix_seconds(end_utc) - F.unix_seconds(start_utc)).alias("seconds"),
    )
    per_zone = intervals.groupBy("user_id", "source", "date", "zone").agg(
        F.sum("seconds").alias("seconds"), *[F.max(c).alias(c) for c in LINEAGE]
    )
    api_minutes = (
        per_zone.groupBy("user_id", "source", "date")
        .agg(
            F.sort_array(F.collect_list(F.struct("zone", "seconds"))).alias("z"), *[F.max(c).alias(c) for c in LINEAGE]
        )
        .select(
            "user_id",
            "source",
            *LINEAGE,
            F.lit("heart_rate_zone_minutes").alias("metric"),
            "date",
            F.lit(None).cast("int").alias("resting"),
            F.transform(
                F.col("z"), lambda z: _zone(z["zone"], F.lit(None), F.lit(None), F.round(z["seconds"] / 60))
            ).alias("zones"),
        )
    )
    rows = resting.unionByName(bounds).unionByName(takeout_minutes).unionByName(api_minutes)
    typed = rows.where(F.col("date").isNotNull()).select(
        "user_id",
        "metric",
        "date",
        F.lit(None).cast("double").alias("total"),
        F.col("resting").alias("resting_heart_rate_bpm"),
        F.col("zones").alias("heart_rate_zones"),
        "source",
        _route_rank().alias("_route_rank"),
        *LINEAGE,
    )
    return with_row_hash(winner_per_key(typed, DAILY_KEYS).drop("_record_index"))
