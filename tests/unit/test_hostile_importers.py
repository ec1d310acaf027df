"""Hostile user files the importers and the bronze parser must survive: pure Python, no Spark.

Each case crashed with a bare exception, or lost a whole recording to one bad value, before its fix.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lakehouse.bronze.entities import MAPMYRUN_WORKOUTS, STRAVA_ACTIVITIES
from lakehouse.bronze.parse import parse_file
from lakehouse.config import SCHEMAS_DIR
from lakehouse.landing import LandingZone
from lakehouse.sources import takeout, zip_members
from lakehouse.sources.activity_files import ActivityFileError, read_recording
from lakehouse.sources.mapmyrun import MalformedCsvError, import_csv
from lakehouse.sources.strava_archive import ArchiveError, import_archive, linked_file, render_report
from lakehouse.storage import LocalStore

BIG_FIELD = "x" * 200_000  # past csv's 131,072-character field limit
OLDER_HEADER = "id,date,name,type,description,elapsed_time,distance,commute,gear,filename"
MMR_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (km),Workout Time (seconds),"
    "Avg Pace (min/km),Max Pace (min/km),Avg Speed (km/h),Max Speed (km/h),Avg Heart Rate,Steps,Notes,Source,Link"
)
MMR_ROW = (
    '"Oct. 5, 2020","Oct. 5, 2020",Run,230,3.3,1394,6.9,0.6,8.5,9.6,0,3883,{notes},iPhone,'
    "http://www.mapmyrun.com/workout/1"
)


def gpx(points: str) -> bytes:
    return (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        f"{points}</trkseg></trk></gpx>"
    ).encode()


def tcx(points: str) -> bytes:
    return (
        '<?xml version="1.0"?><TrainingCenterDatabase '
        'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"><Activities><Activity Sport="Running">'
        '<Id>2024-01-01T00:00:00Z</Id><Lap StartTime="2024-01-01T00:00:00Z"><TotalTimeSeconds>1</TotalTimeSeconds>'
        "<DistanceMeters>1</DistanceMeters><Calories>1</Calories><Intensity>Active</Intensity>"
        f"<TriggerMethod>Manual</TriggerMethod><Track>{points}</Track></Lap></Activity></Activities>"
        "</TrainingCenterDatabase>"
    ).encode()


def landing(tmp_path: Path) -> LandingZone:
    return LandingZone(LocalStore(str(tmp_path / "landing")))


# ---- recorded activity files ------------------------------------------------------------------------------


def test_a_nan_elevation_or_infinite_latitude_in_a_gpx_is_a_missing_sample_not_nan() -> None:
    recording = read_recording(
        "a.gpx",
        gpx(
            '<trkpt lat="50.5" lon="7.25"><ele>NaN</ele><time>2024-01-01T00:00:00Z</time></trkpt>'
            '<trkpt lat="inf" lon="7.25"><ele>12.5</ele><time>2024-01-01T00:00:02Z</time></trkpt>'
        ),
    )
    assert recording.streams["time"]["data"] == [0, 2]
    assert recording.streams["altitude"]["data"] == [None, 12.5]
    assert recording.streams["latlng"]["data"] == [[50.5, 7.25], None]
    json.dumps(recording.streams, allow_nan=False)  # no NaN or Infinity reaches the landing zone


def test_nan_position_altitude_and_distance_in_a_tcx_are_left_out() -> None:
    point = (
        "<Trackpoint><Time>2024-01-01T00:00:00Z</Time><Position><LatitudeDegrees>NaN</LatitudeDegrees>"
        "<LongitudeDegrees>2</LongitudeDegrees></Position><AltitudeMeters>nan</AltitudeMeters>"
        "<DistanceMeters>inf</DistanceMeters><HeartRateBpm><Value>100</Value></HeartRateBpm></Trackpoint>"
    )
    recording = read_recording("a.tcx", tcx(point))
    assert sorted(recording.streams) == ["heartrate", "time"]
    assert recording.streams["heartrate"]["data"] == [100]


def _declared(data: bytes, encoding: str, codec: str) -> bytes:
    """The same XML declaring `encoding` and saved in `codec` (`utf-16` writes a byte order mark)."""
    text = data.decode().replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>', 1)
    return (
        text.replace("<trkseg>", "<name>Caf\u00e9</name><trkseg>", 1)
        .replace("<Id>", "<Notes>Caf\u00e9</Notes><Id>", 1)
        .encode(codec)
    )


def _two_points(make: Any) -> bytes:
    """A GPX of two positions or a TCX of two heart rates, 5 s apart (checked by `_assert_two_points`)."""
    return make(
        '<trkpt lat="50.5" lon="7.25"><time>2024-01-01T00:00:00Z</time></trkpt>'
        '<trkpt lat="50.5" lon="7.5"><time>2024-01-01T00:00:05Z</time></trkpt>'
        if make is gpx
        else "<Trackpoint><Time>2024-01-01T00:00:00Z</Time><HeartRateBpm><Value>100</Value></HeartRateBpm>"
        "</Trackpoint><Trackpoint><Time>2024-01-01T00:00:05Z</Time><HeartRateBpm><Value>101</Value></HeartRateBpm>"
        "</Trackpoint>"
    )


def _assert_two_points(make: Any, data: bytes) -> None:
    recording = read_recording(f"a.{make.__name__}", data)
    assert recording.streams["time"]["data"] == [0, 5]
    if make is gpx:
        assert recording.streams["latlng"]["data"] == [[50.5, 7.25], [50.5, 7.5]]
    else:
        assert recording.streams["heartrate"]["data"] == [100, 101]


@pytest.mark.parametrize(("encoding", "codec"), [("ISO-8859-1", "latin-1"), ("UTF-16", "utf-16")])
@pytest.mark.parametrize("make", [gpx, tcx])
def test_a_file_in_the_encoding_it_declares_is_read(encoding: str, codec: str, make: Any) -> None:
    """A Latin-1 GPX (0xE9 for the name's e-acute) or a UTF-16 one (BOM) was a corrupt GPX: decoded as UTF-8."""
    data = _declared(_two_points(make), encoding, codec)
    assert data.startswith(b"\xff\xfe") if codec == "utf-16" else b"Caf\xe9<" in data  # BOM, or Latin-1 e-acute
    _assert_two_points(make, data)


@pytest.mark.parametrize(("codec", "first_bytes"), [("utf-16-le", b"<\x00?\x00"), ("utf-16-be", b"\x00<\x00?")])
@pytest.mark.parametrize("make", [gpx, tcx])
def test_a_utf16_file_without_a_byte_order_mark_is_read(codec: str, first_bytes: bytes, make: Any) -> None:
    """`<?` in UTF-16 names the byte order (XML 1.0 Appendix F): such a GPX was a corrupt GPX, decoded as UTF-8.
    A TCX was read already (expat detects it): kept so."""
    data = _declared(_two_points(make), "UTF-16", codec)
    assert data.startswith(first_bytes)  # no byte order mark
    _assert_two_points(make, data)


@pytest.mark.parametrize(
    ("codec", "first_bytes"),
    [("utf-16", b"\xff\xfe \x00"), ("utf-16-le", b" \x00\r\x00"), ("utf-16-be", b"\x00 \x00\r")],
)
@pytest.mark.parametrize("make", [gpx, tcx])
def test_blanks_before_a_utf16_declaration_are_left_out_as_in_utf8(codec: str, first_bytes: bytes, make: Any) -> None:
    """Blanks before `<?xml` (Strava's TCX files have them) were stripped as UTF-8 bytes: a UTF-16 TCX with them
    was a corrupt TCX (with a byte order mark or without), a UTF-16 GPX without the mark one too."""
    data = _declared(b" \r\n\t" + _two_points(make), "UTF-16", codec)
    assert data.startswith(first_bytes)
    _assert_two_points(make, data)


@pytest.mark.parametrize(
    ("start", "codec", "first_bytes"),
    [
        ("\ufeff".encode(), "utf-32-le", b"\xff\xfe\x00\x00<\x00\x00\x00"),  # byte order mark, little-endian
        ("\ufeff".encode(), "utf-32-be", b"\x00\x00\xfe\xff\x00\x00\x00<"),
        (b"", "utf-32-le", b"<\x00\x00\x00?\x00\x00\x00"),  # no mark: `<?` in UTF-32 names the byte order
        (b"", "utf-32-be", b"\x00\x00\x00<\x00\x00\x00?"),
        (b" \r\n\t", "utf-32-le", b" \x00\x00\x00\r\x00\x00\x00"),  # blanks before `<?xml`, as Strava's TCX have
        ("\ufeff \r\n".encode(), "utf-32-be", b"\x00\x00\xfe\xff\x00\x00\x00 "),
    ],
)
@pytest.mark.parametrize("make", [gpx, tcx])
def test_a_utf32_file_is_read_with_or_without_a_byte_order_mark(
    start: bytes, codec: str, first_bytes: bytes, make: Any
) -> None:
    """UTF-32's mark `FF FE 00 00` was taken for UTF-16's `FF FE`, and UTF-32 without a mark was read as UTF-8: a
    corrupt GPX or TCX. XML 1.0 Appendix F tells UTF-32 and its byte order from the first four bytes."""
    data = _declared(start + _two_points(make), "UTF-32", codec)
    assert data.startswith(first_bytes)
    _assert_two_points(make, data)


@pytest.mark.parametrize(
    ("start", "encoding", "codec"),
    [
        (b" \r\n\t", "UTF-8", "utf-8"),  # read before: kept so
        (b"\xef\xbb\xbf\n ", "UTF-8", "utf-8"),  # read before: kept so
        (b"\xef\xbb\xbf\xef\xbb\xbf\n ", "UTF-8", "utf-8"),  # a mark twice: was a corrupt GPX (a TCX was read)
        (b"\xef\xbb\xbf", "ISO-8859-1", "latin-1"),  # a UTF-8 mark on a Latin-1 file: likewise
    ],
)
@pytest.mark.parametrize("make", [gpx, tcx])
def test_blanks_and_utf8_byte_order_marks_before_the_declaration_are_left_out(
    start: bytes, encoding: str, codec: str, make: Any
) -> None:
    _assert_two_points(make, start + _declared(_two_points(make), encoding, codec))


def test_a_gpx_declaring_an_unknown_encoding_is_a_file_error() -> None:
    data = gpx("").replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="klingon-8"?>')
    with pytest.raises(ActivityFileError, match="corrupt GPX: unknown encoding: klingon-8"):
        read_recording("a.gpx", data)


def _trackpoint(time: str, bpm: int) -> str:
    return f"<Trackpoint>{time}<HeartRateBpm><Value>{bpm}</Value></HeartRateBpm></Trackpoint>"


@pytest.mark.parametrize(
    ("odd", "times", "bpms"),
    [
        ("<Time/>", [0, 2, 3], [100, 102, 103]),  # skipped, the rest load
        ("<Time> </Time>", [0, 2, 3], [100, 102, 103]),
        ("", [0, 2, 3], [100, 102, 103]),  # no <Time>: already skipped in the middle of a file
        ("<Time>2024-01-01T00:00:01</Time>", [0, 1, 2, 3], [100, 101, 102, 103]),  # no zone: UTC, as in a GPX
        ("<Time>2024-01-01T00:00:01.5</Time>", [0, 2, 2, 3], [100, 101, 102, 103]),  # 1.5 s rounds to 2
    ],
)
def test_a_tcx_trackpoint_without_a_readable_time_is_skipped_not_the_file(odd: str, times: list, bpms: list) -> None:
    def at(second: int) -> str:
        return f"<Time>2024-01-01T00:00:0{second}Z</Time>"

    points = _trackpoint(at(0), 100) + _trackpoint(odd, 101) + _trackpoint(at(2), 102) + _trackpoint(at(3), 103)
    recording = read_recording("a.tcx", tcx(points))
    assert (recording.streams["time"]["data"], recording.streams["heartrate"]["data"]) == (times, bpms)
    assert recording.start == datetime(2024, 1, 1, tzinfo=UTC)


def test_a_tcx_without_a_time_on_its_first_trackpoint_loads_the_rest() -> None:
    """tcxreader's duration (last time - first time) raised TypeError on it: the whole file was rejected."""
    points = _trackpoint("", 99) + "".join(
        _trackpoint(f"<Time>2024-01-01T00:00:0{s}Z</Time>", 100 + s) for s in (0, 2, 3)
    )
    recording = read_recording("a.tcx", tcx(points))
    assert (recording.streams["time"]["data"], recording.streams["heartrate"]["data"]) == ([0, 2, 3], [100, 102, 103])


def test_a_tcx_with_another_error_besides_a_bad_time_is_still_rejected_with_its_first_error() -> None:
    points = _trackpoint("<Time/>", 101) + _trackpoint("<Time>2024-01-01T00:00:02Z</Time>", 102)
    data = tcx(points).replace(b"<Calories>1</Calories>", b"<Calories>x</Calories>")
    with pytest.raises(ActivityFileError, match=r"^corrupt TCX: ValueError: could not convert string to float: 'x'$"):
        read_recording("a.tcx", data)
    with pytest.raises(ActivityFileError, match=r"^no timed samples in the TCX file$"):  # its only point dropped
        read_recording("a.tcx", tcx(_trackpoint("<Time>never</Time>", 101)))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.gpx", gpx('<trkpt lat="1" lon="2"><time>0001-01-01T00:00:00+01:00</time></trkpt>')),
        ("a.tcx", tcx("<Trackpoint><Time>0001-01-01T00:00:00+01:00</Time></Trackpoint>")),
    ],
)
def test_a_time_before_year_one_utc_is_a_file_error_not_an_overflow(name: str, data: bytes) -> None:
    with pytest.raises(ActivityFileError, match="out of range"):
        read_recording(name, data)


