"""silver.strava_streams: an activity's recorded streams in long form, one row per sample.

Grain: one row per activity per sample index. Keys: (`activity_id`, `point`).
Columns are in SI units: seconds from start, metres, degrees, m/s, bpm, rpm, watts, degrees Celsius. A
stream the activity did not record is null (Strava leaves it out).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver.readable import finite, parse_errors, unreadable
from lakehouse.silver.strava_activities import PRECEDENCE, route_columns
from lakehouse.tables.merge import latest_per_key, with_row_hash

NAME = "strava_streams"
BRONZE_TABLE = "strava_activity_streams"
KEYS = ("activity_id", "point")
GROUP = ("activity_id",)  # the unit a route wins or loses: one activity's whole stream set


def _stream(kind: T.DataType) -> T.StructType:
    return T.StructType([T.StructField("data", T.ArrayType(kind))])


NUMERIC_STREAMS = {
    "time": ("time_s", T.LongType()),
    "distance": ("distance_m", T.DoubleType()),
    "altitude": ("altitude_m", T.DoubleType()),
    "velocity_smooth": ("velocity_mps", T.DoubleType()),
    "heartrate": ("heart_rate_bpm", T.DoubleType()),
    "cadence": ("cadence_rpm", T.DoubleType()),
    "watts": ("power_w", T.DoubleType()),
    "temp": ("temperature_c", T.DoubleType()),
    "grade_smooth": ("grade_pct", T.DoubleType()),
}
# Numeric samples are read as text and cast one by one, so one unreadable sample (a string, NaN, a number
# too big for its column) is named and quarantined alone instead of nulling its whole stream.
RECORD_SCHEMA = T.StructType(
    [
        T.StructField("activity_id", T.LongType()),
        T.StructField(
            "streams",
            T.StructType(
                [T.StructField(name, _stream(T.StringType())) for name in NUMERIC_STREAMS]
                + [
                    T.StructField("latlng", _stream(T.ArrayType(T.DoubleType()))),
                    T.StructField("moving", _stream(T.BooleanType())),
                ]
            ),
        ),
        T.StructField("_route", T.StringType()),
    ]
)


def to_silver(bronze: DataFrame) -> DataFrame:
    """Bronze stream records -> one row per (activity, sample); per activity an API pull wins, then the latest."""
    records = bronze.select(
        F.from_json("record", RECORD_SCHEMA).alias("r"), "_source_file", "_batch_id", "_record_index", "_ingested_at"
    )
    # The winner is chosen per activity (a re-pull replaces every sample), then the samples are exploded.
    ranked = records.select("*", F.col("r.activity_id").alias("activity_id"), *route_columns(F.col("r._route")))
    latest = latest_per_key(ranked, GROUP, PRECEDENCE)
    longest = F.greatest(
        *[F.coalesce(F.size(F.col(f"r.streams.{name}.data")), F.lit(0)) for name in [*NUMERIC_STREAMS, "latlng"]]
    )
    points = latest.select("*", F.explode(F.sequence(F.lit(0), longest - 1)).alias("point")).where(longest > 0)
    at = F.col("point") + 1
    texts = {name: F.try_element_at(F.col(f"r.streams.{name}.data"), at) for name in NUMERIC_STREAMS}
    values = {
        name: (finite(texts[name].try_cast(kind)) if kind == T.DoubleType() else texts[name].try_cast(kind))
        for name, (_, kind) in NUMERIC_STREAMS.items()
    }
    return with_row_hash(
        points.select(
            "activity_id",
            "point",
            *[values[name].alias(column) for name, (column, _) in NUMERIC_STREAMS.items()],
            F.try_element_at(F.try_element_at(F.col("r.streams.latlng.data"), at), F.lit(1)).alias("lat"),
            F.try_element_at(F.try_element_at(F.col("r.streams.latlng.data"), at), F.lit(2)).alias("lng"),
            F.try_element_at(F.col("r.streams.moving.data"), at).alias("moving"),
            parse_errors(
                [
                    unreadable(name, texts[name], values[name], f"a finite {kind.simpleString()}")
                    for name, (_, kind) in NUMERIC_STREAMS.items()
                ]
            ),
            "source_route",
            PRECEDENCE,
            "_source_file",
            "_batch_id",
            "_ingested_at",
        )
    )
