"""Builders of small Strava archives for the archive-import tests: today's 91-column header, rows by name.

The header is the real one (read from `realdata/strava-archive/activities.csv`); rows are written by column
name and occurrence, so a test states its values in the archive's own terms.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from ingest_support import realdata

ARCHIVE = ("strava-archive",)
SAMPLE_ATHLETE = 144106043  # profile.csv of the real sample
SAMPLE_ACTIVITY = 12070555079  # its one activities.csv row
PROFILE = "Athlete ID,Email Address,First Name\n{athlete},someone@example.org,Someone\n"

Cell = str | tuple[str, int]  # a column name, or (name, occurrence) for the repeated ones: ("Distance", 1)


def real_header() -> list[str]:
    """The 91 names of today's activities.csv, repeats included."""
    with realdata(*ARCHIVE, "activities.csv").open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def row_for(header: list[str], values: Mapping[Cell, str]) -> list[str]:
    """One row with `values` in their columns (`("Distance", 1)` is the second `Distance`), the rest empty."""
    row = [""] * len(header)
    for cell, value in values.items():
        name, occurrence = (cell, 0) if isinstance(cell, str) else cell
        positions = [i for i, h in enumerate(header) if h == name]
        row[positions[occurrence]] = value
    return row


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    """A CSV as Strava writes it (every field quoted only when needed, `\\n` line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_folder(root: Path, activities_csv: str, files: Mapping[str, bytes], athlete: int | None) -> Path:
    """An unpacked archive: activities.csv, profile.csv (unless `athlete` is None), the files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "activities.csv").write_text(activities_csv, encoding="utf-8")
    if athlete is not None:
        (root / "profile.csv").write_text(PROFILE.format(athlete=athlete), encoding="utf-8")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_zip(path: Path, members: Mapping[str, bytes], top: str = "export_1") -> Path:
    """A zip with `members` (in this order) under a top folder, as Strava's export_<id>.zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(f"{top}/{name}" if top else name, data)
    return path


def folder_members(root: Path) -> dict[str, bytes]:
    """Every file of a folder by its relative path (activities.csv and profile.csv first)."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    first = [n for n in ("activities.csv", "profile.csv") if n in files]
    return {**{n: files[n] for n in first}, **{n: d for n, d in files.items() if n not in first}}


def gz(data: bytes) -> bytes:
    """Gzip bytes as Strava does for `.fit.gz` / `.gpx.gz`."""
    return gzip.compress(data, mtime=0)


TCX = b"""          <?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
    xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
  <Activities>
    <Activity Sport="Biking">
      <Id>2024-04-02T06:00:00Z</Id>
      <Lap StartTime="2024-04-02T06:00:00Z">
        <TotalTimeSeconds>10</TotalTimeSeconds>
        <DistanceMeters>60.5</DistanceMeters>
        <Calories>2</Calories>
        <Track>
          <Trackpoint>
            <Time>2024-04-02T06:00:00Z</Time>
            <Position><LatitudeDegrees>52.5</LatitudeDegrees><LongitudeDegrees>13.25</LongitudeDegrees></Position>
            <AltitudeMeters>34.0</AltitudeMeters>
            <DistanceMeters>0.0</DistanceMeters>
            <HeartRateBpm><Value>101</Value></HeartRateBpm>
            <Cadence>80</Cadence>
            <Extensions><ns3:TPX><ns3:Speed>6.0</ns3:Speed><ns3:Watts>180</ns3:Watts></ns3:TPX></Extensions>
          </Trackpoint>
          <Trackpoint>
            <Time>2024-04-02T06:00:05Z</Time>
            <Position><LatitudeDegrees>52.5002</LatitudeDegrees><LongitudeDegrees>13.2501</LongitudeDegrees></Position>
            <AltitudeMeters>35.5</AltitudeMeters>
            <DistanceMeters>30.25</DistanceMeters>
            <HeartRateBpm><Value>110</Value></HeartRateBpm>
            <Cadence>85</Cadence>
            <Extensions><ns3:TPX><ns3:Speed>6.1</ns3:Speed><ns3:Watts>200</ns3:Watts></ns3:TPX></Extensions>
          </Trackpoint>
          <Trackpoint>
            <Time>2024-04-02T06:00:10Z</Time>
            <AltitudeMeters>36.0</AltitudeMeters>
            <DistanceMeters>60.5</DistanceMeters>
            <HeartRateBpm><Value>115</Value></HeartRateBpm>
          </Trackpoint>
        </Track>
      </Lap>
    </Activity>
  </Activities>
</TrainingCenterDatabase>
"""


DISPLAY_SPORT = {"TrailRun": "Trail Run"}  # the archive writes display names; the rest are spelled alike


def archive_of(
    activities: list[dict], root: Path, athlete: int, files: Mapping[int, tuple[str, bytes]] | None = None
) -> Path:
    """An archive folder holding `activities` (SummaryActivity dicts) as Strava's export writes them.

    `files` gives some activities a recorded file: activity id -> (archive path, bytes).
    """
    files = files or {}
    header = real_header()
    rows = []
    for activity in activities:
        started = datetime.strptime(activity["start_date"], "%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            row_for(
                header,
                {
                    "Activity ID": str(activity["id"]),
                    "Activity Date": started.strftime("%b %d, %Y, %I:%M:%S %p"),
                    "Activity Name": activity["name"],
                    "Activity Type": DISPLAY_SPORT.get(activity["sport_type"], activity["sport_type"]),
                    ("Elapsed Time", 0): str(activity["elapsed_time"]),
                    ("Elapsed Time", 1): f"{activity['elapsed_time']:.1f}",
                    ("Distance", 0): f"{activity['distance'] / 1000:.2f}",
                    ("Distance", 1): str(activity["distance"]),
                    "Moving Time": f"{activity['moving_time']:.1f}",
                    "Filename": files[activity["id"]][0] if activity["id"] in files else "",
                },
            )
        )
    return write_folder(root, csv_text(header, rows), dict(files.values()), athlete)
