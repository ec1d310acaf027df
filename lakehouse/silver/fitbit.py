"""silver.fitbit_intraday and silver.fitbit_daily: Fitbit's intraday series in long form, and daily summaries.

One pair of tables whatever the route the data came by: the legacy Fitbit Web API (this module), the Google
Health API and Google Takeout (`lakehouse.silver.google_health`); `source` names the route.

fitbit_intraday
    Grain: one row per user per metric per UTC instant. Keys: (`user_id`, `metric`, `ts_utc`).
    Values in SI units: heart rate bpm, steps, calories kcal, distance m, elevation m, floors.
    Partitioned by `month` (YYYY-MM of `ts_utc`: a function of the key, so a MERGE that prunes partitions
    always finds a point that came earlier by another route).
fitbit_daily
    Grain: one row per user per metric per day. Keys: (`user_id`, `metric`, `date`).
    The day's total (steps, calories, distance m, elevation m, floors), and for heart rate the resting
    heart rate and the minutes and calories in each heart-rate zone.

Which row wins when a key comes twice (ROUTE_RANK, then the latest ingestion): the Google Health API
(UTC instant + offset from the device), a Takeout CSV (UTC instants), the legacy Web API (local time +
configured zone), a Takeout JSON file (naive local time + configured zone). The MERGE follows the same
order (`UPDATE_BY_ROUTE`), so a later import by a weaker route never overwrites a stronger one.

Fitbit's legacy times are the user's local wall time; `ts_utc` converts them with the user's time zone (the
envelope's `timezone` when ingestion recorded one, else the zone of the user's person in the people file, else
UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from zoneinfo import available_timezones

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver.readable import finite, non_finite, parse_errors, unreadable
from lakehouse.tables.merge import WINNER_ORDER, with_row_hash

INTRADAY_NAME = "fitbit_intraday"
DAILY_NAME = "fitbit_daily"
BRONZE_TABLE = "fitbit_intraday"
INTRADAY_KEYS = ("user_id", "metric", "ts_utc")
DAILY_KEYS = ("user_id", "metric", "date")
INTRADAY_PARTITION_BY = ("month",)
SOURCE_WEB_API = "fitbit-web-api"
# Lower wins: instants from the device first, then UTC-stamped exports, then local times + a configured zone.
ROUTE_RANK = {"google-health-api": 1, "takeout-csv": 2, SOURCE_WEB_API: 3, "takeout-json": 4}
UPDATE_BY_ROUTE = (
    "s._route_rank < t._route_rank OR (s._route_rank = t._route_rank AND s._row_hash <> t._row_hash "
    "AND s._ingested_at >= t._ingested_at)"
)

# Fitbit resource -> (metric name, factor to SI): distance comes in km, elevation in m (metric locale).
METRICS: dict[str, tuple[str, float]] = {
    "heart": ("heart_rate_bpm", 1.0),
    "steps": ("steps", 1.0),
    "calories": ("calories_kcal", 1.0),
    "distance": ("distance_m", 1000.0),
    "elevation": ("elevation_m", 1.0),
    "floors": ("floors", 1.0),
}

ENVELOPE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType()),
        T.StructField("resource", T.StringType()),
        T.StructField("date", T.StringType()),
        T.StructField("detail_level", T.StringType()),
        T.StructField("timezone", T.StringType()),
        # Values are kept as JSON text and parsed per resource below.
        T.StructField("response", T.MapType(T.StringType(), T.StringType())),
    ]
)
INTRADAY_SCHEMA = T.StructType(
    [
        T.StructField(
            "dataset",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("time", T.StringType()),
                        T.StructField("value", T.DoubleType()),
                        T.StructField("level", T.IntegerType()),
                        T.StructField("mets", T.DoubleType()),
                    ]
                )
            ),
        ),
        T.StructField("datasetInterval", T.IntegerType()),
        T.StructField("datasetType", T.StringType()),
    ]
)
INTRADAY_TEXT_SCHEMA = T.StructType(
    [
        T.StructField(
            "dataset",
            T.ArrayType(T.StructType([T.StructField(c, T.StringType()) for c in ("time", "value", "level", "mets")])),
        )
    ]
)
ZONE_TYPE = T.StructType(
    [
        T.StructField("name", T.StringType()),
        T.StructField("min", T.IntegerType()),
        T.StructField("max", T.IntegerType()),
        T.StructField("minutes", T.IntegerType()),
        T.StructField("caloriesOut", T.DoubleType()),
    ]
)
DAILY_SCHEMA = T.ArrayType(
    T.StructType(
        [
            T.StructField("dateTime", T.StringType()),
            # A string for steps etc. ("7796"), an object for heart rate: kept as text, parsed below.
            T.StructField("value", T.StringType()),
        ]
    )
)
HEART_VALUE_SCHEMA = T.StructType(
    [
        T.StructField("restingHeartRate", T.IntegerType()),
        T.StructField("heartRateZones", T.ArrayType(ZONE_TYPE)),
    ]
)


@cache
def _known_zones_sql() -> str | None:
    """The time-zone database's names as one SQL array literal (read from disk once per process); None when
    this Python has no database. One literal is parsed once in the JVM, where ~600 `F.lit`s would cost ~600
    calls through py4j and a plan that much bigger to analyse."""
    zones = sorted(z for z in available_timezones() if "'" not in z and "\\" not in z)
    return "array(" + ", ".join(f"'{z}'" for z in zones) + ")" if zones else None


def _known_zone(zone: Column) -> Column:
    """`zone` when it names a time zone, else null: `to_utc_timestamp` fails a whole stage on an unknown one."""
    known = _known_zones_sql()
    if known is None:  # no time-zone database on this Python: Python cannot tell, so the zone is passed as is
        return zone
    offset = zone.rlike(r"^[+-]\d{2}:\d{2}$")
    return F.when(F.array_contains(F.expr(known), zone) | offset, zone)


def winner_per_key(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    """One row per key: the best route (`_route_rank`), then the latest ingestion (`WINNER_ORDER`)."""
    order = [F.col("_route_rank").asc(), *[F.col(c).desc() for c in WINNER_ORDER]]
    window = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn("_rank", F.row_number().over(window)).where(F.col("_rank") == 1).drop("_rank")


def _metric_map() -> tuple[Column, Column]:
    names = F.create_map(*[x for r, (m, _) in METRICS.items() for x in (F.lit(r), F.lit(m))])
    factors = F.create_map(*[x for r, (_, f) in METRICS.items() for x in (F.lit(r), F.lit(f))])
    return names, factors


UserZones = Mapping[str, str] | str


def user_zone(user_id: Column, zones: UserZones) -> Column:
    """The user's home time zone: from the people file by user id (a mapping), else UTC; or one zone for all."""
    if isinstance(zones, str):
        return F.lit(zones)
    if not zones:
        return F.lit("UTC")
    lookup = F.create_map(*[x for user, zone in zones.items() for x in (F.lit(user), F.lit(zone))])
    return F.coalesce(F.try_element_at(lookup, user_id), F.lit("UTC"))


