"""Which copy of a re-sent point silver keeps: the one landed first (`silver.race_telemetry.first_landed`).

The rule, field after field: the earliest ingestion, then the earlier bronze batch, then the earlier file
(by name), then the content (latitude, longitude, altitude, speed, heart rate, power; an empty value first).
Each expected winner below is picked by hand from the copies.
"""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.race.bronze import BRONZE_SCHEMA as BRONZE
from lakehouse.race.silver.telemetry import POINT_COLUMNS, first_landed

DAY = date(2024, 7, 2)
NINE, TEN = datetime(2024, 7, 2, 9), datetime(2024, 7, 2, 10)


def at(second: int) -> datetime:
    return datetime(2024, 7, 2, 8, 0, second)


def point(rider: int, second: int, *, lat: float = 45.0, alt: float | None = 100.0, cadence: int = 90,
          file: str = "a.csv", batch: int = 1, ingested: datetime = NINE) -> tuple[object, ...]:  # fmt: skip
    return (rider, at(second), lat, 6.0, alt, 11.0, 150, 250, cadence, file, batch, "r", ingested, DAY)


def test_the_copy_landed_first_wins_field_after_field(spark: SparkSession) -> None:
    copies = [
        point(1, 0, lat=45.9, batch=2, ingested=TEN),  # landed later although in an earlier batch
        point(1, 0, lat=45.1, batch=5, ingested=NINE),  # <- earliest ingestion
        point(1, 1, lat=45.9, batch=3),
        point(1, 1, lat=45.2, batch=2),  # <- same ingestion, earlier batch
        point(1, 2, lat=45.9, file="b.csv"),
        point(1, 2, lat=45.3, file="a.csv"),  # <- same batch, earlier file
        point(2, 0, lat=45.02, cadence=1),
        point(2, 0, lat=45.01, cadence=2),  # <- same file: the smaller latitude
        point(2, 1, alt=100.0, cadence=1),
        point(2, 1, alt=None, cadence=2),  # <- same latitude: the empty altitude first
        point(3, 0, lat=44.0, file="z.csv", batch=9, ingested=TEN),  # <- the only copy
    ]
    kept = [
        point(1, 0, lat=45.1, batch=5, ingested=NINE),
        point(1, 1, lat=45.2, batch=2),
        point(1, 2, lat=45.3, file="a.csv"),
        point(2, 0, lat=45.01, cadence=2),
        point(2, 1, alt=None, cadence=2),
        point(3, 0, lat=44.0, file="z.csv", batch=9, ingested=TEN),
    ]
    bronze = spark.createDataFrame(copies, BRONZE)
    expected = spark.createDataFrame(kept, BRONZE).select(*POINT_COLUMNS)
    assert_df_equality(first_landed(bronze), expected, ignore_row_order=True, ignore_nullable=True)
