"""silver.race_riders: the athletes spreadsheet, typed.

Grain: one row per rider. Keys: (`rider_id`). The latest ingested sheet wins for a rider.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.tables.merge import latest_per_key, with_row_hash

NAME = "race_riders"
BRONZE_TABLE = "race_athletes"
KEYS = ("rider_id",)
RECORD_SCHEMA = T.StructType(
    [
        T.StructField(c, T.StringType())
        for c in ("rider_id", "name", "team", "nationality", "birth_date", "height_cm", "weight_kg")
    ]
)


def to_silver(bronze: DataFrame) -> DataFrame:
    """bronze.race_athletes -> one typed row per rider."""
    rows = bronze.select(
        F.from_json("record", RECORD_SCHEMA).alias("r"),
        "_source_file", "_batch_id", "_record_index", "_ingested_at",
    )  # fmt: skip
    typed = rows.select(
        F.col("r.rider_id").try_cast("int").alias("rider_id"),
        F.trim("r.name").alias("name"),
        F.trim("r.team").alias("team"),
        F.upper(F.trim("r.nationality")).alias("nationality"),
        F.to_date(F.try_to_timestamp(F.col("r.birth_date"), F.lit("yyyy-MM-dd"))).alias("birth_date"),
        F.nullif(F.col("r.height_cm"), F.lit("")).try_cast("double").try_cast("int").alias("height_cm"),
        F.nullif(F.col("r.weight_kg"), F.lit("")).try_cast("double").alias("weight_kg"),
        "_source_file", "_batch_id", "_record_index", "_ingested_at",
    )  # fmt: skip
    return with_row_hash(
        latest_per_key(typed.where(F.col("rider_id").isNotNull()), KEYS).drop("_record_index")
    )
