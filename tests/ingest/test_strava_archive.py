"""Strava archive import (no Spark): the real archive sample, the real FIT/GPX recordings, German headers, the
older layout, bad input, and the sync watermark.

Expected values are read off the CSV rows by hand, decoded independently (fitdecode or ElementTree called here,
the decoded-records CSV of the Edge 500 file), or written into the synthetic archive by the test itself.
"""

from __future__ import annotations

import csv
import json
import random
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fitdecode
import pytest
from archive_support import (
    ARCHIVE,
    SAMPLE_ACTIVITY,
    SAMPLE_ATHLETE,
    TCX,
    csv_text,
    folder_members,
    gz,
    real_header,
    row_for,
    write_folder,
    write_zip,
)
from ingest_support import read_landed, realdata

from lakehouse.bronze.entities import STRAVA_ACTIVITIES, STRAVA_ACTIVITY_STREAMS
from lakehouse.bronze.parse import parse_file
from lakehouse.landing import LandingZone
from lakehouse.sources.strava_archive import (
    ArchiveError,
    MissingAthleteIdError,
    import_archive,
    load_header_map,
    render_report,
)
from lakehouse.sources.sync import load_state, save_state

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

# The real sample's row, read by hand (second Distance = metres; Elapsed Time 1428 twice).
SAMPLE_SUMMARY = {
    "id": SAMPLE_ACTIVITY,
    "athlete": {"id": SAMPLE_ATHLETE},
    "name": "Laufen Landal Park",
    "type": "Run",
    "sport_type": "Run",
    "start_date": "2022-05-29T15:53:35Z",  # "May 29, 2022, 3:53:35 PM", UTC
    "start_date_local": "2022-05-29T17:53:35Z",  # Bonn in May: CEST, UTC+2
    "utc_offset": 7200.0,
    "distance": 3322.949951171875,
    "elapsed_time": 1428,
    "moving_time": 1411,
    "total_elevation_gain": 61.878849029541016,
    "elev_low": 357.20001220703125,
    "elev_high": 376.70001220703125,
    "average_speed": 2.355031967163086,
    "max_speed": 3.2149860858917236,
    "average_cadence": 71.25904846191406,
    "calories": 262.0,
    "commute": False,
    "manual": False,
    "has_heartrate": False,
    "_route": "archive",
}
SEMICIRCLE = 180 / 2**31


def picked(record: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in keys}


def fit_record_count(data: bytes) -> int:
    """Record messages with a timestamp, counted with fitdecode directly (not through the importer)."""
    with fitdecode.FitReader(data) as reader:
        return sum(
            1
            for frame in reader
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record" and frame.has_field("timestamp")
        )


def landed(landing: LandingZone, entity: str) -> list[dict[str, Any]]:
    return read_landed(landing, "strava", entity)


def good(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "_rejected" not in r]


def rejected(records: list[dict[str, Any]]) -> list[str]:
    return [r["_rejected"] for r in records if "_rejected" in r]


# ---- the real archive sample ----------------------------------------------------------------------------


def test_real_archive_folder_lands_the_activity_and_its_fit_streams(landing: LandingZone) -> None:
    report = import_archive(realdata(*ARCHIVE), landing, now=NOW)

    (activity,) = landed(landing, "activities")
    assert picked(activity, SAMPLE_SUMMARY) == SAMPLE_SUMMARY
    assert activity["_archive"]["filename"] == "activities/12866632127.fit.gz"
    (streams,) = landed(landing, "activity_streams")
    fit = realdata(*ARCHIVE, "activities", "12866632127.fit.gz").read_bytes()
    import gzip

    points = fit_record_count(gzip.decompress(fit))
    assert streams["activity_id"] == SAMPLE_ACTIVITY and streams["_route"] == "archive"
    assert {len(s["data"]) for s in streams["streams"].values()} == {points}
    assert streams["streams"]["latlng"]["data"][0] == [594193419 * SEMICIRCLE, 82192814 * SEMICIRCLE]
    assert streams["streams"]["distance"]["data"][-1] == 3322.95  # the FIT session's total_distance
    assert streams["streams"]["time"]["data"][-1] == 1428  # 15:53:35 -> 16:17:23
    assert "heartrate" not in streams["streams"]  # this watch recorded no heart rate: left out, as the API does
    assert (report.activities_landed, report.rows_quarantined, dict(report.files_parsed)) == (1, 0, {"fit": 1})
    assert report.lines == []


