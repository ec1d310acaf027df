"""Takeout exports built in a test's folder from the real fixtures (`shared/realdata/takeout/`, Apache-2.0) plus
generated days in the documented shapes (`docs/contracts/google-takeout.md`)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ingest_support import realdata

FITBIT = "Takeout/Fitbit/"
JSON_DIR = FITBIT + "Global Export Data/"
CSV_DIR = FITBIT + "Physical Activity_GoogleData/"

# Generated, documented shapes. 27 Oct 2024 is the day Europe leaves summer time (03:00 CEST -> 02:00 CET).
HEART_RATE_JSON = [
    {"dateTime": "10/26/24 12:00:00", "value": {"bpm": 71, "confidence": 3}},
    {"dateTime": "10/27/24 01:00:05", "value": {"bpm": 66, "confidence": 2}},
]
STEPS_JSON = [  # 26 Oct has no CSV twin, 27 Oct has one
    {"dateTime": "10/26/24 08:00:00", "value": "87"},
    {"dateTime": "10/27/24 08:00:00", "value": "90"},
]
HEART_RATE_CSV = "timestamp,beats per minute,data source\n2024-10-27T00:00:04Z,65.0,Pixel Watch\n"
STEPS_CSV = "timestamp,steps,data source\n2024-10-27T07:00:00Z,90,Pixel Watch\n2024-10-27T07:01:00Z,12,Pixel Watch\n"
DISTANCE_CSV_NEW_COLUMN = (
    "timestamp,distance,confidence,data source\n2024-10-27T07:00:00.250Z,1500.0,high,Pixel Watch\n"
)
FLOORS_CSV_WITHOUT_VALUE = "timestamp,data source\n2024-10-27T07:00:00Z,Pixel Watch\n"
RESTING_CSV = "timestamp,beats per minute,data source\n2024-10-27T00:00:00Z,57.4,Pixel Watch\n"


def real(name: str) -> bytes:
    """A real fixture file's bytes."""
    return realdata("takeout", name).read_bytes()


def export_members() -> dict[str, bytes]:
    """Every member of the test export: real JSON files under their Takeout names, generated days, bad files."""
    return {
        JSON_DIR + "distance-2017-12-31.json": real("distance.json"),
        JSON_DIR + "resting_heart_rate-2018-12-30.json": real("resting_heart_rate.json"),
        JSON_DIR + "time_in_heart_rate_zones-2018-01-02.json": real("heart_rate_zones.json"),
        JSON_DIR + "exercise-0.json": real("exercise.json"),
        JSON_DIR + "sleep-2018-02-01.json": real("sleep.json"),
        JSON_DIR + "lightly_active_minutes-2018-01-01.json": real("lightly_active_minutes.json"),
        FITBIT + "Sleep Score/sleep_score.csv": real("sleep_score.csv"),
        JSON_DIR + "heart_rate-2024-10-27.json": json.dumps(HEART_RATE_JSON).encode(),
        JSON_DIR + "steps-2024-10-01.json": json.dumps(STEPS_JSON).encode(),
        CSV_DIR + "heart_rate_2024-10-27.csv": HEART_RATE_CSV.encode(),
        CSV_DIR + "steps_2024-10-01.csv": STEPS_CSV.encode(),
        CSV_DIR + "distance_2024-10-01.csv": DISTANCE_CSV_NEW_COLUMN.encode(),
        CSV_DIR + "floors_2024-10-01.csv": FLOORS_CSV_WITHOUT_VALUE.encode(),
        CSV_DIR + "daily_resting_heart_rate.csv": RESTING_CSV.encode(),
        CSV_DIR + "mystery_metric_2024-10-01.csv": b"timestamp,x\n2024-10-27T00:00:00Z,1\n",
        JSON_DIR + "new_thing-2024-10-01.bin": b"\x00\x01",
    }


def build_zip(path: Path, members: dict[str, bytes], damaged: str | None = None) -> Path:
    """Write the members (deflated); `damaged` names a member whose compressed bytes get scrambled."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    if damaged is not None:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(damaged)
        data = bytearray(path.read_bytes())
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for offset in range(start + 2, start + min(info.compress_size, 40)):
            data[offset] ^= 0x5A
        path.write_bytes(bytes(data))
    return path
