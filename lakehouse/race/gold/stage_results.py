"""gold.race_stage_results: who finished each stage, in what time, and how far behind the winner.

Grain: one row per stage per rider who started it. Keys: (`stage`, `rider_id`).
Stage time = interpolated finish-line crossing - the rider's start (the stage start, or his own start in a
time trial). Gap = stage time - the winner's. Rank 1 is the fastest (ties: lower rider id first). A rider
with points but no finish crossing is `DNF`, with no time or rank. No time bonuses.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.race.gold.crossings import FINISH, as_timestamp

NAME = "race_stage_results"
KEYS = ("stage", "rider_id")


def clock(seconds: Column) -> Column:
    """Seconds as `h:mm:ss` (rounded to the second), e.g. 15723.4 -> `4:22:03`."""
    whole = F.round(seconds).cast("long")
    text = F.format_string(
        "%d:%02d:%02d", (whole / 3600).cast("long"), ((whole % 3600) / 60).cast("long"), whole % 60
    )
    return F.when(seconds.isNotNull(), text)


def stage_results(crossings: DataFrame, starts: DataFrame, stages: DataFrame, riders: DataFrame) -> DataFrame:
    """Crossings (+ rider starts, stages, riders) -> one result row per rider per stage."""
    finish = crossings.where(F.col("mark_kind") == FINISH).select(
        "stage", "rider_id", "crossed_s", F.round("elapsed_s", 3).alias("stage_time_s")
    )
    rows = starts.join(finish, on=["stage", "rider_id"], how="left")
    fastest = Window.partitionBy("stage").orderBy(F.col("stage_time_s").asc_nulls_last(), "rider_id")
    finished = F.col("stage_time_s").isNotNull()
    best = F.min("stage_time_s").over(Window.partitionBy("stage"))
    return (
        rows.join(F.broadcast(stages.select("stage", "stage_date", "stage_kind")), on="stage", how="inner")
        .join(F.broadcast(riders.select("rider_id", "name", "team")), on="rider_id", how="left")
        .select(
            "stage",
            "stage_date",
            "stage_kind",
            "rider_id",
            "name",
            "team",
            F.when(finished, F.lit("finished")).otherwise(F.lit("DNF")).alias("status"),
            F.when(finished, F.row_number().over(fastest)).alias("rank"),
            as_timestamp(F.col("start_s")).alias("start_time"),
            as_timestamp(F.col("crossed_s")).alias("finish_time"),
            "stage_time_s",
            clock(F.col("stage_time_s")).alias("stage_time"),
            F.round(F.col("stage_time_s") - best, 3).alias("gap_s"),
        )
    )