def test_real_archive_as_a_zip_lands_the_same_records(landing: LandingZone, tmp_path: Path) -> None:
    members = folder_members(realdata(*ARCHIVE))
    archive = write_zip(tmp_path / "export_144106043.zip", members, top="export_144106043")

    report = import_archive(archive, landing, now=NOW)

    (activity,) = landed(landing, "activities")
    assert picked(activity, SAMPLE_SUMMARY) == SAMPLE_SUMMARY
    (streams,) = landed(landing, "activity_streams")
    assert streams["activity_id"] == SAMPLE_ACTIVITY
    assert report.files_parsed["fit"] == 1 and "strava archive import" in render_report(report)


# ---- the real FIT and GPX recordings as the files of a synthetic archive ---------------------------------

TRACKS = {
    101: ("activities/edge500.fit", "Sep 25, 2011, 1:00:22 PM", "Ride"),
    102: ("activities/fenix2.fit.gz", "Aug 15, 2015, 2:45:08 PM", "Run"),
    103: ("activities/cerknicko.gpx.gz", "Aug 5, 2010, 2:23:59 PM", "Hike"),
    104: ("activities/korita.gpx", "Oct 3, 2010, 9:36:30 AM", "Hike"),
    105: ("activities/commute.tcx", "Apr 2, 2024, 6:00:00 AM", "E-Bike Ride"),
    106: ("", "Apr 3, 2024, 7:00:00 AM", "Weight Training"),
}


@pytest.fixture
def tracks_archive(tmp_path: Path) -> Path:
    header = real_header()
    rows = [
        row_for(
            header,
            {
                "Activity ID": str(activity_id),
                "Activity Date": date,
                "Activity Name": f"#{activity_id}",
                "Activity Type": sport,
                "Elapsed Time": "600",
                ("Distance", 1): "1000.5",
                "Filename": filename,
            },
        )
        for activity_id, (filename, date, sport) in TRACKS.items()
    ]
    tracks = realdata("tracks")
    files = {
        "activities/edge500.fit": (tracks / "garmin-edge-500-activity.fit").read_bytes(),
        "activities/fenix2.fit.gz": gz((tracks / "activity-small-fenix2-run.fit").read_bytes()),
        "activities/cerknicko.gpx.gz": gz((tracks / "cerknicko-jezero.gpx").read_bytes()),
        "activities/korita.gpx": (tracks / "korita-zbevnica.gpx").read_bytes(),
        "activities/commute.tcx": TCX,
    }
    return write_folder(tmp_path / "tracks-export", csv_text(header, rows), files, athlete=7)