# ---- the Strava archive -------------------------------------------------------------------------------------


def _two_runs(archive: Path, folder: str = "", sep: str = "/") -> None:
    """A zip of two runs, each with its GPX file: `activities.csv` and `activities<sep>N.gpx` under `folder`; the
    CSV names the first file with `sep`, the second with `/`."""
    csv_text = (
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities{sep}1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,activities/2.gpx\n"
    )
    point = '<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>'
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{folder}activities.csv", csv_text)
        zf.writestr(f"{folder}activities{sep}1.gpx", gpx(point))
        zf.writestr(f"{folder}activities{sep}2.gpx", gpx(point))


def test_an_encrypted_activity_file_is_rejected_alone_and_the_import_goes_on(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    _two_runs(archive)
    data = bytearray(archive.read_bytes())
    name = b"activities/1.gpx"
    local, central = data.index(name + b"<?xml"), data.rindex(name)  # (the CSV names it first)
    data[local - 30 + 6] |= 1  # general purpose flag bit 0: encrypted (local header, then central directory)
    data[central - 46 + 8] |= 1
    archive.write_bytes(bytes(data))

    report = import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")

    assert report.activities_landed == 2
    assert report.files_parsed["gpx"] == 1
    assert report.files_failed["unreadable"] == 1
    assert any("activities/1.gpx (activity 1): cannot read from the archive" in line for line in report.lines)


def test_a_csv_field_past_the_csv_limit_is_an_archive_error_naming_the_line(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("activities.csv", f'{OLDER_HEADER}\n1,2024-06-01 06:00:00,"{BIG_FIELD}\n')
    with pytest.raises(ArchiveError, match=r"activities\.csv line 2: not readable as CSV"):
        import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")


def _landed(tmp_path: Path, source: str, entity: str) -> list[dict]:
    """Every record landed under `<source>/<entity>/`, file by file."""
    files = sorted((tmp_path / "landing" / source / entity).rglob("*.json"))
    return [record for path in files for record in json.loads(path.read_text())]


def test_a_zip_with_backslash_names_reads_as_with_slashes(tmp_path: Path) -> None:
    """PowerShell 5's Compress-Archive writes `export_123\\activities.csv`; a row may name `activities\\1.gpx`."""
    archive = tmp_path / "export.zip"
    _two_runs(archive, folder="export_123\\", sep="\\")

    report = import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.activities_landed, report.files_parsed["gpx"], report.files_missing) == (2, 2, 0)
    assert report.lines == []
    activities = _landed(tmp_path, "strava", "activities")
    assert [(a["id"], a["_archive"]["filename"], a["manual"]) for a in activities] == [
        (1, "activities/1.gpx", False), (2, "activities/2.gpx", False)
    ]  # fmt: skip
    streams = _landed(tmp_path, "strava", "activity_streams")
    assert [(s["activity_id"], s["_file"]) for s in streams] == [(1, "activities/1.gpx"), (2, "activities/2.gpx")]


def _import_csv(tmp_path: Path, csv_text: str) -> Any:
    """`csv_text` as the activities.csv of a zipped archive, imported for athlete 5."""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("activities.csv", csv_text)
    return import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")


@pytest.mark.parametrize("nan", ["NaN", "nan", "-NaN"])
def test_a_nan_distance_is_a_bad_row_like_infinity_not_0_m(tmp_path: Path, nan: str) -> None:
    """`distance` is required: a missing one lands as 0.0, so NaN read as missing was a run of 0 m."""
    report = _import_csv(
        tmp_path,
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,{nan},false,,\n"
        "2,2024-06-01 07:00:00,B,Run,,10,inf,false,,\n3,2024-06-01 08:00:00,C,Workout,,10,,false,,\n",
    )

    assert (report.rows_read, report.activities_landed, report.rows_quarantined) == (3, 1, 2)
    assert report.lines == [
        f"activities.csv line 2: quarantined: Distance {nan!r} is not a finite number",
        "activities.csv line 3: quarantined: Distance 'inf' is not a finite number",
    ]
    landed = [(a["id"], a["distance"]) for a in _landed(tmp_path, "strava", "activities") if "_rejected" not in a]
    assert landed == [(3, 0.0)]  # an empty Distance is still none recorded: 0.0, as the API sends


def test_a_nan_time_is_a_bad_row_like_infinity_not_the_other_time(tmp_path: Path) -> None:
    """A NaN Elapsed or Moving Time was read as missing: the other time stood in, or 0 s for both, unreported."""
    report = _import_csv(
        tmp_path,
        "id,date,name,type,description,elapsed_time,moving_time,distance,commute,gear,filename\n"
        "1,2024-06-01 06:00:00,A,Run,,NaN,5,10,false,,\n"
        "2,2024-06-01 07:00:00,B,Run,,10,nan,10,false,,\n"
        "3,2024-06-01 08:00:00,C,Run,,NaN,NaN,10,false,,\n"
        "4,2024-06-01 09:00:00,D,Run,,Infinity,5,10,false,,\n"
        "5,2024-06-01 10:00:00,E,Run,,,7,10,false,,\n",
    )

    assert (report.rows_read, report.activities_landed, report.rows_quarantined) == (5, 1, 4)
    assert report.lines == [
        "activities.csv line 2: quarantined: Elapsed Time 'NaN' is not a finite number",
        "activities.csv line 3: quarantined: Moving Time 'nan' is not a finite number",
        "activities.csv line 4: quarantined: Elapsed Time 'NaN' is not a finite number",
        "activities.csv line 5: quarantined: Elapsed Time 'Infinity' is not a finite number",
    ]
    landed = [a for a in _landed(tmp_path, "strava", "activities") if "_rejected" not in a]
    assert [(a["id"], a["elapsed_time"], a["moving_time"]) for a in landed] == [(5, 7, 7)]  # empty: the other time


def _rows_naming(outside: Path) -> str:
    """activities.csv of four runs: the second and third name a file outside the export, the others their own."""
    return (
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,../../outside.gpx\n"
        f"3,2024-06-01 08:00:00,C,Run,,10,10,false,,{outside}\n"
        "4,2024-06-01 09:00:00,D,Run,,10,10,false,,activities/4.gpx\n"
    )


def test_an_unpacked_archive_reads_no_file_outside_its_folder(tmp_path: Path) -> None:
    """A row naming `../../outside.gpx`, an absolute path, or a symlink out of the folder had that file read."""
    outside = tmp_path / "outside.gpx"
    outside.write_bytes(gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>'))
    export = tmp_path / "unpacked" / "export_5"
    (export / "activities").mkdir(parents=True)
    (export / "activities.csv").write_text(_rows_naming(outside))
    (export / "activities" / "1.gpx").write_bytes(outside.read_bytes())
    (export / "activities" / "4.gpx").symlink_to(outside)

    report = import_archive(export, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.activities_landed, report.files_parsed["gpx"], report.files_missing) == (4, 1, 0)
    assert report.files_failed == {"refused": 3}
    assert report.lines == [
        "../../outside.gpx (activity 2): refused: a path with '..', which may lead out of the archive; "
        "the activity lands without streams",
        f"{outside} (activity 3): refused: an absolute path, outside the archive; the activity lands without streams",
        f"activities/4.gpx (activity 4): refused: a symbolic link to {outside}, outside the export folder; "
        "the activity lands without streams",
    ]
    rejected = sorted((s["activity_id"], "_rejected" in s) for s in _landed(tmp_path, "strava", "activity_streams"))
    assert rejected == [(1, False), (2, True), (3, True), (4, True)]
    assert re.search(r"│ files refused\s+│\s+3 │", render_report(report))  # not "REFUSED files failed"


def test_a_zip_refuses_the_same_names_as_a_folder(tmp_path: Path) -> None:
    """In a zip such a name was a missing file (or the zip's own member of that name): now refused alike."""
    outside = tmp_path / "outside.gpx"
    archive = tmp_path / "export.zip"
    point = gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>')
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("activities.csv", _rows_naming(outside))
        zf.writestr("activities/1.gpx", point)
        zf.writestr("activities/4.gpx", point)
        zf.writestr("../../outside.gpx", point)

    report = import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.activities_landed, report.files_parsed["gpx"], report.files_missing) == (4, 2, 0)
    assert report.files_failed == {"refused": 2}
    assert [line.split(" (activity")[0] for line in report.lines if "refused" in line] == [
        "../../outside.gpx", str(outside)
    ]  # fmt: skip


def test_a_symbolic_link_to_a_folder_in_an_unpacked_archive_is_followed_inside_and_refused_out(
    tmp_path: Path,
) -> None:
    """`rglob` passed over a link to a folder without a word: a file there that no row names was never reported,
    nor a link leading out of the export or back into a folder holding it."""
    point = gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "3.gpx").write_bytes(point)
    (elsewhere / "8.gpx").write_bytes(point)
    export = tmp_path / "unpacked" / "export_5"
    (export / "activities").mkdir(parents=True)
    (export / "backup").mkdir()
    (export / "activities.csv").write_text(
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,activities/2024/2.gpx\n"
        "3,2024-06-01 08:00:00,C,Run,,10,10,false,,activities/out/3.gpx\n"
    )
    (export / "activities" / "1.gpx").write_bytes(point)
    (export / "backup" / "2.gpx").write_bytes(point)
    (export / "backup" / "9.gpx").write_bytes(point)  # named by no row
    (export / "activities" / "2024").symlink_to("../backup")  # inside the export: followed
    (export / "activities" / "again").symlink_to(".")  # activities/ itself: a loop
    (export / "activities" / "out").symlink_to(elsewhere)  # out of the export: refused

    report = import_archive(export, landing(tmp_path), athlete_id=5, run_id="r1")

    outside = elsewhere.resolve()
    assert report.lines == [
        f"activities/out/3.gpx (activity 3): refused: a symbolic link to {outside / '3.gpx'}, outside the export "
        "folder; the activity lands without streams",
        "activities/again: a symbolic link to activities/, a folder holding it (a loop): not followed",
        f"activities/out: refused: a symbolic link to {outside}, outside the export folder; nothing in it is read",
        "1 file(s) in activities/ named by no row, ignored: activities/2024/9.gpx",
    ]
    assert (report.activities_landed, report.files_parsed["gpx"], report.files_failed) == (3, 2, {"refused": 1})
    assert (report.links_refused, report.ok) == (1, False)
    assert re.search(r"│ links refused \(out of the export\)\s+│\s+1 │", render_report(report))


