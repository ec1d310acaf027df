"""Telemetry bronze: bad rows quarantined with a reason, each file loaded once, a crashed load resumed."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from lakehouse.landing import LandingZone
from lakehouse.race.bronze import TELEMETRY_TABLE, TelemetryHooks, _folder_date, load_telemetry
from lakehouse.storage import LocalStore
from lakehouse.tables import Tables, read_table
from tests.race.odd_files import FILES, LOADED, PER_FILE, QUARANTINED, assert_odd_files_read, land_odd_files

FOLDER = "race/telemetry/date=2024-07-01"
HEADER = "rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm"
LINES = [
    "11,2024-07-01T10:00:00Z,49.1,-0.3,100.0,10.0,150,200,90",
    "12,2024-07-01T10:00:00Z,49.1,-0.3,,,,,",
    "x1,2024-07-01T10:00:01Z,49.1,-0.3,100,10,150,200,90",
    "11,yesterday,49.1,-0.3,100,10,150,200,90",
    "11,2024-07-02T10:00:02Z,49.1,-0.3,100,10,150,200,90",
    "11,2024-07-01T10:00:03Z,95.0,-0.3,100,10,150,200,90",
    "11,2024-07-01T10:00:04Z,49.1,-0.3,100,10,abc,200,90",
    "11,2024-07-01T10:00:05Z,49.1",
]


class Crash(RuntimeError):
    pass


def land(settings: Settings, name: str, lines: list[str]) -> None:
    data = ("\n".join([HEADER, *lines]) + "\n").encode()
    LandingZone(LocalStore(settings.landing_root)).write_bytes(f"{FOLDER}/{name}", data, len(lines))


def test_bad_rows_are_quarantined_with_a_reason_and_files_load_once(
    spark: SparkSession, settings: Settings
) -> None:
    land(settings, "a.csv", LINES)
    first = load_telemetry(spark, settings, run_id="r1")
    second = load_telemetry(spark, settings, run_id="r2")

    assert (first.files_loaded, first.rows_loaded, first.rows_quarantined) == (1, 2, 6)
    assert (second.files_loaded, second.rows_loaded, second.batches) == (0, 0, [])
    tables = Tables(settings)
    bronze = read_table(spark, tables.ref("bronze", TELEMETRY_TABLE))
    expected_bronze = spark.createDataFrame(
        [(11, 150, 200, "2024-07-01"), (12, None, None, "2024-07-01")],
        "rider_id int, heart_rate int, power_w int, stage_date string",
    )
    assert_df_equality(
        bronze.select("rider_id", "heart_rate", "power_w", F.col("stage_date").cast("string")),
        expected_bronze, ignore_row_order=True, ignore_nullable=True,
    )  # fmt: skip
    quarantine = read_table(spark, tables.ref("bronze", "quarantine")).where(
        F.col("_table") == TELEMETRY_TABLE
    )
    expected = spark.createDataFrame(
        [
            ("rider_id is missing or not an integer: 'x1'",),
            ("timestamp is missing or not ISO 8601: 'yesterday'",),
            ("timestamp is not on the file's stage date 2024-07-01",),
            ("lat is missing, not a number or out of range: '95.0'",),
            ("heart_rate is not a number in 20..250: 'abc'",),
            ("malformed CSV line (wrong number of fields)",),
        ],
        "reason string",
    )
    assert_df_equality(quarantine.select("reason"), expected, ignore_row_order=True, ignore_nullable=True)
    assert quarantine.where(F.col("raw") == "11,2024-07-01T10:00:05Z,49.1").count() == 1


def test_a_load_that_crashed_after_writing_is_resumed_without_duplicates(
    spark: SparkSession, settings: Settings
) -> None:
    land(settings, "a.csv", LINES[:2])

    def crash() -> None:
        raise Crash("died after the bronze write")

    with pytest.raises(Crash):
        load_telemetry(spark, settings, run_id="r1", hooks=TelemetryHooks(after_bronze_write=crash))
    resumed = load_telemetry(spark, settings, run_id="r2")
    again = load_telemetry(spark, settings, run_id="r3")

    assert resumed.resumed and resumed.batches == [1] and resumed.rows_loaded == 2
    assert again.batches == []
    bronze = read_table(spark, Tables(settings).ref("bronze", TELEMETRY_TABLE))
    assert bronze.count() == 2 and bronze.select("_batch_id").distinct().collect()[0][0] == 1


def test_the_stage_date_is_read_from_the_first_date_folder(spark: SparkSession) -> None:
    paths = [
        ("race/telemetry/date=2024-07-01/part-1.csv", "2024-07-01"),
        ("race/telemetry/part-1.csv", None),  # no date= folder
        ("race/telemetry/date=/part-1.csv", ""),  # an empty one
        ("race/telemetry/date=2024-07-01/date=2024-07-02/part-1.csv", "2024-07-01"),  # the first one
        ("race/telemetry/date=2024-07-01date=x/part-1.csv", "2024-07-01"),  # up to the next date=
        ("race/telemetry/date=2024-07-03", "2024-07-03"),  # no slash after it
        ("race/telemetry/abcd2024-07-01/part-1.csv", None),  # a date, but not in a date= folder
    ]
    df = spark.createDataFrame(paths, "path string, expected string")
    got = df.select("path", _folder_date(F.col("path")).alias("expected"))
    assert_df_equality(got, df, ignore_row_order=True, ignore_nullable=True)


def test_files_are_read_by_their_headers_names_and_a_file_without_one_loses_no_line(
    spark: SparkSession, settings: Settings
) -> None:
    land_odd_files(settings)  # their lines and what each must give: tests/race/odd_files.py

    loaded = load_telemetry(spark, settings, run_id="r1")

    assert (loaded.files_loaded, loaded.rows_loaded, loaded.rows_quarantined) == (len(FILES), LOADED, QUARANTINED)
    assert_odd_files_read(spark, settings)
    tables = Tables(settings)
    ledger = read_table(spark, tables.ref("ops", "bronze_load_ledger")).where(F.col("status") == "committed")
    per_file = {r["file_path"].rsplit("/", 1)[-1]: (r["records_loaded"], r["records_quarantined"])
                for r in ledger.collect()}  # fmt: skip
    assert per_file == PER_FILE