def test_real_fit_records_match_their_independently_decoded_csv(landing: LandingZone, tracks_archive: Path) -> None:
    import_archive(tracks_archive, landing, timezone="America/Toronto", now=NOW)

    streams = {s["activity_id"]: s["streams"] for s in landing_streams(landing)}
    edge = streams[101]
    with realdata("tracks", "garmin-edge-500-activity-records.csv").open(newline="") as handle:
        decoded = list(csv.DictReader(handle))
    times = [datetime.strptime(r["timestamp"], "%a %b %d %H:%M:%S PDT %Y") + timedelta(hours=7) for r in decoded]
    assert len(edge["time"]["data"]) == len(decoded) == 10_686
    assert edge["time"]["data"] == [round((t - times[0]).total_seconds()) for t in times]
    assert edge["heartrate"]["data"] == [int(r["heart_rate"]) for r in decoded]
    # That decoder wrote FIT's "invalid" cadence (no value recorded) as 0; fitdecode, and so the stream, has null.
    assert [0 if c is None else c for c in edge["cadence"]["data"]] == [int(r["cadence"]) for r in decoded]
    assert edge["distance"]["data"] == pytest.approx([float(r["distance"]) for r in decoded])
    assert edge["altitude"]["data"] == pytest.approx([float(r["altitude"]) for r in decoded])
    assert edge["velocity_smooth"]["data"] == pytest.approx([float(r["speed"]) for r in decoded])
    assert edge["temp"]["data"] == [float(r["temperature"]) for r in decoded]
    # Nine records have no position: fitdecode gives none (a null sample), that decoder repeated the last one.
    latlng = edge["latlng"]["data"]
    gaps = [i for i, point in enumerate(latlng) if point is None]
    assert len(gaps) == 9
    assert all(decoded[i]["position_lat"] == decoded[i - 1]["position_lat"] for i in gaps)
    ours = [c for point in latlng if point is not None for c in point]
    theirs = [
        int(r[axis]) * SEMICIRCLE
        for i, r in enumerate(decoded)
        if i not in gaps
        for axis in ("position_lat", "position_long")
    ]
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_real_recordings_and_a_manual_activity_land_from_one_archive(
    landing: LandingZone, tracks_archive: Path
) -> None:
    report = import_archive(tracks_archive, landing, timezone="America/Toronto", now=NOW)

    activities = {a["id"]: a for a in landed(landing, "activities")}
    assert set(activities) == set(TRACKS)
    assert activities[106]["manual"] is True and activities[101]["manual"] is False
    assert activities[105]["sport_type"] == "EBikeRide" and activities[106]["sport_type"] == "WeightTraining"
    # The Edge 500 file gives no local offset: the timezone setting does (Toronto in September: EDT, UTC-4).
    assert activities[101]["start_date_local"] == "2011-09-25T09:00:22Z"
    # The fenix 2 file does (activity.local_timestamp two hours ahead); it wins over the setting.
    assert (activities[102]["start_date_local"], activities[102]["utc_offset"]) == ("2015-08-15T16:45:08Z", 7200.0)
    streams = {s["activity_id"]: s["streams"] for s in landing_streams(landing)}
    assert set(streams) == {101, 102, 103, 104, 105}
    fenix = (realdata("tracks") / "activity-small-fenix2-run.fit").read_bytes()
    assert len(streams[102]["time"]["data"]) == fit_record_count(fenix)
    for activity_id, name in ((103, "cerknicko-jezero.gpx"), (104, "korita-zbevnica.gpx")):
        points = gpx_points(realdata("tracks", name))
        assert len(streams[activity_id]["latlng"]["data"]) == len(points)
        assert streams[activity_id]["latlng"]["data"][0] == [points[0][0], points[0][1]]
        assert streams[activity_id]["altitude"]["data"][0] == points[0][2]
        assert activities[activity_id]["start_latlng"] == [points[0][0], points[0][1]]
    # The TCX starts with blanks before <?xml; its three points as written in the file.
    assert streams[105]["time"]["data"] == [0, 5, 10]
    assert streams[105]["heartrate"]["data"] == [101, 110, 115]
    assert streams[105]["watts"]["data"] == [180, 200, None]
    assert streams[105]["latlng"]["data"] == [[52.5, 13.25], [52.5002, 13.2501], None]
    assert dict(report.files_parsed) == {"fit": 2, "gpx": 2, "tcx": 1}
    assert (report.manual_activities, report.files_missing, report.lines) == (1, 0, [])


