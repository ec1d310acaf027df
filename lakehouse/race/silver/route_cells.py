"""silver.race_route_cells: a grid over each route that matches GPS points to it with one equi-join.

Grain: one row per stage and grid cell (`CELL_M` square, in the stage's flat projection) within
`REACH_M` of the route. Keys: (`stage`, `cell_x`, `cell_y`). Each cell carries the route segment nearest
its centre: start and end position, unit direction, and distance from the start and gradient at both ends.

A point then takes its cell's segment, projects onto it and reads off the distance along the route
(`match_points`). Projection runs along the segment's line up to one cell past either end (a cell's
segment is the one nearest its centre, so a point near a joint may lie just beyond it), and without limit
before the first segment and past the last one, so points on the start line before the gun and in the
roll-out past the finish get distances below 0 and beyond the finish line. Points farther than `REACH_M`
from the route (GPS spikes) stay unmatched.
The grid reaches `RUN_IN_M` back from the start and `RUN_OUT_M` on past the finish. This assumes a route
never comes back within about `REACH_M` of itself (`routes.check_clearance`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.race.silver.stages import project_x, project_y

NAME = "race_route_cells"
KEYS = ("stage", "cell_x", "cell_y")
CELL_M = 25.0
REACH_M = 60.0
RUN_IN_M = 100.0  # grid before the start line: riders waiting for the gun
RUN_OUT_M = 300.0  # and past the finish line: the roll-out
MIN_SEGMENT_M = 0.01


def segments(route_points: DataFrame) -> DataFrame:
    """Consecutive route points as segments (zero-length ones dropped), with first/last flags."""
    ordered = Window.partitionBy("stage").orderBy("point")
    pairs = route_points.select(
        "stage",
        "point",
        F.col("x_m").alias("ax"),
        F.col("y_m").alias("ay"),
        F.lead("x_m").over(ordered).alias("bx"),
        F.lead("y_m").over(ordered).alias("by"),
        F.col("distance_m").alias("d0"),
        F.lead("distance_m").over(ordered).alias("d1"),
        F.col("gradient").alias("g0"),
        F.lead("gradient").over(ordered).alias("g1"),
    )
    length = F.sqrt((F.col("bx") - F.col("ax")) ** 2 + (F.col("by") - F.col("ay")) ** 2)
    real = (
        pairs.where(F.col("bx").isNotNull())
        .withColumn("seg_len", length)
        .where(F.col("seg_len") > MIN_SEGMENT_M)
    )
    return real.select(
        "*",
        ((F.col("bx") - F.col("ax")) / F.col("seg_len")).alias("ux"),
        ((F.col("by") - F.col("ay")) / F.col("seg_len")).alias("uy"),
        (F.row_number().over(Window.partitionBy("stage").orderBy("point")) == 1).alias("is_first"),
        (F.row_number().over(Window.partitionBy("stage").orderBy(F.col("point").desc())) == 1).alias(
            "is_last"
        ),
    )


def _distance_to_segment(px: Column, py: Column) -> Column:
    """Distance from (px, py) to the segment, stretched over the run-in and run-out at the route's ends."""
    low = F.when(F.col("is_first"), F.lit(-RUN_IN_M)).otherwise(F.lit(0.0))
    high = F.col("seg_len") + F.when(F.col("is_last"), F.lit(RUN_OUT_M)).otherwise(F.lit(0.0))
    t = F.least(F.greatest((px - F.col("ax")) * F.col("ux") + (py - F.col("ay")) * F.col("uy"), low), high)
    return F.sqrt((px - F.col("ax") - t * F.col("ux")) ** 2 + (py - F.col("ay") - t * F.col("uy")) ** 2)