def test_an_unpacked_archive_named_through_a_symbolic_link_is_read_as_the_folder_it_leads_to(tmp_path: Path) -> None:
    """`~/exports/strava -> /data/export_123`: the user named the link, so the folder it leads to is the export; a
    link inside it to a file or folder of that folder (also one spelled through the user's link) is read, a link
    out of it refused."""
    point = gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>')
    real = tmp_path / "data" / "export_123"
    (real / "activities").mkdir(parents=True)
    (real / "backup").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (real / "activities.csv").write_text(
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,activities/2024/2.gpx\n"
        "3,2024-06-01 08:00:00,C,Run,,10,10,false,,activities/3.gpx\n"
    )
    (real / "activities" / "1.gpx").write_bytes(point)
    (real / "backup" / "2.gpx").write_bytes(point)
    (real / "tracks").mkdir()
    (real / "tracks" / "3.gpx").write_bytes(point)
    (tmp_path / "exports").mkdir()
    named = tmp_path / "exports" / "strava"
    named.symlink_to("../data/export_123")
    (real / "activities" / "2024").symlink_to("../backup")  # a folder inside: followed
    (real / "activities" / "3.gpx").symlink_to(named / "tracks" / "3.gpx")  # a file inside, through the user's link
    (real / "activities" / "out").symlink_to(tmp_path / "elsewhere")  # out of the export: refused

    report = import_archive(named, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.activities_landed, report.files_parsed["gpx"], report.files_failed, report.files_missing) == (
        3, 3, {}, 0
    )  # fmt: skip
    assert report.lines == [
        f"activities/out: refused: a symbolic link to {(tmp_path / 'elsewhere').resolve()}, outside the export "
        "folder; nothing in it is read"
    ]
    assert report.links_refused == 1