def gpx_points(path: Path) -> list[tuple[float, float, float]]:
    """(lat, lon, ele) of every timed track point, read with ElementTree (GPX 1.0 namespace)."""
    ns = {"g": "http://www.topografix.com/GPX/1/0"}
    points = ET.parse(path).getroot().findall(".//g:trkpt", ns)
    return [
        (float(p.get("lat")), float(p.get("lon")), float(p.find("g:ele", ns).text))  # type: ignore[arg-type, union-attr]
        for p in points
        if p.find("g:time", ns) is not None
    ]


def landing_streams(landing: LandingZone) -> list[dict[str, Any]]:
    return good(landed(landing, "activity_streams"))


# ---- localized and older layouts ------------------------------------------------------------------------


def german_sample(tmp_path: Path) -> Path:
    """The real sample re-written as a German export: translated headers, day-first date, decimal commas."""
    mapping = json.loads(realdata(*ARCHIVE, "strava-csv-mapping-de-en.json").read_text(encoding="utf-8"))
    to_german = {english: german for german, english in mapping.items()}
    with realdata(*ARCHIVE, "activities.csv").open(encoding="utf-8", newline="") as handle:
        header, row = list(csv.reader(handle))[:2]
    german_row = []
    for name, value in zip(header, row, strict=True):
        if name == "Activity Date":
            value = "29.05.2022, 15:53:35"
        elif name != "Activity ID" and value.replace(".", "", 1).isdigit() and "." in value:
            value = value.replace(".", ",")
        german_row.append(value)
    archive = tmp_path / "german"
    files = {"activities/12866632127.fit.gz": realdata(*ARCHIVE, "activities", "12866632127.fit.gz").read_bytes()}
    german_header = [to_german.get(name, name) for name in header]
    return write_folder(archive, csv_text(german_header, [german_row]), files, athlete=SAMPLE_ATHLETE)


def test_german_headers_dates_and_decimal_commas_read_like_english(landing: LandingZone, tmp_path: Path) -> None:
    archive = german_sample(tmp_path)

    report = import_archive(archive, landing, now=NOW)

    (activity,) = landed(landing, "activities")
    assert picked(activity, SAMPLE_SUMMARY) == SAMPLE_SUMMARY
    # The built-in German table covers what the import reads; the other German names are listed, not fatal.
    assert any("does not know" in line and "Max. Steigung" in line for line in report.lines)


def test_a_header_map_file_translates_every_german_column(landing: LandingZone, tmp_path: Path) -> None:
    archive = german_sample(tmp_path)
    header_map = load_header_map(realdata(*ARCHIVE, "strava-csv-mapping-de-en.json"))

    report = import_archive(archive, landing, header_map=header_map, now=NOW)

    assert picked(landed(landing, "activities")[0], SAMPLE_SUMMARY) == SAMPLE_SUMMARY
    assert report.lines == [] and "headers translated" in report.layout


OLDER_CSV = """id,date,name,type,description,elapsed_time,distance,commute,gear,filename
1436542,2014-03-16 09:12:44,Morning Run,Run,,3121,10012.3,false,,activities/1436542.gpx
1436999,2014-03-18 17:02:10,Evening Ride,Ride,"windy, cold",5400,30500.0,true,Old Bike,
"""


def test_the_older_pre_2019_layout(landing: LandingZone, tmp_path: Path) -> None:
    gpx = realdata("tracks", "cerknicko-jezero.gpx").read_bytes()
    archive = write_folder(tmp_path / "old", OLDER_CSV, {"activities/1436542.gpx": gpx}, athlete=99)

    report = import_archive(archive, landing, now=NOW)

    activities = {a["id"]: a for a in landed(landing, "activities")}
    assert picked(activities[1436542], {"start_date": 0, "distance": 0, "elapsed_time": 0, "moving_time": 0}) == {
        "start_date": "2014-03-16T09:12:44Z", "distance": 10012.3, "elapsed_time": 3121, "moving_time": 3121,
    }  # fmt: skip
    ride = activities[1436999]
    assert (ride["commute"], ride["manual"], ride["distance"], ride["sport_type"]) == (True, True, 30500.0, "Ride")
    assert ride["_archive"]["description"] == "windy, cold" and ride["_archive"]["gear"] == "Old Bike"
    assert report.layout == "older" and report.files_parsed["gpx"] == 1 and report.lines == []


