"""Google Takeout import: real fixtures + generated days in a zip; units, times, twins, bad input, streaming."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from ingest_support import read_landed
from takeout_support import CSV_DIR, JSON_DIR, build_zip, export_members

from jobs.ingest import main
from lakehouse.landing import LandingZone
from lakehouse.sources.takeout import TakeoutArchiveError, import_takeout

TYPES = ("heart-rate", "steps", "distance", "daily-resting-heart-rate", "daily-time-in-heart-rate-zones")


def landed(landing: LandingZone, data_type: str) -> list[dict[str, Any]]:
    return read_landed(landing, "google_health", data_type)


def by_route(records: list[dict[str, Any]], route: str) -> list[dict[str, Any]]:
    return [r["data_point"] for r in records if r["route"] == route]


def test_units_times_and_twins_from_a_zip(tmp_path: Path, landing: LandingZone) -> None:
    report = import_takeout(build_zip(tmp_path / "takeout.zip", export_members()), landing, user_id="ana")

    # Real distance file: "4110" centimetres at 16:42 local = 41,100 mm; naive local time kept as civil time.
    distance_json = by_route(landed(landing, "distance"), "takeout-json")
    first = next(p for p in distance_json if p["distance"]["interval"]["civilStartTime"]["time"]["minutes"] == 42)
    assert first["distance"]["millimeters"] == "41100"
    assert first["distance"]["interval"]["civilStartTime"]["date"] == {"year": 2017, "month": 12, "day": 31}
    assert "startTime" not in first["distance"]["interval"]
    assert sorted(int(p["distance"]["millimeters"]) for p in distance_json) == [0, 8500, 34900, 41100, 43400]
    # CSV distance in metres with a UTC instant: 1500.0 m = 1,500,000 mm.
    [distance_csv] = by_route(landed(landing, "distance"), "takeout-csv")
    assert distance_csv["distance"]["millimeters"] == "1500000"
    assert distance_csv["distance"]["interval"]["startTime"] == "2024-10-27T07:00:00.250000Z"
    # Heart rate: the CSV sample keeps its instant; the JSON sample of 27 Oct is its twin and is not landed.
    heart = landed(landing, "heart-rate")
    assert by_route(heart, "takeout-csv") == [
        {"dataSource": {"device": {"displayName": "Pixel Watch"}},
         "heartRate": {"sampleTime": {"physicalTime": "2024-10-27T00:00:04Z"}, "beatsPerMinute": "65"}}
    ]  # fmt: skip
    assert [p["heartRate"]["sampleTime"]["civilTime"] for p in by_route(heart, "takeout-json")] == [
        {"date": {"year": 2024, "month": 10, "day": 26}, "time": {"hours": 12, "minutes": 0, "seconds": 0}}
    ]
    steps = landed(landing, "steps")
    assert sorted(p["steps"]["count"] for p in by_route(steps, "takeout-csv")) == ["12", "90"]
    assert [p["steps"]["count"] for p in by_route(steps, "takeout-json")] == ["87"]  # 26 Oct only
    assert report.records_skipped_twin == 2
    # Resting heart rate: the real JSON's 59.42 and 58.30 bpm round to 59 and 58; the CSV's 57.4 to 57.
    resting = {
        (p["dailyRestingHeartRate"]["date"]["year"], p["dailyRestingHeartRate"]["date"]["day"]):
            p["dailyRestingHeartRate"]["beatsPerMinute"]
        for p in [r["data_point"] for r in landed(landing, "daily-resting-heart-rate")]
    }  # fmt: skip
    assert resting == {(2018, 30): "59", (2018, 31): "58", (2024, 27): "57"}
    zones = landed(landing, "daily-time-in-heart-rate-zones")
    first_day = next(r["data_point"]["dailyTimeInHeartRateZones"] for r in zones
                     if r["data_point"]["dailyTimeInHeartRateZones"]["date"]["month"] == 1)  # fmt: skip
    assert {z["zone"]: z["minutes"] for z in first_day["minutesInZones"]} == {
        "BELOW_DEFAULT_ZONE_1": 1037.0, "IN_DEFAULT_ZONE_1": 154.0,
        "IN_DEFAULT_ZONE_2": 20.0, "IN_DEFAULT_ZONE_3": 10.0,
    }  # fmt: skip
    assert report.records_landed == {"distance": 6, "heart-rate": 2, "steps": 3, "daily-resting-heart-rate": 3,
                                     "daily-time-in-heart-rate-zones": 2}  # fmt: skip
    assert report.raw_landed == {"exercise": 3, "sleep": 2}
    assert {r["user_id"] for t in TYPES for r in landed(landing, t)} == {"ana"}


def test_report_names_every_file_it_did_not_import(tmp_path: Path, landing: LandingZone) -> None:
    report = import_takeout(build_zip(tmp_path / "takeout.zip", export_members()), landing)
    text = "\n".join(report.lines())
    assert "floors_2024-10-01.csv: CSV without the column(s) ['floors']" in text
    assert "new column(s) ['confidence'] not imported" in text
    assert "mystery_metric CSV file(s)" in text and "unknown file type" in text
    assert "new_thing-2024-10-01.bin" in text
    assert "lightly_active_minutes JSON file(s)" in text and "no silver table for it yet" in text
    assert "Sleep Score/ file(s)" in text
    assert "takeout: landed 3 steps record(s)" in text
    assert "read 1 csv heart_rate file(s)" in text


def test_a_damaged_member_is_skipped_and_the_rest_lands(tmp_path: Path, landing: LandingZone) -> None:
    damaged = JSON_DIR + "distance-2017-12-31.json"
    report = import_takeout(build_zip(tmp_path / "t.zip", export_members(), damaged=damaged), landing)
    reasons = dict(report.skipped)
    assert "truncated or damaged" in reasons[damaged]
    assert len(landed(landing, "distance")) == 1  # the CSV row; the damaged JSON file is not half-landed
    assert report.records_landed["steps"] == 3


def test_a_truncated_zip_is_one_clear_error(tmp_path: Path, landing: LandingZone) -> None:
    whole = build_zip(tmp_path / "whole.zip", export_members()).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(TakeoutArchiveError, match="truncated or damaged; download the export again"):
        import_takeout(cut, landing)
    assert main(["takeout", str(cut)]) == 1


def test_missing_root_folder_is_reported(tmp_path: Path, landing: LandingZone) -> None:
    report = import_takeout(build_zip(tmp_path / "t.zip", {"Takeout/YouTube/history.json": b"[]"}), landing)
    assert any("no Takeout/Fitbit/ or Takeout/Google Health/ folder" in line for line in report.lines())
    assert not report.records_landed


def test_unpacked_folder_with_the_2026_root(tmp_path: Path, landing: LandingZone) -> None:
    root = tmp_path / "export"
    for name, data in export_members().items():
        target = root / name.replace("Takeout/Fitbit/", "Takeout/Google Health/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    report = import_takeout(root, landing)
    assert report.records_landed["distance"] == 6 and report.raw_landed["sleep"] == 2


def test_members_are_streamed_never_read_whole(
    tmp_path: Path, landing: LandingZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = build_zip(tmp_path / "t.zip", export_members())

    def refuse(*_: object, **__: object) -> bytes:
        raise AssertionError("ZipFile.read loads a whole member; the import must stream")

    monkeypatch.setattr(zipfile.ZipFile, "read", refuse)
    report = import_takeout(path, landing, flush_every=2)  # flush every 2 records: memory stays bounded
    assert report.records_landed["distance"] == 6
    assert len(landing.list_files("google_health", "distance")) >= 3  # several flushes, several parts


def test_cli_prints_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    path = build_zip(tmp_path / "t.zip", export_members())
    assert main(["--env", "test", "takeout", str(path), "--user", "ana"]) == 0
    out = capsys.readouterr().out
    assert "takeout: landed 6 distance record(s)" in out and CSV_DIR + "floors_2024-10-01.csv" in out


def test_a_missing_folder_is_a_report_line_and_the_rest_lands(tmp_path: Path, landing: LandingZone) -> None:
    members = {name: data for name, data in export_members().items() if name.startswith(CSV_DIR)}
    report = import_takeout(build_zip(tmp_path / "t.zip", members), landing)
    assert "takeout: note: the export has no `Global Export Data/` folder" in report.lines()
    assert report.records_landed["steps"] == 2 and report.records_landed["heart-rate"] == 1


def test_a_record_that_does_not_read_lands_rejected_with_its_reason(tmp_path: Path, landing: LandingZone) -> None:
    members = {
        CSV_DIR + "heart_rate_2024-02-29.csv": (
            b"timestamp,beats per minute,data source\n2024-02-29T23:59:00Z,81,W\n2024-02-29T23:59:30Z,NaN,W\n"
            b"2024-02-29T23:59:45Z,1e309,W\n2024-02-30T00:00:00Z,82,W\n"
        ),
        JSON_DIR + "steps-2024-03-04.json": b'[{"dateTime": "03/04/24 10:00:00", "value": "7"},'
        b' {"dateTime": "13/45/24 10:00:00", "value": "2"}]',
    }
    report = import_takeout(build_zip(tmp_path / "t.zip", members), landing, user_id="ana")

    points = read_landed(landing, "google_health", "heart-rate")
    assert [p["data_point"]["heartRate"]["beatsPerMinute"] for p in points if "_rejected" not in p] == ["81"]
    rejected = sorted(p["_rejected"] for p in points if "_rejected" in p)
    assert [r.split(": ", 1)[1].split(" in ")[0] for r in rejected] == [
        "ValueError: '1e309' is not a finite number",
        "ValueError: 'NaN' is not a finite number",
        "ValueError: day is out of range for month",
    ]
    assert all(r.startswith(CSV_DIR + "heart_rate_2024-02-29.csv: ") for r in rejected)
    [steps_bad] = [p for p in read_landed(landing, "google_health", "steps") if "_rejected" in p]
    assert "time data '13/45/24 10:00:00' does not match format" in steps_bad["_rejected"]
    assert report.records_invalid == report.records_rejected == 4
    assert sum("takeout: quarantined " in line for line in report.lines()) == 4


def test_json_nested_too_deep_for_python_is_a_skipped_file(tmp_path: Path, landing: LandingZone) -> None:
    members = {
        JSON_DIR + "steps-2024-03-02.json": b"[" * 10_000 + b"]" * 10_000,
        JSON_DIR + "steps-2024-03-03.json": b'[{"dateTime": "03/03/24 10:00:00", "value": "5"}]',
    }
    report = import_takeout(build_zip(tmp_path / "t.zip", members), landing)

    assert dict(report.skipped) == {
        JSON_DIR + "steps-2024-03-02.json": "nested deeper than a JSON reader can go: not a Takeout file"
    }
    assert report.records_landed["steps"] == 1
