"""MapMyRun CSV import: header variants, AP-style dates, monthly files with the rows verbatim."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

import pytest
from ingest_support import realdata

from lakehouse.landing import LandingZone
from lakehouse.sources.mapmyrun import (
    MissingColumnsError,
    UnparseableDateError,
    import_csv,
    missing_columns,
    parse_ap_date,
)

METRIC_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (km),Workout Time (seconds),"
    "Avg Pace (min/km),Max Pace (min/km),Avg Speed (km/h),Max Speed (km/h),"
    "Avg Heart Rate,Steps,Notes,Source,Link"
)
IMPERIAL_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (mi),Workout Time (seconds),"
    "Avg Pace (min/mi),Max Pace (min/mi),Avg Speed (mi/h),Max Speed (mi/h),"
    "Avg Heart Rate,Steps,Notes,Source,Link"
)
LEGACY_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (mi),Workout Time (seconds),"
    "Avg Pace (min/mi),Max Pace,Avg Speed (mi/h),Max Speed,Avg Heart Rate,Steps,Notes,Source,Link"
)
LEGACY_ROW = '"June 11, 2017","June 11, 2017",Run,315,3.08999,1215,6.55,0,9.16031,0,,3626,,,http://www.mapmyrun.com/workout/2255711738'
MONTHS_BY_HAND = {"Jan.": 1, "Feb.": 2, "March": 3, "April": 4, "May": 5, "June": 6, "July": 7, "Aug.": 8,
                  "Sept.": 9, "Oct.": 10, "Nov.": 11, "Dec.": 12}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sept. 30, 2020", date(2020, 9, 30)),
        ("May 6, 2025", date(2025, 5, 6)),
        ("June 4, 2022", date(2022, 6, 4)),
        ("March 7, 2016", date(2016, 3, 7)),
        ("Jan. 31, 2021", date(2021, 1, 31)),
        ("Aug. 15, 2018", date(2018, 8, 15)),
        ("Dec. 1, 2019", date(2019, 12, 1)),
        ("July 4, 2020", date(2020, 7, 4)),
        ("April 30, 2019", date(2019, 4, 30)),
        ("Feb. 29, 2020", date(2020, 2, 29)),
        ("September 30, 2020", date(2020, 9, 30)),
        ("Sep 30, 2020", date(2020, 9, 30)),
    ],
)
def test_parse_ap_date(text: str, expected: date) -> None:
    assert parse_ap_date(text) == expected


@pytest.mark.parametrize("text", ["2020-09-30", "Sept 31, 2020", "Feb. 29, 2021", "Smarch 1, 2020", ""])
def test_parse_ap_date_refuses_other_text(text: str) -> None:
    with pytest.raises(UnparseableDateError):
        parse_ap_date(text)


def month_by_hand(ap_date: str) -> str:
    """The month of an AP date, computed without the code under test."""
    month_word, rest = ap_date.split(" ", 1)
    year = rest.split(", ")[1]
    return f"{year}-{MONTHS_BY_HAND[month_word]:02d}"


@pytest.mark.parametrize("name", ["JD_workout_history_2021-01-31.csv", "Jam_workout_history_2021-01-09.csv"])
def test_real_exports_land_by_month_with_rows_verbatim(landing: LandingZone, name: str) -> None:
    source = realdata("mapmyrun", name)
    text = source.read_text(encoding="utf-8")
    header, *rows = text.splitlines(keepends=True)
    expected = Counter(month_by_hand(next(csv.reader([row]))[1]) for row in rows)

    landed = import_csv(source, landing, "20250304T090730Z-abc123")

    assert {f.key.split("month=")[1][:7]: f.records for f in landed} == dict(expected)
    all_rows: list[str] = []
    for landed_file in landed:
        content = landing.store.read_bytes(landed_file.key).decode("utf-8")
        assert content.startswith(header)
        body = content.splitlines(keepends=True)[1:]
        month = landed_file.key.split("month=")[1][:7]
        assert {month_by_hand(next(csv.reader([row]))[1]) for row in body} == {month}
        all_rows += body
    assert Counter(all_rows) == Counter(rows)  # every row once, byte for byte (b'' notes, 0 HR included)
    assert landed[0].key.endswith(f"/20250304T090730Z-abc123--{name}")  # the export keeps its name


def test_imperial_and_legacy_headers_are_accepted(landing: LandingZone) -> None:
    imperial_row = (
        '"May 6, 2025","May 6, 2025",Run,401,3.1,1800,9.7,5.1,6.2,11.8,151,5800,'
        "Shoes: Karhu Fusion 3.5,Map My Fitness MapMyRun Android,http://www.mapmyfitness.com/workout/8123456789"
    )
    assert missing_columns(IMPERIAL_HEADER.split(",")) == []
    assert missing_columns(LEGACY_HEADER.split(",")) == []
    imperial = import_csv(f"{IMPERIAL_HEADER}\n{imperial_row}\n".encode(), landing, "run-imperial")
    legacy = import_csv(f"{LEGACY_HEADER}\r\n{LEGACY_ROW}\r\n".encode(), landing, "run-legacy")

    assert [f.key for f in imperial] == ["mapmyrun/workouts/month=2025-05/run-imperial--export.csv"]
    assert [f.key for f in legacy] == ["mapmyrun/workouts/month=2017-06/run-legacy--export.csv"]
    assert landing.store.read_bytes(legacy[0].key) == f"{LEGACY_HEADER}\r\n{LEGACY_ROW}\r\n".encode()


def test_a_missing_column_is_named(landing: LandingZone) -> None:
    header = METRIC_HEADER.replace(",Avg Heart Rate", "")
    row = (
        '"Jan. 31, 2021","Jan. 31, 2021",Run,340,4.49,2336,8.65,1.10,6.93,54.54,6205,b\'\',iPhone,http://x/1'
    )
    with pytest.raises(MissingColumnsError, match=r"missing column\(s\) Avg Heart Rate$") as error:
        import_csv(f"{header}\n{row}\n".encode(), landing, "run-missing")
    assert error.value.missing == ["Avg Heart Rate"]
    assert landing.list_files("mapmyrun", "workouts") == []


def test_missing_columns_are_named_in_the_files_unit_system(landing: LandingZone) -> None:
    header = IMPERIAL_HEADER.replace("Avg Speed (mi/h),", "").split(",")
    assert missing_columns(header) == ["Avg Speed (mi/h)"]
    with pytest.raises(MissingColumnsError, match="Date Submitted"):
        import_csv(b"", landing, "run-empty")


def test_a_multi_line_note_stays_one_verbatim_row(landing: LandingZone) -> None:
    row = '"Oct. 5, 2020","Oct. 5, 2020",Run,230,3.3,1394,6.9,0.6,8.5,98.6,0,3883,"line one\nline two",iPhone,http://x/2\n'
    landed = import_csv(f"{METRIC_HEADER}\n{row}".encode(), landing, "run-notes")

    assert [f.records for f in landed] == [1]
    content = landing.store.read_bytes(landed[0].key).decode()
    assert content == f"{METRIC_HEADER}\n{row}"
    assert list(csv.reader(io.StringIO(content)))[1][12] == "line one\nline two"


def test_rows_without_a_readable_date_land_undated_beside_their_neighbours(landing: LandingZone) -> None:
    good = '"Oct. 5, 2020","Oct. 5, 2020",Run,230,3.3,1394,6.9,0.6,8.5,98.6,0,3883,,iPhone,http://x/2\n'
    iso_date = '"2021-01-31","2021-01-31",Run,340,4.49,2336,8.65,1.10,6.93,54.54,0,6205,b\'\',iPhone,http://x/1\n'
    impossible = '"Feb. 30, 2021","Feb. 30, 2021",Run,340,4.49,2336,8.65,1.10,6.93,54.54,0,6205,,iPhone,http://x/3\n'
    short = '"Jan. 2, 2021"\n'  # one field: the date column (the second) is not there
    latin1 = '"Oct. 6, 2020","Oct. 6, 2020",Run,230,3.3,1394,6.9,0.6,8.5,98.6,0,3883,Caf\xe9,iPhone,http://x/4\n'
    data = f"{METRIC_HEADER}\n{good}{iso_date}{impossible}{short}".encode() + latin1.encode("latin-1")

    landed = import_csv(data, landing, "run-bad-rows")

    by_key = {f.key: f.records for f in landed}
    assert by_key == {
        "mapmyrun/workouts/month=2020-10/run-bad-rows--export.csv": 2,
        "mapmyrun/workouts/month=undated/run-bad-rows--export.csv": 3,
    }
    undated = landing.store.read_bytes("mapmyrun/workouts/month=undated/run-bad-rows--export.csv")
    assert undated == f"{METRIC_HEADER}\n{iso_date}{impossible}{short}".encode()
    october = landing.store.read_bytes("mapmyrun/workouts/month=2020-10/run-bad-rows--export.csv")
    assert october == f"{METRIC_HEADER}\n{good}".encode() + latin1.encode("latin-1")  # bytes kept as they were


def test_importing_the_same_file_under_the_same_run_id_is_a_no_op(landing: LandingZone) -> None:
    data = f"{LEGACY_HEADER}\n{LEGACY_ROW}\n".encode()
    first = import_csv(data, landing, "run-same")
    again = import_csv(data, landing, "run-same")
    assert [f.written for f in first] == [True] and [f.written for f in again] == [False]