def test_a_folder_holding_the_export_only_through_a_link_says_which_folder_to_name(tmp_path: Path) -> None:
    """`~/exports` named, `~/exports/strava -> /data/export_123`: "no activities.csv in this folder; is it a Strava
    archive?" (`Path.rglob` passes over the link). The error now names the folder to import; a loop of links beside
    it ends the search, and one to a large tree is searched a bounded number of folders deep."""
    real = tmp_path / "data" / "export_123"
    real.mkdir(parents=True)
    (real / "activities.csv").write_text(f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,\n")
    exports = tmp_path / "exports"
    (exports / "empty").mkdir(parents=True)
    (exports / "ring").symlink_to("ring")  # a loop of links
    (exports / "up").symlink_to(".")  # the folder holding it
    (exports / "strava").symlink_to("../data/export_123")

    with pytest.raises(ArchiveError) as raised:
        import_archive(exports, landing(tmp_path), athlete_id=5, run_id="r1")
    assert str(raised.value) == (
        f"{exports}: no activities.csv in this folder; strava leads through a symbolic link to {real.resolve()}, "
        "which holds one: import that folder"
    )
    assert import_archive(real, landing(tmp_path), athlete_id=5, run_id="r1").activities_landed == 1
    (exports / "strava").unlink()
    with pytest.raises(ArchiveError, match=r"no activities\.csv in this folder; is it a Strava archive\?$"):
        import_archive(exports, landing(tmp_path), athlete_id=5, run_id="r1")
    deep = exports / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "strava").symlink_to(real)
    assert linked_file(exports, "activities.csv") == deep / "strava" / "activities.csv"
    assert linked_file(exports, "activities.csv", max_folders=3) is None  # gave up before that deep


