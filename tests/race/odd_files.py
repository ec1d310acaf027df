"""Telemetry files whose first line is not the usual header, for the batch load and the stream alike: what each
must give, worked out by hand from the lines below."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.race.bronze import TELEMETRY_TABLE
from lakehouse.storage import open_store
from lakehouse.tables import Tables, read_table

FOLDER = "race/telemetry/date=2024-07-01"
HEADER = "rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm"
FILES = {
    # No header: both lines are points (read with a header, the first would be lost).
    "no-header.csv": "21,2024-07-01T10:00:00Z,49.1,-0.3,100,10,150,200,90\n"
                     "21,2024-07-01T10:00:01Z,49.1,-0.3,100,10,151,200,91\n",
    # No header and a single line: nothing else to learn the file's layout from.
    "one-line.csv": "26,2024-07-01T10:00:00Z,49.6,-0.3,100,10,130,200,80",
    # Another order: heart rate and cadence swapped, time first (by position, 92 would be a heart rate).
    "reordered.csv": "timestamp,rider_id,lat,lon,altitude_m,speed_mps,cadence_rpm,power_w,heart_rate\n"
                     "2024-07-01T10:00:00Z,22,49.2,-0.3,100,10,92,210,160\n",
    # Fewer and more columns, capitals and spaces: the optional ones missing are empty, the unknown ignored.
    "fewer.csv": "Rider_ID, Timestamp ,LAT,lon,note\n23,2024-07-01T10:00:00Z,49.3,-0.3,hello\n",
    # A byte order mark before the usual header; the header again inside (two files put together) is no point.
    "bom-twice.csv": f"\ufeff{HEADER}\n24,2024-07-01T10:00:00Z,49.4,-0.3,100,10,170,220,94\n"
                     f"{HEADER}\n24,2024-07-01T10:00:01Z,49.4,-0.3,100,10,171,220,95\n",
    # No lat column: its points cannot be placed, each is quarantined with the reason.
    "no-lat.csv": "rider_id,timestamp,lon\n25,2024-07-01T10:00:00Z,-0.3\n",
    # A name Spark gives URL-encoded (`%20`, `%25`): lineage and the ledger keep the file's own name.
    "stage 1 %2 +.csv": f"{HEADER}\n27,2024-07-01T10:00:00Z,49.7,-0.3,100,10,120,200,70\n",
    # Glob characters: the file's own name, not a pattern (as a pattern it matches no file, or others).
    "[1] st*r?{a,b}\\c.csv": f"{HEADER}\n28,2024-07-01T10:00:00Z,49.8,-0.3,100,10,110,200,60\n",
    # The extension in capitals, as devices write it.
    "UPPER.CSV": f"{HEADER}\n30,2024-07-01T10:00:00Z,50.0,-0.3,100,10,90,200,40\n",
    # A ':' Hadoop cannot read in a name: the file is quarantined with the reason; the others load.
    "12:30.csv": f"{HEADER}\n29,2024-07-01T10:00:00Z,49.9,-0.3,100,10,100,200,50\n",
}  # fmt: skip
LOADED = 10  # rows that reach bronze
QUARANTINED = 3
PER_FILE = {"no-header.csv": (2, 0), "one-line.csv": (1, 0), "reordered.csv": (1, 0), "fewer.csv": (1, 0),
            "bom-twice.csv": (2, 1), "no-lat.csv": (0, 1), "stage 1 %2 +.csv": (1, 0), "[1] st*r?{a,b}\\c.csv": (1, 0),
            "UPPER.CSV": (1, 0), "12:30.csv": (0, 1)}  # fmt: skip
REASONS = [
    "lat is missing, not a number or out of range: (empty)",
    "rider_id is missing or not an integer: 'rider_id'",
    "the file's name has a ':', which Hadoop's file systems cannot read: rename the file to load it",
]


def land_odd_files(settings: Settings) -> None:
    zone = LandingZone(open_store(settings.landing_root, settings.s3))  # local disk or S3
    for name, text in FILES.items():
        zone.write_bytes(f"{FOLDER}/{name}", text.encode(), 0)


def expected_bronze(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            (21, "10:00:00", 49.1, 150, 90, "no-header.csv"),
            (21, "10:00:01", 49.1, 151, 91, "no-header.csv"),
            (26, "10:00:00", 49.6, 130, 80, "one-line.csv"),
            (22, "10:00:00", 49.2, 160, 92, "reordered.csv"),
            (23, "10:00:00", 49.3, None, None, "fewer.csv"),
            (24, "10:00:00", 49.4, 170, 94, "bom-twice.csv"),
            (24, "10:00:01", 49.4, 171, 95, "bom-twice.csv"),
            (27, "10:00:00", 49.7, 120, 70, "stage 1 %2 +.csv"),
            (28, "10:00:00", 49.8, 110, 60, "[1] st*r?{a,b}\\c.csv"),
            (30, "10:00:00", 50.0, 90, 40, "UPPER.CSV"),
        ],
        "rider_id int, time string, lat double, heart_rate int, cadence_rpm int, file string",
    )


def assert_odd_files_read(spark: SparkSession, settings: Settings) -> None:
    """Bronze and the quarantine hold what the odd files must give, each row with its file's key."""
    tables = Tables(settings)
    bronze = read_table(spark, tables.ref("bronze", TELEMETRY_TABLE))
    got = bronze.select(
        "rider_id", F.date_format("ts", "HH:mm:ss").alias("time"), "lat", "heart_rate", "cadence_rpm",
        F.substring_index("_source_file", "/", -1).alias("file"),
    )  # fmt: skip
    assert_df_equality(got, expected_bronze(spark), ignore_row_order=True, ignore_nullable=True)
    assert {r[0] for r in bronze.select("_source_file").distinct().collect()} <= {f"{FOLDER}/{n}" for n in FILES}
    quarantine = read_table(spark, tables.ref("bronze", "quarantine")).where(F.col("_table") == TELEMETRY_TABLE)
    assert sorted(r["reason"] for r in quarantine.collect()) == REASONS
    unread = quarantine.where(F.col("reason") == REASONS[2]).select("_source_file", "raw")
    assert [tuple(r) for r in unread.collect()] == [(f"{FOLDER}/12:30.csv", None)]