def _envelopes(bronze: DataFrame, zones: UserZones = "UTC") -> DataFrame:
    """One row per day envelope; `_envelope_errors` names the envelope values that did not read."""
    names, factors = _metric_map()
    timezone = F.coalesce(F.col("e.timezone"), user_zone(F.col("e.user_id"), zones))
    date = F.to_date(F.try_to_timestamp(F.col("e.date"), F.lit("yyyy-MM-dd")))
    known_zone = _known_zone(timezone)
    return bronze.select(
        F.from_json(F.col("record"), ENVELOPE_SCHEMA).alias("e"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    ).select(
        F.col("e.user_id").alias("user_id"),
        F.col("e.resource").alias("resource"),
        F.try_element_at(names, F.col("e.resource")).alias("metric"),
        F.try_element_at(factors, F.col("e.resource")).alias("factor"),
        date.alias("date"),
        known_zone.alias("timezone"),
        F.col("e.response").alias("response"),
        F.array(
            unreadable("date", F.col("e.date"), date, "a calendar date (yyyy-MM-dd)"),
            unreadable("timezone", timezone, known_zone, "a known time zone"),
        ).alias("_envelope_errors"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )


def intraday_to_silver(bronze: DataFrame, zones: UserZones = "UTC") -> DataFrame:
    """Bronze day envelopes -> one row per (user, metric, local timestamp), latest ingestion winning.

    A point whose time is not a time of day (`24:00:00`) or whose value is not a finite number is kept
    with its reason in `_parse_errors`, for the quality gate to quarantine; its neighbours are unaffected.
    """
    days = _envelopes(bronze, zones)
    intraday_key = F.concat(F.lit("activities-"), F.col("resource"), F.lit("-intraday"))
    series = days.select(
        "*",
        F.from_json(F.try_element_at(F.col("response"), intraday_key), INTRADAY_SCHEMA).alias("intraday"),
        F.from_json(F.try_element_at(F.col("response"), intraday_key), INTRADAY_TEXT_SCHEMA).alias("text"),
    )
    points = series.select(
        "user_id",
        "metric",
        "factor",
        "date",
        "timezone",
        "_envelope_errors",
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
        F.col("intraday.datasetInterval").alias("interval"),
        F.col("intraday.datasetType").alias("interval_unit"),
        # Zipped with the same points as text, to name a value that did not read.
        F.explode(F.arrays_zip(F.col("intraday.dataset").alias("p"), F.col("text.dataset").alias("t"))).alias("z"),
    ).select("*", F.col("z.p").alias("p"), F.col("z.t").alias("t"))
    clock = F.when(F.length(F.col("p.time")) == 5, F.concat(F.col("p.time"), F.lit(":00"))).otherwise(F.col("p.time"))
    # A time of day past 23:59:59 does not read: try_cast gives null (the pattern is checked first).
    ts_local = F.when(
        clock.rlike(r"^\d{2}:\d{2}:\d{2}$"),
        F.concat(F.col("date").cast("string"), F.lit(" "), clock).try_cast("timestamp_ntz"),
    )
    value = finite(F.col("p.value"))
    ts_utc = F.to_utc_timestamp(ts_local.cast("timestamp"), F.col("timezone"))
    typed = points.select(
        "user_id",
        "metric",
        ts_local.alias("ts_local"),
        ts_utc.alias("ts_utc"),
        "date",
        F.date_format(ts_utc, "yyyy-MM").alias("month"),
        (value * F.col("factor")).alias("value"),
        F.col("p.level").alias("activity_level"),
        F.col("p.mets").alias("mets"),
        F.try_multiply(F.col("interval"), F.when(F.col("interval_unit") == "second", 1).otherwise(60)).alias(
            "interval_s"
        ),
        parse_errors(
            F.when(  # with no date there is no timestamp either: the date's message says why
                F.col("date").isNotNull(),
                unreadable("time", F.col("p.time"), ts_local, "a time of day (HH:mm or HH:mm:ss up to 23:59:59)"),
            ),
            unreadable("value", F.col("t.value"), F.col("p.value"), "a number"),
            non_finite("value", F.col("p.value")),
            unreadable("level", F.col("t.level"), F.col("p.level"), "an integer"),
            also=F.col("_envelope_errors"),
        ),
        F.lit(SOURCE_WEB_API).alias("source"),
        F.lit(ROUTE_RANK[SOURCE_WEB_API]).alias("_route_rank"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    return with_row_hash(winner_per_key(typed, INTRADAY_KEYS).drop("_record_index"))


def daily_to_silver(bronze: DataFrame, zones: UserZones = "UTC") -> DataFrame:
    """Bronze day envelopes -> one row per (user, metric, day): total, resting heart rate, zone minutes.

    The day's summary is the first element of `activities-<resource>`; an empty or missing summary array
    is named in `_parse_errors` (there is no total to load), as is a total that is not a number.
    """
    days = _envelopes(bronze, zones)
    summary_key = F.concat(F.lit("activities-"), F.col("resource"))
    summary = days.select(
        "*",
        F.try_element_at(F.col("response"), summary_key).alias("_summary_text"),
        F.get(F.from_json(F.try_element_at(F.col("response"), summary_key), DAILY_SCHEMA), 0).alias("day"),
    )
    heart = F.from_json(F.col("day.value"), HEART_VALUE_SCHEMA)
    is_heart = F.col("resource") == "heart"
    total = finite(F.col("day.value").try_cast("double")) * F.col("factor")
    typed = summary.select(
        "user_id",
        "metric",
        "date",
        F.when(~is_heart, total).alias("total"),
        F.when(is_heart, heart["restingHeartRate"]).alias("resting_heart_rate_bpm"),
        F.when(
            is_heart,
            F.transform(
                heart["heartRateZones"],
                lambda z: F.struct(
                    z["name"].alias("zone"),
                    z["min"].alias("min_bpm"),
                    z["max"].alias("max_bpm"),
                    z["minutes"].alias("minutes"),
                    z["caloriesOut"].alias("calories_kcal"),
                ),
            ),
        ).alias("heart_rate_zones"),
        parse_errors(
            F.when(
                F.col("day").isNull(),
                F.concat(
                    F.lit("activities-"),
                    F.col("resource"),
                    F.lit(": no day summary in "),
                    F.coalesce(F.substring(F.col("_summary_text"), 1, 60), F.lit("(missing)")),
                ),
            ),
            F.when(~is_heart, unreadable("value", F.col("day.value"), total, "a number")),
            F.when(is_heart, unreadable("value", F.col("day.value"), heart, "a heart-rate summary object")),
            also=F.col("_envelope_errors"),
        ),
        F.lit(SOURCE_WEB_API).alias("source"),
        F.lit(ROUTE_RANK[SOURCE_WEB_API]).alias("_route_rank"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    return with_row_hash(winner_per_key(typed, DAILY_KEYS).drop("_record_index"))