def test_a_file_a_row_names_through_a_loop_of_links_is_named_as_such_not_missing(tmp_path: Path) -> None:
    """`Path.is_file` says False for a loop of links, so the row's file was reported "not in the archive"."""
    point = gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>')
    export = tmp_path / "export_5"
    (export / "activities").mkdir(parents=True)
    (export / "activities.csv").write_text(
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,activities/2.gpx\n"
        "3,2024-06-01 08:00:00,C,Run,,10,10,false,,activities/ring/3.gpx\n"
    )
    (export / "activities" / "1.gpx").write_bytes(point)
    (export / "activities" / "2.gpx").symlink_to("2.gpx")  # the file itself: a loop
    (export / "activities" / "ring").symlink_to("ring")  # a folder on its way: a loop

    report = import_archive(export, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.activities_landed, report.files_parsed["gpx"], report.files_missing) == (3, 1, 0)
    assert report.files_failed == {"unreadable": 2}
    assert report.lines == [
        "activities/2.gpx (activity 2): a symbolic link in a loop of links, leading to nothing: not read; "
        "the activity lands without streams",
        "activities/ring/3.gpx (activity 3): a symbolic link in a loop of links, leading to nothing: not read; "
        "the activity lands without streams",
        "activities/2.gpx: a symbolic link in a loop of links, leading to nothing: not read",
        "activities/ring: a symbolic link in a loop of links, leading to nothing: not read",
    ]
    rejected = sorted((s["activity_id"], "_rejected" in s) for s in _landed(tmp_path, "strava", "activity_streams"))
    assert rejected == [(1, False), (2, True), (3, True)]


def test_a_link_to_a_file_in_an_unpacked_archive_is_a_second_name_read_once(tmp_path: Path) -> None:
    """Two rows naming one file by two names (one a symbolic link to the other) landed its streams twice, and a
    file named only through a link was reported as named by no row."""
    point = gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>')
    export = tmp_path / "export_5"
    (export / "activities").mkdir(parents=True)
    (export / "activities.csv").write_text(
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,activities/1b.gpx\n"
        "3,2024-06-01 08:00:00,C,Run,,10,10,false,,activities/3b.gpx\n"
    )
    (export / "activities" / "1.gpx").write_bytes(point)
    (export / "activities" / "3.gpx").write_bytes(point)
    (export / "activities" / "1b.gpx").symlink_to("1.gpx")
    (export / "activities" / "3b.gpx").symlink_to(export / "activities" / "3.gpx")

    report = import_archive(export, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.activities_landed, report.files_parsed["gpx"], report.streams_landed) == (3, 2, 2)
    assert (report.files_failed, report.files_missing, report.links_refused, report.ok) == ({}, 0, 0, True)
    assert report.lines == [
        "activities.csv: activities/1b.gpx and activities/1.gpx, one file (a symbolic link), named by two rows: "
        "its streams go to the first (1x)",
        "activities/1b.gpx: a symbolic link to the same file as activities/1.gpx: listed once, as activities/1.gpx",
        "activities/3b.gpx: a symbolic link to the same file as activities/3.gpx: listed once, as activities/3.gpx",
    ]
    assert sorted(s["activity_id"] for s in _landed(tmp_path, "strava", "activity_streams")) == [1, 3]


def _cut_central_directory(archive: Path) -> None:
    """Drop the zip's central directory (a download cut short): the archive is then salvaged front to back."""
    data = archive.read_bytes()
    archive.write_bytes(data[: data.index(b"PK\x01\x02")])


@pytest.mark.parametrize("damaged", [False, True])
def test_an_activity_file_the_zip_holds_twice_is_read_once(tmp_path: Path, damaged: bool) -> None:
    archive = tmp_path / "export.zip"
    csv_text = f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
    point = '<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>'
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("activities.csv", csv_text)
        zf.writestr("activities/1.gpx", gpx(point))
        zf.writestr("activities/1.gpx", gpx(point))
    if damaged:
        _cut_central_directory(archive)

    report = import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.files_parsed["gpx"], report.streams_landed) == (1, 1)
    assert any("salvaged the members before the damage" in line for line in report.lines) == damaged
    assert "1 name(s) more than once in the zip, each read once: activities/1.gpx" in report.lines
    assert len(_landed(tmp_path, "strava", "activity_streams")) == 1


@pytest.mark.parametrize("damaged", [False, True])
def test_a_file_in_another_folder_of_the_zip_is_not_the_exports_own(tmp_path: Path, damaged: bool) -> None:
    """`other_12/` is as long as `export_1/`: a salvaged zip read `other_12/activities/2.gpx` as the export's own
    `activities/2.gpx` (and `other_12/activities/1.gpx` as a second copy of `activities/1.gpx`)."""
    archive = tmp_path / "export.zip"
    csv_text = (
        f"{OLDER_HEADER}\n1,2024-06-01 06:00:00,A,Run,,10,10,false,,activities/1.gpx\n"
        "2,2024-06-01 07:00:00,B,Run,,10,10,false,,activities/2.gpx\n"
    )
    own = gpx('<trkpt lat="1" lon="2"><time>2024-06-01T06:00:00Z</time></trkpt>')
    other = gpx('<trkpt lat="3" lon="4"><time>2024-06-01T06:00:00Z</time></trkpt>')
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("other_12/activities/1.gpx", other)
        zf.writestr("other_12/activities/2.gpx", other)
        zf.writestr("export_1/activities.csv", csv_text)
        zf.writestr("export_1/activities/1.gpx", own)
    if damaged:
        _cut_central_directory(archive)

    report = import_archive(archive, landing(tmp_path), athlete_id=5, run_id="r1")

    assert (report.files_parsed["gpx"], report.streams_landed, report.files_missing) == (1, 1, 1)
    where = " (or after the damaged part)" if damaged else ""
    assert (
        f"1 file(s) named in activities.csv are not in the archive{where}: activities/2.gpx; "
        "those activities land without streams"
    ) in report.lines
    streams = _landed(tmp_path, "strava", "activity_streams")
    assert [(s["activity_id"], s["streams"]["latlng"]["data"]) for s in streams] == [(1, [[1.0, 2.0]])]