# ---- bad input: a clear report line or a quarantined record, the rest lands -------------------------------


def sample_row_csv(extra_rows: list[list[str]] | None = None) -> tuple[list[str], str]:
    with realdata(*ARCHIVE, "activities.csv").open(encoding="utf-8", newline="") as handle:
        header, row = list(csv.reader(handle))[:2]
    return header, csv_text(header, [row, *(extra_rows or [])])


def test_truncated_zip_lands_what_comes_before_the_damage(landing: LandingZone, tmp_path: Path) -> None:
    header = real_header()
    rows = [
        row_for(header, {"Activity ID": "1", "Activity Date": "Aug 15, 2015, 2:45:08 PM", "Activity Type": "Run",
                         "Filename": "activities/1.fit.gz"}),
        row_for(header, {"Activity ID": "2", "Activity Date": "Oct 3, 2010, 9:36:30 AM", "Activity Type": "Hike",
                         "Filename": "activities/2.gpx"}),
    ]  # fmt: skip
    tracks = realdata("tracks")
    whole = write_zip(
        tmp_path / "whole.zip",
        {
            "activities.csv": csv_text(header, rows).encode(),
            "profile.csv": b"Athlete ID\n5\n",
            "activities/1.fit.gz": gz((tracks / "activity-small-fenix2-run.fit").read_bytes()),
            "activities/2.gpx": (tracks / "korita-zbevnica.gpx").read_bytes(),
        },
    )
    cut_in = zipfile.ZipFile(whole).getinfo("export_1/activities/2.gpx").header_offset + 2_000
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole.read_bytes()[:cut_in])

    report = import_archive(truncated, landing, now=NOW)

    assert {a["id"] for a in landed(landing, "activities")} == {1, 2}
    assert [s["activity_id"] for s in landing_streams(landing)] == [1]
    assert "truncated.zip: not a complete zip" in report.lines[0] and "reading stopped" in report.lines[0]
    assert any("activities/2.gpx" in line and "damaged part" in line for line in report.lines)
    assert report.files_missing == 1


def test_truncated_zip_before_activities_csv_is_a_clear_error(landing: LandingZone, tmp_path: Path) -> None:
    incompressible = random.Random(1).randbytes(5_000)
    whole = write_zip(tmp_path / "whole.zip", {"activities/1.fit": incompressible, "activities.csv": b"x"})
    truncated = tmp_path / "cut.zip"
    truncated.write_bytes(whole.read_bytes()[:200])

    with pytest.raises(ArchiveError, match=r"no activities\.csv in this zip before the damage"):
        import_archive(truncated, landing, now=NOW)


def test_missing_activities_folder_lands_activities_without_streams(landing: LandingZone, tmp_path: Path) -> None:
    _, text = sample_row_csv()
    archive = write_folder(tmp_path / "no-files", text, {}, athlete=SAMPLE_ATHLETE)

    report = import_archive(archive, landing, now=NOW)

    (activity,) = landed(landing, "activities")
    assert activity["id"] == SAMPLE_ACTIVITY and "start_date_local" not in activity  # no FIT, no timezone given
    assert landed(landing, "activity_streams") == []
    assert "no activities/ folder in the archive: activities land without streams" in report.lines
    assert report.files_missing == 1


