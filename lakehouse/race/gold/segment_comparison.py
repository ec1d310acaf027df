"""gold.race_segment_gaps: two riders on one segment of a stage, the time gap between them by distance.

Grain: one row per comparison (stage, segment, rider A, rider B) and mark along the segment (every
`step_m`, plus both ends). Keys: (`stage`, `segment`, `rider_a`, `rider_b`, `distance_m`).
`gap_s` = B's elapsed time at the mark - A's (positive: B behind A; on the road in a mass start, against
the clock in a time trial); `gap_change_s` = the gap now - the gap at the segment's start, i.e. what B
lost (+) or gained (-) on A over the segment so far. A segment is a climb (foot to top), the finale
(`FINALE_FRACTION` of the stage before the line) or any distance range.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse.race.gold.crossings import crossings, point_pairs, rider_starts

NAME = "race_segment_gaps"
KEYS = ("stage", "segment", "rider_a", "rider_b", "distance_m")
DEFAULT_STEP_M = 50.0
FINALE_FRACTION = 0.1


class SegmentError(ValueError):
    """A segment that does not exist on the stage, or a comparison that cannot be made."""


@dataclass(frozen=True)
class Segment:
    """A named stretch of a stage, by distance from the start."""

    stage: int
    name: str
    from_m: float
    to_m: float


def resolve_segment(stages: DataFrame, checkpoints: DataFrame, stage: int, name: str | None) -> Segment:
    """A climb by name, `finale`, `<from_km>-<to_km>` (e.g. `12.5-20`), or (None) the stage's last climb."""
    stage_row = stages.where(F.col("stage") == stage).select("distance_m").first()
    if stage_row is None:
        raise SegmentError(f"stage {stage} is not in silver.race_stages")
    length = float(stage_row["distance_m"])
    climbs = {
        r["climb"]: (r["foot"], r["top"])
        for r in checkpoints.where((F.col("stage") == stage) & F.col("climb").isNotNull())
        .groupBy("climb")
        .agg(
            F.max(F.when(F.col("kind") == "climb_foot", F.col("distance_m"))).alias("foot"),
            F.max(F.when(F.col("kind") == "climb_top", F.col("distance_m"))).alias("top"),
        )
        .collect()
    }
    if name is None:
        if climbs:
            last = max(climbs, key=lambda c: climbs[c][1])
            return Segment(stage, last, float(climbs[last][0]), float(climbs[last][1]))
        name = "finale"
    if name == "finale":
        return Segment(stage, "finale", round(length * (1 - FINALE_FRACTION), 1), length)
    if name in climbs:
        return Segment(stage, name, float(climbs[name][0]), float(climbs[name][1]))
    try:
        low, high = (float(x) * 1000 for x in name.split("-"))
    except ValueError:
        known = ", ".join(sorted(climbs)) or "none"
        raise SegmentError(
            f"no segment {name!r} on stage {stage}: use a climb ({known}), 'finale' or '<from_km>-<to_km>'"
        ) from None
    if not 0 <= low < high <= length:
        raise SegmentError(f"segment {name!r} is not within stage {stage} (0-{length / 1000:g} km)")
    return Segment(stage, name, low, high)


def segment_marks(spark: SparkSession, segment: Segment, step_m: float = DEFAULT_STEP_M) -> DataFrame:
    """Marks every `step_m` along the segment, both ends included."""
    count = int((segment.to_m - segment.from_m) // step_m)
    distances = sorted({segment.from_m + i * step_m for i in range(count + 1)} | {segment.to_m})
    return spark.createDataFrame(
        [(segment.stage, float(d), "segment", None) for d in distances],
        "stage int, mark_m double, mark_kind string, checkpoint string",
    )


def segment_gaps(
    telemetry: DataFrame,
    stages: DataFrame,
    start_times: DataFrame,
    marks: DataFrame,
    segment: Segment,
    rider_a: int,
    rider_b: int,
) -> DataFrame:
    """The gap between the two riders at every mark of the segment (both must have passed it)."""
    two = telemetry.where((F.col("stage") == segment.stage) & F.col("rider_id").isin(rider_a, rider_b))
    passed = crossings(point_pairs(two), marks, rider_starts(two, stages, start_times))
    a = passed.where(F.col("rider_id") == rider_a).select("mark_m", F.col("elapsed_s").alias("a_s"))
    b = passed.where(F.col("rider_id") == rider_b).select("mark_m", F.col("elapsed_s").alias("b_s"))
    both = a.join(b, on="mark_m", how="inner").withColumn("stage", F.lit(segment.stage))
    gap = F.col("b_s") - F.col("a_s")
    along = Window.partitionBy("stage").orderBy("mark_m").rowsBetween(Window.unboundedPreceding, 0)
    first_gap = F.first(gap).over(along)
    return both.select(
        "stage",
        F.lit(segment.name).alias("segment"),
        F.lit(rider_a).alias("rider_a"),
        F.lit(rider_b).alias("rider_b"),
        F.col("mark_m").alias("distance_m"),
        F.round("a_s", 3).alias("a_elapsed_s"),
        F.round("b_s", 3).alias("b_elapsed_s"),
        F.round(gap, 3).alias("gap_s"),
        F.round(gap - first_gap, 3).alias("gap_change_s"),
    )