# ---- Google Takeout -----------------------------------------------------------------------------------------


def test_a_takeout_zip_with_backslash_names_reads_as_with_slashes(tmp_path: Path) -> None:
    export = tmp_path / "takeout.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr(
            "Takeout\\Fitbit\\Global Export Data\\steps-2024-01-01.json",
            '[{"dateTime": "01/01/24 00:00:00", "value": "5"}]',
        )
        zf.writestr(
            "Takeout\\Fitbit\\Physical Activity_GoogleData\\floors_2024-01-01.csv",
            "timestamp,floors,data source\n2024-01-01T00:00:00Z,3,x\n",
        )
    report = takeout.import_takeout(export, landing(tmp_path), run_id="r1")
    assert report.records_landed == {"steps": 1, "floors": 1}
    assert report.files_read == {"json steps": 1, "csv floors": 1}
    assert (report.skipped, report.notes) == ([], [])


def test_a_takeout_member_the_zip_holds_twice_is_read_once(tmp_path: Path) -> None:
    """zipfile keeps both entries of a repeated name; reading by name twice landed the last copy twice."""
    export = tmp_path / "takeout.zip"
    member = "Takeout/Fitbit/Physical Activity_GoogleData/steps_2024-01-01.csv"
    with zipfile.ZipFile(export, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(member, "timestamp,steps,data source\n2024-01-01T00:00:00Z,5,x\n")
        zf.writestr(member, "timestamp,steps,data source\n2024-01-01T00:00:00Z,7,x\n2024-01-01T00:01:00Z,8,x\n")
    report = takeout.import_takeout(export, landing(tmp_path), run_id="r1")
    assert report.files_read == {"csv steps": 1}
    assert report.records_landed == {"steps": 2}  # the last copy's two rows, once (was 4)
    assert f"1 name(s) more than once in the zip, each read once: {member}" in report.notes
    counts = [p["data_point"]["steps"]["count"] for p in _landed(tmp_path, "google_health", "steps")]
    assert counts == ["7", "8"]


def test_an_unpacked_takeout_reads_no_symbolic_link_out_of_its_folder(tmp_path: Path) -> None:
    """A link to a file outside the unpacked export had that file read and landed, as the Strava archive's had."""
    outside = tmp_path / "outside.csv"
    outside.write_text("timestamp,floors,data source\n2024-01-01T00:00:00Z,3,x\n")
    folder = tmp_path / "unpacked" / "Takeout" / "Fitbit" / "Physical Activity_GoogleData"
    folder.mkdir(parents=True)
    (folder / "steps_2024-01-01.csv").write_text("timestamp,steps,data source\n2024-01-01T00:00:00Z,5,x\n")
    (folder / "floors_2024-01-01.csv").symlink_to(outside)

    report = takeout.import_takeout(tmp_path / "unpacked", landing(tmp_path), run_id="r1")

    assert report.records_landed == {"steps": 1}
    assert report.skipped == [
        (
            "Takeout/Fitbit/Physical Activity_GoogleData/floors_2024-01-01.csv",
            f"refused: a symbolic link to {outside.resolve()}, outside the export folder",
        )
    ]
    assert not (tmp_path / "landing" / "google_health" / "floors").exists()


def _takeout_with_steps(export: Path) -> tuple[Path, Path]:
    """An unpacked Takeout at `export` with one steps CSV (5 steps on 2024-01-01): its Fitbit folder and CSV folder."""
    fitbit = export / "Takeout" / "Fitbit"
    csv_folder = fitbit / "Physical Activity_GoogleData"
    csv_folder.mkdir(parents=True)
    (csv_folder / "steps_2024-01-01.csv").write_text("timestamp,steps,data source\n2024-01-01T00:00:00Z,5,x\n")
    return fitbit, csv_folder


def test_an_unpacked_takeout_follows_a_folder_link_inside_it_and_names_what_it_does_not_read(tmp_path: Path) -> None:
    """`rglob` passed over a link to a folder without a word: the JSON behind one inside the export was not imported,
    and a link out of it, a loop, a link to nothing and a FIFO were left out of the report."""
    elsewhere = tmp_path / "elsewhere" / "Physical Activity_GoogleData"
    elsewhere.mkdir(parents=True)
    (elsewhere / "floors_2024-01-01.csv").write_text("timestamp,floors,data source\n2024-01-01T00:00:00Z,3,x\n")
    unpacked = tmp_path / "unpacked"
    fitbit, csv_folder = _takeout_with_steps(unpacked)
    (unpacked / "stash").mkdir()
    (unpacked / "stash" / "steps-2024-02-01.json").write_text('[{"dateTime": "02/01/24 00:00:00", "value": "7"}]')
    (fitbit / "Global Export Data").symlink_to("../../stash")  # inside the export: followed
    (unpacked / "Takeout" / "Google Health").symlink_to(elsewhere.parent)  # out of the export: refused
    (csv_folder / "again").symlink_to("..")  # Takeout/Fitbit, a folder holding it: a loop
    (csv_folder / "floors_2024-01-02.csv").symlink_to("floors_old.csv")  # to nothing
    os.mkfifo(csv_folder / "heart_rate_2024-01-01.csv")  # opening it would wait forever

    report = takeout.import_takeout(unpacked, landing(tmp_path), run_id="r1")

    assert report.records_landed == {"steps": 2}  # 5 from the CSV, 7 from the JSON behind the link
    assert report.files_read == {"csv steps": 1, "json steps": 1}
    csv_path = "Takeout/Fitbit/Physical Activity_GoogleData"
    assert report.skipped == [
        (f"{csv_path}/again", "a symbolic link to Takeout/Fitbit/, a folder holding it (a loop): not followed"),
        (f"{csv_path}/floors_2024-01-02.csv", f"a symbolic link to {csv_path}/floors_old.csv, which does not exist: "
                                              "nothing to read"),
        (f"{csv_path}/heart_rate_2024-01-01.csv", "neither a file nor a folder (a FIFO, socket or device): not read"),
        ("Takeout/Google Health", f"refused: a symbolic link to {elsewhere.parent.resolve()}, outside the export "
                                  "folder; nothing in it is read"),
        ("stash", "the same folder as Takeout/Fitbit/Global Export Data/ (one is a symbolic link to the other): "
                  "listed once, as Takeout/Fitbit/Global Export Data/"),
    ]  # fmt: skip
    assert not (tmp_path / "landing" / "google_health" / "floors").exists()


def test_a_loop_of_links_a_link_out_to_nothing_and_an_unreadable_folder_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each was passed over by `rglob` without a word (and `Path.resolve` raises on a loop of links)."""
    export = tmp_path / "export"
    (export / "locked").mkdir(parents=True)
    (export / "a.csv").write_text("x\n")
    (export / "ring").symlink_to("ring")
    (export / "gone").symlink_to(tmp_path / "nowhere")
    listdir = os.listdir

    def refusing(path: Any) -> list[str]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path)

    monkeypatch.setattr(zip_members.os, "listdir", refusing)
    files, unlisted = zip_members.folder_members(export)

    assert files == ["a.csv"]
    assert [(entry.name, entry.reason, entry.refused) for entry in unlisted] == [
        ("gone", f"refused: a symbolic link to {(tmp_path / 'nowhere').resolve()}, outside the export folder", True),
        ("locked", "a folder that cannot be listed (Permission denied): nothing in it is read", False),
        ("ring", "a symbolic link in a loop of links, leading to nothing: not read", False),
    ]


def test_an_unpacked_takeout_named_through_a_symbolic_link_is_read_as_the_folder_it_leads_to(tmp_path: Path) -> None:
    """`~/exports/takeout -> /data/takeout_1`: the folder it leads to is the export, its inner links judged there."""
    real = tmp_path / "data" / "takeout_1"
    _takeout_with_steps(real)
    (real / "stash").mkdir()
    (real / "stash" / "steps-2024-02-01.json").write_text('[{"dateTime": "02/01/24 00:00:00", "value": "7"}]')
    (real / "Takeout" / "Fitbit" / "Global Export Data").symlink_to("../../stash")  # inside the export: followed
    (tmp_path / "exports").mkdir()
    named = tmp_path / "exports" / "takeout"
    named.symlink_to(real)

    report = takeout.import_takeout(named, landing(tmp_path), run_id="r1")

    assert report.records_landed == {"steps": 2}
    assert report.files_read == {"csv steps": 1, "json steps": 1}
    assert report.skipped == [
        ("stash", "the same folder as Takeout/Fitbit/Global Export Data/ (one is a symbolic link to the other): "
                  "listed once, as Takeout/Fitbit/Global Export Data/"),
    ]  # fmt: skip


def test_data_linked_into_takeout_from_a_folder_named_before_it_is_imported_under_the_link(tmp_path: Path) -> None:
    """The export's real folder or file sorts before `Takeout` (`Backup/`, `Archive/`) and a link under
    `Takeout/Fitbit/` leads to it: the walk kept the first name in name order, outside the folders the importer
    reads, so the data was listed there, passed over, and its link under `Takeout/Fitbit/` named a second name."""
    export = tmp_path / "unpacked"
    fitbit, csv_folder = _takeout_with_steps(export)
    (export / "Backup").mkdir()
    (export / "Backup" / "steps-2024-02-01.json").write_text('[{"dateTime": "02/01/24 00:00:00", "value": "7"}]')
    (fitbit / "Global Export Data").symlink_to("../../Backup")  # a folder, linked in
    (export / "Archive").mkdir()
    (export / "Archive" / "steps_2024-01-02.csv").write_text("timestamp,steps,data source\n2024-01-02T00:00:00Z,6,x\n")
    (csv_folder / "steps_2024-01-02.csv").symlink_to("../../../Archive/steps_2024-01-02.csv")  # a file, linked in

    report = takeout.import_takeout(export, landing(tmp_path), run_id="r1")

    assert report.records_landed == {"steps": 3}  # was 1: the linked folder's and file's records passed over
    assert report.files_read == {"csv steps": 2, "json steps": 1}
    json_path, csv_file = "Takeout/Fitbit/Global Export Data", f"{csv_folder.relative_to(export)}/steps_2024-01-02.csv"
    assert report.skipped == [
        ("Archive/steps_2024-01-02.csv", f"the file a symbolic link leads to: {csv_file}: listed once, as {csv_file}"),
        ("Backup", f"the same folder as {json_path}/ (one is a symbolic link to the other): "
                   f"listed once, as {json_path}/"),
    ]  # fmt: skip
    counts = sorted(p["data_point"]["steps"]["count"] for p in _landed(tmp_path, "google_health", "steps"))
    assert counts == ["5", "6", "7"]


def test_a_link_to_a_file_in_an_unpacked_takeout_is_a_second_name_imported_once(tmp_path: Path) -> None:
    """A symbolic link to a file of the export was imported as a file of its own: the same data landed twice."""
    fitbit = tmp_path / "unpacked" / "Takeout" / "Fitbit"
    csv_folder, json_folder = fitbit / "Physical Activity_GoogleData", fitbit / "Global Export Data"
    csv_folder.mkdir(parents=True)
    json_folder.mkdir()
    (csv_folder / "steps_2024-01-01.csv").write_text(
        "timestamp,steps,data source\n2024-01-01T00:00:00Z,5,x\n2024-01-01T00:01:00Z,6,x\n"
    )
    (csv_folder / "steps_2024-01-02.csv").symlink_to("steps_2024-01-01.csv")
    (json_folder / "steps-2024-02-02.json").write_text('[{"dateTime": "02/01/24 00:00:00", "value": "7"}]')
    (json_folder / "steps-2024-02-01.json").symlink_to(json_folder / "steps-2024-02-02.json")  # named first

    report = takeout.import_takeout(tmp_path / "unpacked", landing(tmp_path), run_id="r1")

    assert report.records_landed == {"steps": 3}  # was 6: each file's records twice
    assert report.files_read == {"csv steps": 1, "json steps": 1}
    json_path, csv_path = "Takeout/Fitbit/Global Export Data", "Takeout/Fitbit/Physical Activity_GoogleData"
    json_file, csv_file = f"{json_path}/steps-2024-02-02.json", f"{csv_path}/steps_2024-01-01.csv"
    assert report.skipped == [
        (f"{json_path}/steps-2024-02-01.json", f"a symbolic link to the same file as {json_file}: "
                                               f"listed once, as {json_file}"),
        (f"{csv_path}/steps_2024-01-02.csv", f"a symbolic link to the same file as {csv_file}: "
                                             f"listed once, as {csv_file}"),
    ]  # fmt: skip
    counts = sorted(p["data_point"]["steps"]["count"] for p in _landed(tmp_path, "google_health", "steps"))
    assert counts == ["5", "6", "7"]


def test_a_takeout_csv_past_the_csv_limit_is_a_skipped_file(tmp_path: Path) -> None:
    export = tmp_path / "takeout.zip"
    folder = "Takeout/Fitbit/Physical Activity_GoogleData"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr(
            f"{folder}/steps_2024-01-01.csv", f'timestamp,steps,data source\n2024-01-01T00:00:00Z,5,"{BIG_FIELD}'
        )
        zf.writestr(f"{folder}/floors_2024-01-01.csv", "timestamp,floors,data source\n2024-01-01T00:00:00Z,3,x\n")
    report = takeout.import_takeout(export, landing(tmp_path), run_id="r1")
    assert report.records_landed == {"floors": 1}
    assert [member for member, _ in report.skipped] == [f"{folder}/steps_2024-01-01.csv"]
    assert "not readable as CSV" in report.skipped[0][1]


def test_a_takeout_json_with_a_5000_digit_number_is_a_skipped_file(tmp_path: Path) -> None:
    export = tmp_path / "takeout.zip"
    member = "Takeout/Fitbit/Global Export Data/steps-2024-01-01.json"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr(member, '[{"dateTime": "01/01/24 00:00:00", "value": ' + "9" * 5000 + "}]")
    report = takeout.import_takeout(export, landing(tmp_path), run_id="r1")
    assert [m for m, _ in report.skipped] == [member]


def test_a_sleep_log_with_an_impossible_us_date_lands_in_the_unknown_month() -> None:
    assert takeout._raw_month("13/45/24 10:00:00") == "0000-00"
    assert takeout._raw_month("02/01/18 22:36:00") == "2018-02"


def test_a_csv_timestamp_with_an_offset_lands_as_utc() -> None:
    assert takeout._iso("2024-01-01T01:00:00+01:00") == "2024-01-01T00:00:00Z"
    assert takeout._iso("2024-03-01T00:00:04Z") == "2024-03-01T00:00:04Z"


def test_a_daily_csv_row_with_an_offset_keeps_the_date_it_names(tmp_path: Path) -> None:
    """A day's row stamped at local midnight (+01:00) is that day, not the UTC instant's day before."""
    export = tmp_path / "takeout.zip"
    folder = "Takeout/Fitbit/Physical Activity_GoogleData"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr(
            f"{folder}/daily_resting_heart_rate_2024-01-01.csv",
            "timestamp,beats per minute,data source\n2024-01-01T00:00:00+01:00,52,x\n",
        )
    report = takeout.import_takeout(export, landing(tmp_path), run_id="r1")
    assert report.records_landed == {"daily-resting-heart-rate": 1}
    landed = [p.read_text() for p in (tmp_path / "landing").rglob("*") if p.is_file()]
    days = [point["dailyRestingHeartRate"]["date"] for text in landed for point in _points(text)]
    assert days == [{"year": 2024, "month": 1, "day": 1}]


def _points(text: str) -> list[dict]:
    """Every data point in a landed file, whatever envelope holds them."""
    found: list[dict] = []
    stack: list = [json.loads(text)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "dailyRestingHeartRate" in value:
                found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


# ---- MapMyRun -----------------------------------------------------------------------------------------------


def test_a_mapmyrun_field_past_the_csv_limit_is_a_clear_error(tmp_path: Path) -> None:
    data = f"{MMR_HEADER}\n{MMR_ROW.format(notes=chr(34) + BIG_FIELD)}\n".encode()
    with pytest.raises(MalformedCsvError, match="line 2"):
        import_csv(data, landing(tmp_path), "r1", export_name="x.csv")


def test_excel_rows_of_empty_cells_land_nowhere(tmp_path: Path) -> None:
    data = f"{MMR_HEADER}\n{MMR_ROW.format(notes='')}\n,,,,,,,,,,,,,,\n   \n".encode()
    files = import_csv(data, landing(tmp_path), "r1", export_name="x.csv")
    assert [(f.key, f.records) for f in files] == [("mapmyrun/workouts/month=2020-10/r1--x.csv", 1)]


# ---- bronze -------------------------------------------------------------------------------------------------

ACTIVITY = (
    '{"id":ID,"athlete":{"id":2},"name":"x","distance":1.0,"moving_time":1,"elapsed_time":1,"sport_type":"Run",'
    '"type":"Run","start_date":"2024-05-01T06:00:00Z","start_date_local":"2024-05-01T08:00:00Z"}'
)


def test_a_5000_digit_integer_quarantines_its_record_alone() -> None:
    text = "[" + ACTIVITY.replace("ID", "1") + "," + ACTIVITY.replace("ID", "9" * 5000) + "]"
    parsed = parse_file(text.encode(), STRAVA_ACTIVITIES.format(SCHEMAS_DIR))
    assert [index for index, _ in parsed.records] == [0]
    assert [(index, reason.split(" (")[0]) for index, _, reason in parsed.quarantined] == [
        (1, "a number too long to read")
    ]


def test_data_after_the_array_is_quarantined_not_dropped() -> None:
    record = ACTIVITY.replace("ID", "1")
    text = f"[{record}]\n[{ACTIVITY.replace('ID', '2')}]"
    parsed = parse_file(text.encode(), STRAVA_ACTIVITIES.format(SCHEMAS_DIR))
    assert [index for index, _ in parsed.records] == [0]
    offset = len(record) + 3  # "[", the record, "]", "\n"
    assert [(raw[:7], reason) for _, raw, reason in parsed.quarantined] == [
        ('[{"id":', f"invalid JSON at character {offset}: data after the end of the array")
    ]


def test_a_csv_field_past_the_csv_limit_quarantines_the_rest_and_keeps_the_rows_before() -> None:
    good = MMR_ROW.format(notes="")
    text = (
        f"{MMR_HEADER}\n{good}\n{good.replace('workout/1', 'workout/2').replace(',iPhone', ',' + chr(34) + 'iPhone')}"
    )
    parsed = parse_file((text + BIG_FIELD).encode(), MAPMYRUN_WORKOUTS.format(SCHEMAS_DIR))
    assert len(parsed.records) == 1
    assert [reason for _, _, reason in parsed.quarantined] == [
        "CSV unreadable from line 3: field larger than field limit (131072)"
    ]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.symlink_to(p), "a symbolic link in a loop of links, leading to nothing: not read"),
        (lambda p: p.symlink_to(p.parent / "gone"), "a symbolic link to {parent}/gone, which does not exist"),
        (lambda p: None, "no such file or folder"),
    ],
    ids=["loop", "to-nothing", "nothing"],
)
def test_an_export_named_through_a_broken_link_says_why_it_cannot_be_opened(
    tmp_path: Path, make: Any, reason: str
) -> None:
    """The export a person names is a link in a loop, a link to a folder since moved, or nothing at all: each
    importer says which (both said "does not exist" or "no such file or folder" for all three)."""
    named = tmp_path / "export"
    make(named)
    expected = f"{named}: {reason.format(parent=tmp_path)}"
    with pytest.raises(ArchiveError) as strava:
        import_archive(named, landing(tmp_path), athlete_id=5, run_id="r1")
    assert str(strava.value) == expected
    with pytest.raises(takeout.TakeoutArchiveError) as google:
        takeout.import_takeout(named, landing(tmp_path), run_id="r1")
    assert str(google.value) == expected