def build_cells(route_points: DataFrame) -> DataFrame:
    """silver.race_route_points -> the grid: for every cell near the route, its nearest segment."""
    segs = segments(route_points)
    # The first segment reaches back over the run-in, the last one on over the run-out.
    sx = F.col("ax") - F.when(F.col("is_first"), F.col("ux") * RUN_IN_M).otherwise(F.lit(0.0))
    sy = F.col("ay") - F.when(F.col("is_first"), F.col("uy") * RUN_IN_M).otherwise(F.lit(0.0))
    ex = F.col("bx") + F.when(F.col("is_last"), F.col("ux") * RUN_OUT_M).otherwise(F.lit(0.0))
    ey = F.col("by") + F.when(F.col("is_last"), F.col("uy") * RUN_OUT_M).otherwise(F.lit(0.0))
    lo_x = F.floor((F.least(sx, ex) - REACH_M) / CELL_M)
    hi_x = F.floor((F.greatest(sx, ex) + REACH_M) / CELL_M)
    lo_y = F.floor((F.least(sy, ey) - REACH_M) / CELL_M)
    hi_y = F.floor((F.greatest(sy, ey) + REACH_M) / CELL_M)
    candidates = segs.select(
        "*",
        F.explode(F.sequence(lo_x, hi_x)).alias("cell_x"),
    ).select("*", F.explode(F.sequence(lo_y, hi_y)).alias("cell_y"))
    centre_x = (F.col("cell_x") + 0.5) * CELL_M
    centre_y = (F.col("cell_y") + 0.5) * CELL_M
    near = candidates.withColumn("gap", _distance_to_segment(centre_x, centre_y)).where(
        F.col("gap") <= REACH_M + CELL_M * 0.71
    )
    best = F.min_by(
        F.struct("ax", "ay", "ux", "uy", "seg_len", "d0", "d1", "g0", "g1", "is_first", "is_last", "point"),
        F.struct("gap", "point"),
    )
    return (
        near.groupBy(
            "stage", F.col("cell_x").cast("int").alias("cell_x"), F.col("cell_y").cast("int").alias("cell_y")
        )
        .agg(best.alias("s"))
        .select("stage", "cell_x", "cell_y", "s.*")
        .withColumnRenamed("point", "segment_point")
    )


def match_points(points: DataFrame, stages: DataFrame, cells: DataFrame) -> DataFrame:
    """Add `distance_m` along the route, `gradient` there and `off_route_m` (nulls when off the route).

    `points` needs `stage`, `lat`, `lon`; `stages` gives each stage's origin; `cells` is the grid.
    """
    origin = stages.select("stage", F.col("origin_lat").alias("_lat0"), F.col("origin_lon").alias("_lon0"))
    located = (
        points.join(F.broadcast(origin), on="stage", how="left")
        .withColumn("_px", project_x(F.col("lon"), F.col("_lat0"), F.col("_lon0")))
        .withColumn("_py", project_y(F.col("lat"), F.col("_lat0")))
        .withColumn("cell_x", F.floor(F.col("_px") / CELL_M).cast("int"))
        .withColumn("cell_y", F.floor(F.col("_py") / CELL_M).cast("int"))
    )
    grid = cells.select(
        "stage",
        "cell_x",
        "cell_y",
        "ax",
        "ay",
        "ux",
        "uy",
        "seg_len",
        "d0",
        "d1",
        "g0",
        "g1",
        "is_first",
        "is_last",
    )
    joined = located.join(F.broadcast(grid), on=["stage", "cell_x", "cell_y"], how="left")
    along = (F.col("_px") - F.col("ax")) * F.col("ux") + (F.col("_py") - F.col("ay")) * F.col("uy")
    # A cell's segment is the nearest to the cell's centre, not always to the point: projecting onto its
    # line a little past either end keeps distances continuous where segments meet.
    low = F.when(F.col("is_first"), F.lit(float("-inf"))).otherwise(F.lit(-CELL_M))
    high = F.when(F.col("is_last"), F.lit(float("inf"))).otherwise(F.col("seg_len") + CELL_M)
    t = F.least(F.greatest(along, low), high)
    off = F.sqrt(
        (F.col("_px") - F.col("ax") - t * F.col("ux")) ** 2
        + (F.col("_py") - F.col("ay") - t * F.col("uy")) ** 2
    )
    fraction = t / F.col("seg_len")
    on_route = F.col("ax").isNotNull() & (off <= REACH_M)
    distance = F.col("d0") + fraction * (F.col("d1") - F.col("d0"))
    gradient = F.col("g0") + F.least(F.greatest(fraction, F.lit(0.0)), F.lit(1.0)) * (
        F.col("g1") - F.col("g0")
    )
    return joined.select(
        *[F.col(c) for c in points.columns],
        F.when(on_route, F.round(distance, 2)).alias("distance_m"),
        F.when(on_route, F.round(gradient, 4)).alias("gradient"),
        F.round(off, 2).alias("off_route_m"),
    )