def test_unknown_file_type_and_corrupt_fit_are_quarantined_and_their_activities_land(
    landing: LandingZone, tmp_path: Path
) -> None:
    header = real_header()
    rows = [
        row_for(header, {"Activity ID": str(i), "Activity Date": "Apr 2, 2024, 6:00:00 AM", "Activity Type": "Run",
                         "Filename": name})
        for i, name in ((1, "activities/1.kml"), (2, "activities/2.fit"), (3, "activities/3.gpx"))
    ]  # fmt: skip
    fenix = realdata("tracks", "activity-small-fenix2-run.fit").read_bytes()
    files = {
        "activities/1.kml": b"<kml/>",
        "activities/2.fit": fenix[: len(fenix) // 2],
        "activities/3.gpx": realdata("tracks", "korita-zbevnica.gpx").read_bytes(),
        "activities/4.fit": fenix,  # no row names it
    }
    archive = write_folder(tmp_path / "bad-files", csv_text(header, rows), files, athlete=5)

    report = import_archive(archive, landing, now=NOW)

    assert {a["id"] for a in landed(landing, "activities")} == {1, 2, 3}
    assert [s["activity_id"] for s in landing_streams(landing)] == [3]
    reasons = rejected(landed(landing, "activity_streams"))
    assert sorted(reasons) == [
        "activities/1.kml: unknown activity file type .kml",
        "activities/2.fit: corrupt FIT: FitEOFError: " + reasons_of(reasons, "2.fit"),
    ]
    assert dict(report.files_failed) == {"unknown": 1, "fit": 1}
    assert any(line.startswith("activities/2.fit (activity 2): corrupt FIT") for line in report.lines)
    assert "1 file(s) in activities/ named by no row, ignored: activities/4.fit" in report.lines
    # Bronze quarantines the rejected records with the import's reason; the good stream set loads.
    (key,) = landing.list_files("strava", "activity_streams")
    parsed = parse_file(landing.store.read_bytes(key), STRAVA_ACTIVITY_STREAMS.format(SCHEMAS))
    assert len(parsed.records) == 1
    assert sorted(reason for _, _, reason in parsed.quarantined)[0] == (
        "rejected at import: activities/1.kml: unknown activity file type .kml"
    )


def reasons_of(reasons: list[str], name: str) -> str:
    """The library's own message after the fixed prefix (its wording is fitdecode's, not ours)."""
    (reason,) = [r for r in reasons if name in r]
    return reason.split("FitEOFError: ", 1)[1]


def test_csv_with_a_new_column_and_a_bad_row(landing: LandingZone, tmp_path: Path) -> None:
    header, text = sample_row_csv()
    lines = text.splitlines()
    good_row = next(csv.reader([lines[1]]))
    good_row[header.index("Max Speed")] = "NaN"  # a missing value, not a bad row
    bad = next(csv.reader([lines[1]]))
    bad[0], bad[1] = "12070555080", "someday"
    new_text = csv_text([*header, "Mood Score"], [[*good_row, "happy"], [*bad, "meh"]])
    fit = realdata(*ARCHIVE, "activities", "12866632127.fit.gz").read_bytes()
    archive = write_folder(tmp_path / "new-column", new_text, {"activities/12866632127.fit.gz": fit}, SAMPLE_ATHLETE)

    report = import_archive(archive, landing, now=NOW)

    records = landed(landing, "activities")
    assert [picked(r, SAMPLE_SUMMARY) for r in good(records)] == [{**SAMPLE_SUMMARY, "max_speed": None}]
    assert rejected(records) == [
        "activities.csv line 3: Activity Date 'someday' is not a date Strava writes (e.g. 'May 29, 2022, 3:53:35 PM')"
    ]
    assert report.lines[0] == "activities.csv: 1 column(s) this importer does not know, ignored: Mood Score"
    assert report.rows_quarantined == 1 and report.activities_landed == 1
    # In bronze: one good record, one quarantined with the import's reason.
    parsed = [
        parse_file(landing.store.read_bytes(key), STRAVA_ACTIVITIES.format(SCHEMAS))
        for key in landing.list_files("strava", "activities")
    ]
    assert sum(len(p.records) for p in parsed) == 1
    assert [reason for p in parsed for _, _, reason in p.quarantined] == [f"rejected at import: {rejected(records)[0]}"]


def test_athlete_id_from_the_option_when_there_is_no_profile(landing: LandingZone, tmp_path: Path) -> None:
    _, text = sample_row_csv()
    archive = write_folder(tmp_path / "no-profile", text, {}, athlete=None)

    with pytest.raises(MissingAthleteIdError, match="pass --athlete-id N"):
        import_archive(archive, landing, now=NOW)
    report = import_archive(archive, landing, athlete_id=42, now=NOW)

    assert report.athlete_id == 42 and landed(landing, "activities")[0]["athlete"] == {"id": 42}


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (lambda outside: Path("profile.csv"), "profile.csv cannot be read: a symbolic link in a loop"),
        (lambda outside: outside, "profile.csv is refused: a symbolic link to .*, outside the export folder"),
    ],
    ids=["loop", "out-of-the-export"],
)
def test_a_profile_that_cannot_be_read_is_named_and_the_option_gives_the_id(
    link: Callable[[Path], Path], reason: str, landing: LandingZone, tmp_path: Path
) -> None:
    """profile.csv as a loop of links was taken for no profile.csv ("pass --athlete-id"), one out of the export stopped
    the import even with --athlete-id: both are named, and the option's id is used (the outside file is not read)."""
    _, text = sample_row_csv()
    archive = write_folder(tmp_path / "odd-profile", text, {}, athlete=None)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("Athlete ID,First Name\n999,Eve\n", encoding="utf-8")
    (archive / "profile.csv").symlink_to(link(outside))  # to itself, or out of the export

    with pytest.raises(MissingAthleteIdError, match=f"{reason}.*; pass --athlete-id N"):
        import_archive(archive, landing, now=NOW)
    report = import_archive(archive, landing, athlete_id=42, now=NOW)

    assert report.athlete_id == 42 and landed(landing, "activities")[0]["athlete"] == {"id": 42}
    notes = [line for line in report.lines if "profile.csv" in line]
    assert len(notes) == 1 and re.search(f"{reason}.*; using --athlete-id 42$", notes[0]), report.lines


