"""silver.race_stages, silver.race_route_points, silver.race_checkpoints, silver.race_start_times.

From the route files (one per stage) and the time-trial start lists. For each stage the latest ingested
route file wins whole (a corrected route replaces the old one, points and checkpoints together).

- race_stages: one row per stage. Keys: (`stage`). Date, kind, towns, start time, length (the finish
  checkpoint's distance) and the origin of the stage's flat projection (its first route point).
- race_route_points: one row per stage and route point. Keys: (`stage`, `point`). Distance from the start,
  altitude, position in the stage's projection (`x_m` east, `y_m` north), and the gradient: rise over run
  across `GRADIENT_HALF_WINDOW_M` either side (at least to the neighbouring points), so short segments
  around checkpoints do not spike it.
- race_checkpoints: one row per stage and checkpoint. Keys: (`stage`, `checkpoint`).
- race_start_times: one row per stage and rider with an individual start (time trials).
  Keys: (`stage`, `rider_id`). Mass-start stages have none: everyone starts at the stage's start time.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.exact import exact_sum
from lakehouse.race.geo import METRES_PER_DEGREE

STAGES = "race_stages"
ROUTE_POINTS = "race_route_points"
CHECKPOINTS = "race_checkpoints"
START_TIMES = "race_start_times"
BRONZE_ROUTES = "race_routes"
BRONZE_START_LISTS = "race_start_lists"
GRADIENT_HALF_WINDOW_M = 50.0
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ssX"

ROUTE_RECORD = T.StructType(
    [
        T.StructField(c, T.StringType())
        for c in (
            "stage", "stage_date", "stage_kind", "start_time", "start_town", "finish_town", "point", "lat",
            "lon", "altitude_m", "distance_m", "checkpoint", "checkpoint_kind", "climb", "climb_category",
        )
    ]
)  # fmt: skip
START_RECORD = T.StructType([T.StructField(c, T.StringType()) for c in ("stage", "rider_id", "start_time")])


def _text(column: str) -> Column:
    return F.nullif(F.trim(F.col(f"r.{column}")), F.lit(""))


def latest_route_rows(bronze_routes: DataFrame) -> DataFrame:
    """Typed route rows of the latest ingested route file of each stage."""
    rows = bronze_routes.select(
        F.from_json("record", ROUTE_RECORD).alias("r"), "_source_file", "_batch_id", "_ingested_at"
    ).select(
        _text("stage").try_cast("int").alias("stage"),
        F.to_date(F.try_to_timestamp(_text("stage_date"), F.lit("yyyy-MM-dd"))).alias("stage_date"),
        _text("stage_kind").alias("stage_kind"),
        F.try_to_timestamp(_text("start_time"), F.lit(TIMESTAMP_FORMAT)).alias("start_time"),
        _text("start_town").alias("start_town"),
        _text("finish_town").alias("finish_town"),
        _text("point").try_cast("int").alias("point"),
        _text("lat").try_cast("double").alias("lat"),
        _text("lon").try_cast("double").alias("lon"),
        _text("altitude_m").try_cast("double").alias("altitude_m"),
        _text("distance_m").try_cast("double").alias("distance_m"),
        _text("checkpoint").alias("checkpoint"),
        _text("checkpoint_kind").alias("checkpoint_kind"),
        _text("climb").alias("climb"),
        _text("climb_category").alias("climb_category"),
        "_source_file",
        "_batch_id",
        "_ingested_at",
    )
    newest = Window.partitionBy("stage").orderBy(
        F.col("_ingested_at").desc(), F.col("_batch_id").desc(), F.col("_source_file").desc()
    )
    files = (
        rows.select("stage", "_source_file", "_batch_id", "_ingested_at")
        .distinct()
        .withColumn("_rank", F.row_number().over(newest))
        .where(F.col("_rank") == 1)
        .select("stage", "_source_file", "_batch_id")
    )
    return rows.join(files, on=["stage", "_source_file", "_batch_id"], how="inner").where(
        F.col("stage").isNotNull() & F.col("point").isNotNull()
    )


def route_points(routes: DataFrame) -> DataFrame:
    """Route points with their projected position and smoothed gradient."""
    origin = routes.where(F.col("point") == 0).select(
        "stage", F.col("lat").alias("lat0"), F.col("lon").alias("lon0")
    )
    by_distance = Window.partitionBy("stage").orderBy("distance_m")
    around = by_distance.rangeBetween(-int(GRADIENT_HALF_WINDOW_M), int(GRADIENT_HALF_WINDOW_M))
    with_xy = routes.join(origin, on="stage", how="inner").select(
        "stage", "stage_date", "point", "lat", "lon", "altitude_m", "distance_m",
        project_x(F.col("lon"), F.col("lat0"), F.col("lon0")).alias("x_m"),
        project_y(F.col("lat"), F.col("lat0")).alias("y_m"),
        "_source_file", "_ingested_at",
    )  # fmt: skip
    # Ends of the gradient's run: the window's first and last points, or the neighbours when the window
    # holds the point alone (sparse routes).
    w_lo, w_hi = F.min("distance_m").over(around), F.max("distance_m").over(around)
    lo_d = F.when(w_lo < F.col("distance_m"), w_lo).otherwise(
        F.coalesce(F.lag("distance_m").over(by_distance), F.col("distance_m"))
    )
    lo_a = F.when(w_lo < F.col("distance_m"), F.min_by("altitude_m", "distance_m").over(around)).otherwise(
        F.coalesce(F.lag("altitude_m").over(by_distance), F.col("altitude_m"))
    )
    hi_d = F.when(w_hi > F.col("distance_m"), w_hi).otherwise(
        F.coalesce(F.lead("distance_m").over(by_distance), F.col("distance_m"))
    )
    hi_a = F.when(w_hi > F.col("distance_m"), F.max_by("altitude_m", "distance_m").over(around)).otherwise(
        F.coalesce(F.lead("altitude_m").over(by_distance), F.col("altitude_m"))
    )
    run = hi_d - lo_d
    return with_xy.select(
        "stage", "stage_date", "point", "lat", "lon", "altitude_m", "distance_m", "x_m", "y_m",
        F.when(run > 0, F.round((hi_a - lo_a) / run, 4)).otherwise(F.lit(0.0)).alias("gradient"),
        "_source_file", "_ingested_at",
    )  # fmt: skip


def project_x(lon: Column, lat0: Column, lon0: Column) -> Column:
    """Metres east of the stage origin (the same flat projection as `routes.to_local`)."""
    return (lon - lon0) * F.lit(METRES_PER_DEGREE) * F.cos(F.radians(lat0))


def project_y(lat: Column, lat0: Column) -> Column:
    """Metres north of the stage origin."""
    return (lat - lat0) * F.lit(METRES_PER_DEGREE)


def stages(routes: DataFrame) -> DataFrame:
    """One row per stage: facts, length, origin and total climbing from its route."""
    ordered = Window.partitionBy("stage").orderBy("point")
    climbing = routes.select(
        "stage", F.greatest(F.col("altitude_m") - F.lag("altitude_m").over(ordered), F.lit(0.0)).alias("up")
    )
    gain = climbing.groupBy("stage").agg(F.round(exact_sum("up"), 1).alias("elevation_gain_m"))
    facts = routes.groupBy("stage").agg(
        F.first("stage_date", ignorenulls=True).alias("stage_date"),
        F.first("stage_kind", ignorenulls=True).alias("stage_kind"),
        F.first("start_time", ignorenulls=True).alias("start_time"),
        F.first("start_town", ignorenulls=True).alias("start_town"),
        F.first("finish_town", ignorenulls=True).alias("finish_town"),
        F.max(F.when(F.col("checkpoint_kind") == "finish", F.col("distance_m"))).alias("finish_m"),
        F.max("distance_m").alias("route_m"),
        F.min_by("lat", "point").alias("origin_lat"),
        F.min_by("lon", "point").alias("origin_lon"),
        F.first("_source_file").alias("_source_file"),
        F.max("_ingested_at").alias("_ingested_at"),
    )
    return facts.join(gain, on="stage", how="left").select(
        "stage", "stage_date", "stage_kind", "start_time", "start_town", "finish_town",
        F.coalesce("finish_m", "route_m").alias("distance_m"),
        "elevation_gain_m", "origin_lat", "origin_lon", "_source_file", "_ingested_at",
    )  # fmt: skip


def checkpoints(routes: DataFrame) -> DataFrame:
    """One row per named checkpoint, in route order."""
    named = routes.where(F.col("checkpoint").isNotNull())
    order = Window.partitionBy("stage").orderBy("distance_m", "point")
    return named.select(
        "stage",
        "checkpoint",
        F.col("checkpoint_kind").alias("kind"),
        "distance_m",
        "altitude_m",
        "climb",
        F.col("climb_category").alias("category"),
        F.row_number().over(order).alias("checkpoint_order"),
    )


def start_times(bronze_start_lists: DataFrame) -> DataFrame:
    """Individual start times (time trials); the latest ingested list wins per stage and rider."""
    rows = bronze_start_lists.select(
        F.from_json("record", START_RECORD).alias("r"), "_ingested_at", "_batch_id"
    )
    typed = rows.select(
        _text("stage").try_cast("int").alias("stage"),
        _text("rider_id").try_cast("int").alias("rider_id"),
        F.try_to_timestamp(_text("start_time"), F.lit(TIMESTAMP_FORMAT)).alias("start_time"),
        "_ingested_at",
        "_batch_id",
    ).where(F.col("stage").isNotNull() & F.col("rider_id").isNotNull() & F.col("start_time").isNotNull())
    newest = Window.partitionBy("stage", "rider_id").orderBy(
        F.col("_ingested_at").desc(), F.col("_batch_id").desc()
    )
    return (
        typed.withColumn("_rank", F.row_number().over(newest))
        .where(F.col("_rank") == 1)
        .select("stage", "rider_id", "start_time")
    )
