"""gold.race_general_classification: the overall standings after each stage.

Grain: one row per stage and rider still in the race after it. Keys: (`after_stage`, `rider_id`).
Total time = the sum of a rider's stage times over the stages present up to and including `after_stage`
(bonuses ignored). A rider must have finished every one of those stages; one DNF and he leaves the
classification. Rank 1 has the lowest total (ties: lower rider id); gap = total - the leader's total.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.exact import exact_sum
from lakehouse.race.gold.stage_results import clock

NAME = "race_general_classification"
KEYS = ("after_stage", "rider_id")


def general_classification(results: DataFrame) -> DataFrame:
    """gold.race_stage_results -> the classification after each stage."""
    stages_run = results.select(F.col("stage").alias("after_stage")).distinct()
    upto = results.join(F.broadcast(stages_run), F.col("stage") <= F.col("after_stage"), how="inner")
    needed = (
        stages_run.join(
            F.broadcast(results.select("stage").distinct()),
            F.col("stage") <= F.col("after_stage"),
            how="inner",
        )
        .groupBy("after_stage")
        .agg(F.count(F.lit(1)).alias("stages_needed"))
    )
    totals = (
        upto.groupBy("after_stage", "rider_id")
        .agg(
            exact_sum("stage_time_s").alias("total_time_s"),
            F.count("stage_time_s").alias("stages_finished"),
            F.max_by("name", "stage").alias("name"),
            F.max_by("team", "stage").alias("team"),
        )
        .join(needed, on="after_stage", how="inner")
        .where(F.col("stages_finished") == F.col("stages_needed"))
    )
    order = Window.partitionBy("after_stage").orderBy("total_time_s", "rider_id")
    leader = F.min("total_time_s").over(Window.partitionBy("after_stage"))
    return totals.select(
        "after_stage",
        "rider_id",
        "name",
        "team",
        F.row_number().over(order).alias("rank"),
        F.round("total_time_s", 3).alias("total_time_s"),
        clock(F.col("total_time_s")).alias("total_time"),
        F.round(F.col("total_time_s") - leader, 3).alias("gap_s"),
        F.col("stages_finished").cast("int").alias("stages_finished"),
    )