def test_an_unknown_timezone_is_a_clear_error(landing: LandingZone) -> None:
    with pytest.raises(ArchiveError, match="'Mars/Olympus' is no IANA time zone"):
        import_archive(realdata(*ARCHIVE), landing, timezone="Mars/Olympus", now=NOW)


def test_a_folder_without_activities_csv_is_no_archive(landing: LandingZone, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveError, match=r"no activities\.csv in this folder"):
        import_archive(tmp_path / "empty", landing, now=NOW)


# ---- the sync watermark ---------------------------------------------------------------------------------


def test_import_moves_the_watermark_only_forward(landing: LandingZone) -> None:
    report = import_archive(realdata(*ARCHIVE), landing, now=NOW)

    state = load_state(landing.store, "strava")
    assert state["watermark"] == "2022-05-29T15:53:35Z" == report.watermark_after
    assert state["recent"] == {str(SAMPLE_ACTIVITY): int(datetime(2022, 5, 29, 15, 53, 35, tzinfo=UTC).timestamp())}

    save_state(landing.store, "strava", {**state, "watermark": "2024-01-01T00:00:00Z"})
    again = import_archive(realdata(*ARCHIVE), landing, now=NOW)

    assert load_state(landing.store, "strava")["watermark"] == "2024-01-01T00:00:00Z"
    assert any("already at or after" in line for line in again.lines)


@pytest.mark.parametrize("text", ["1e309", "-1e400", "inf"])
def test_a_number_beyond_a_double_is_a_bad_row_not_a_missing_value(text: str) -> None:
    from lakehouse.sources.strava_archive import BadRowError, parse_number

    with pytest.raises(BadRowError, match=f"Distance '{text}' is not a finite number"):
        parse_number(text, "Distance")
    assert parse_number("-0", "Distance") == 0.0
