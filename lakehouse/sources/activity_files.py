"""Recorded activity files (FIT, GPX, TCX, each optionally gzipped) -> a Strava StreamSet.

The output has the shape of `GET /api/v3/activities/{id}/streams?key_by_type=true` (see `API_CONTRACTS.md` 1.3), so
an archived recording lands, loads and reaches `silver.strava_streams` exactly like an API stream:
`{"time": {"data": [...]}, "latlng": {"data": [[lat, lng], ...]}, ...}`, every stream as long as `time`, a
missing sample `null`, a stream the file never recorded left out (as Strava does).

Units: `time` whole seconds from the first sample; `distance` and `altitude` metres; `latlng` degrees (FIT
semicircles are converted: degrees = semicircles * 180 / 2^31); `velocity_smooth` m/s (the device's speed, not
smoothed again); `heartrate` bpm; `cadence` as the file records it (rpm, or strides per minute for runs, as
the API reports it); `watts` W; `temp` degrees Celsius.

Parsers are the maintained libraries, never hand-written: fitdecode (FIT, CRC checked, errors raised), gpxpy
(GPX 1.0/1.1), tcxreader (TCX; chosen over python-tcxparser because it returns every trackpoint with its
extensions, speed and watts included, and reads a file object). A GPX or TCX is decoded first, in the encoding its
first bytes or declaration name (`_xml_text`: UTF-8, UTF-16 or UTF-32 with or without a byte order mark, Latin-1,
...), and blanks before `<?xml`, which Strava's TCX files often have and an XML parser rejects, are left out of the
text (in UTF-16 and UTF-32 as in UTF-8); the parsers read that text. tcxreader refuses a whole TCX for one
Trackpoint with `<Time/>` or a time without a zone: such a file is read again without the timeless Trackpoints (a
time without a zone is UTC there, as gpxpy's is), and a file tcxreader reads is never touched.
"""

from __future__ import annotations

import codecs
import gzip
import io
import math
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import fitdecode
import gpxpy
import gpxpy.gpx
from tcxreader.tcx_exercise import TCXExercise
from tcxreader.tcx_track_point import TCXTrackPoint
from tcxreader.tcxreader import GARMIN_XML_SCHEMA, TCXReader

SEMICIRCLES_PER_DEGREE = 2**31 / 180
FLOAT_DECIMALS = 6
KNOWN_SUFFIXES = (".fit", ".gpx", ".tcx")
STREAM_ORDER = ("time", "distance", "latlng", "altitude", "velocity_smooth", "heartrate", "cadence", "watts", "temp")
# An XML file's first bytes -> UTF-32 or UTF-16 (XML 1.0 Appendix F): a byte order mark, else `<?` in UTF-32 or UTF-16
# (a file without the mark, its declaration naming no byte order), blanks before it allowed as in UTF-8. UTF-32's
# marks first: little-endian `FF FE 00 00` starts with UTF-16's `FF FE` (U+0000 is no XML character).
XML_FIRST_BYTES = (
    (re.compile(re.escape(codecs.BOM_UTF32_LE)), "utf-32"),
    (re.compile(re.escape(codecs.BOM_UTF32_BE)), "utf-32"),
    (re.compile(re.escape(codecs.BOM_UTF16_LE)), "utf-16"),
    (re.compile(re.escape(codecs.BOM_UTF16_BE)), "utf-16"),
    (re.compile(rb"(?:[ \t\r\n]\x00\x00\x00)*<\x00\x00\x00\?\x00\x00\x00"), "utf-32-le"),
    (re.compile(rb"(?:\x00\x00\x00[ \t\r\n])*\x00\x00\x00<\x00\x00\x00\?"), "utf-32-be"),
    (re.compile(rb"(?:[ \t\r\n]\x00)*<\x00\?\x00"), "utf-16-le"),
    (re.compile(rb"(?:\x00[ \t\r\n])*\x00<\x00\?"), "utf-16-be"),
)
UTF8_MARKS = re.compile(b"(?:%s)+" % re.escape(codecs.BOM_UTF8))  # whole marks, never byte by byte
ZONELESS_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?")  # a TCX <Time> without Z or offset
XML_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
XML_DECLARATION = re.compile(r"\A<\?xml\s[^>]*\?>")  # at the start of the text only


class ActivityFileError(ValueError):
    """A recorded file that cannot be read (corrupt, truncated, empty, not what its name says)."""


class UnknownFileTypeError(ActivityFileError):
    """A file whose name ends in none of .fit, .gpx, .tcx (optionally .gz)."""


@dataclass(frozen=True)
class Sample:
    """One recorded point; any field but the time may be missing."""

    at: datetime
    lat: float | None = None
    lng: float | None = None
    distance: float | None = None
    altitude: float | None = None
    speed: float | None = None
    heartrate: float | None = None
    cadence: float | None = None
    watts: float | None = None
    temp: float | None = None


@dataclass(frozen=True)
class Recording:
    """What a file holds: the StreamSet, its first sample's instant, and the local offset if the file says it."""

    streams: dict[str, dict[str, list[Any]]]
    start: datetime
    utc_offset_s: int | None  # FIT `activity.local_timestamp - timestamp`; None when the format does not say
    kind: str  # fit | gpx | tcx

    @property
    def points(self) -> int:
        """Samples in the recording."""
        return len(self.streams["time"]["data"])

    def first_latlng(self) -> list[float]:
        """`[lat, lng]` of the first sample with a position, `[]` without GPS (as the API sends)."""
        return next((p for p in self.streams.get("latlng", {}).get("data", []) if p), [])

    def last_latlng(self) -> list[float]:
        """`[lat, lng]` of the last sample with a position, `[]` without GPS."""
        return next((p for p in reversed(self.streams.get("latlng", {}).get("data", [])) if p), [])


def file_kind(name: str) -> tuple[str, bool]:
    """(`fit`|`gpx`|`tcx`, gzipped?) from a file name: `file_kind("a/1.fit.gz") == ("fit", True)`."""
    lowered = name.lower()
    gzipped = lowered.endswith(".gz")
    stem = lowered[: -len(".gz")] if gzipped else lowered
    for suffix in KNOWN_SUFFIXES:
        if stem.endswith(suffix):
            return suffix[1:], gzipped
    shown = "." + stem.rsplit(".", 1)[-1] if "." in stem.rsplit("/", 1)[-1] else "(no extension)"
    raise UnknownFileTypeError(f"unknown activity file type {shown}{'.gz' if gzipped else ''}")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(value: Any, decimals: int | None = FLOAT_DECIMALS) -> float | None:
    """A finite float rounded to 6 decimals (fitdecode's scale/offset arithmetic leaves 75.20000000000005), or None
    (also for NaN and infinity: JSON has neither, and one would get the whole recording quarantined in bronze)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return number if decimals is None else round(number, decimals)


def _coordinate(value: Any) -> float | None:
    """A latitude or longitude as parsed (not rounded), or None when it is not finite (`lat="NaN"` in a GPX)."""
    return _number(value, decimals=None)


# ---- FIT ------------------------------------------------------------------------------------------------


def _fit_degrees(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _coordinate(value / SEMICIRCLES_PER_DEGREE)


def _read_fit(data: bytes) -> tuple[list[Sample], int | None]:
    samples: list[Sample] = []
    offset: int | None = None
    reader = fitdecode.FitReader(
        io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE, error_handling=fitdecode.ErrorHandling.RAISE
    )
    with reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "activity":
                stamp, local = _fit_value(frame, "timestamp"), _fit_value(frame, "local_timestamp")
                if isinstance(stamp, datetime) and isinstance(local, datetime):
                    # local_timestamp is wall-clock time written as if it were UTC: the difference is the offset
                    offset = round((_utc(local) - _utc(stamp)).total_seconds())
                continue
            if frame.name != "record":
                continue
            at = _fit_value(frame, "timestamp")
            if not isinstance(at, datetime):
                continue
            samples.append(
                Sample(
                    at=_utc(at),
                    lat=_fit_degrees(_fit_value(frame, "position_lat")),
                    lng=_fit_degrees(_fit_value(frame, "position_long")),
                    distance=_number(_fit_value(frame, "distance")),
                    altitude=_number(_fit_value(frame, "enhanced_altitude", "altitude")),
                    speed=_number(_fit_value(frame, "enhanced_speed", "speed")),
                    heartrate=_number(_fit_value(frame, "heart_rate")),
                    cadence=_number(_fit_value(frame, "cadence")),
                    watts=_number(_fit_value(frame, "power")),
                    temp=_number(_fit_value(frame, "temperature")),
                )
            )
    return samples, offset


def _fit_value(frame: fitdecode.FitDataMessage, *names: str) -> Any:
    """The first of `names` the message has with a value (enhanced_* fields before the plain ones)."""
    for name in names:
        if frame.has_field(name):
            value = frame.get_value(name)
            if value is not None:
                return value
    return None


# ---- GPX ------------------------------------------------------------------------------------------------


def _gpx_extension_number(point: gpxpy.gpx.GPXTrackPoint, *local_names: str) -> float | None:
    """A Garmin TrackPointExtension value (`hr`, `cad`, `atemp`, `power`), whatever its namespace prefix."""
    for extension in point.extensions:
        for element in extension.iter():
            local = element.tag.rsplit("}", 1)[-1].lower()
            if local in local_names and element.text:
                return _number(element.text.strip())
    return None


def _xml_text(data: bytes) -> str:
    """XML bytes as text in the encoding the file names, blanks before `<?xml` left out (Strava's TCX files have
    them; an XML parser refuses them): UTF-32 or UTF-16 when its first bytes say so (`XML_FIRST_BYTES`); else,
    after a UTF-8 byte order mark, UTF-8; else the `encoding` of its `<?xml ...?>` declaration (`ISO-8859-1`); else
    UTF-8.
    Example: `_xml_text(b"\\n <?xml version='1.0'?><gpx/>") == "<?xml version='1.0'?><gpx/>"`."""
    for first_bytes, codec in XML_FIRST_BYTES:
        if first_bytes.match(data):
            return data.decode(codec).lstrip()
    marked = UTF8_MARKS.match(data)
    body = data[marked.end() :] if marked else data
    declared = XML_DECLARED_ENCODING.match(body)
    if marked:
        try:
            return body.decode("utf-8").lstrip()
        except UnicodeDecodeError:
            if not declared:
                raise
            # not UTF-8: a mark put before a file in the encoding it declares, read so (as expat reads it unmarked)
    return body.decode(declared[1].decode("ascii") if declared else "utf-8").lstrip()


def _read_gpx(data: bytes) -> list[Sample]:
    try:  # gpxpy decodes bytes as UTF-8 whatever the file declares: it is handed the text
        parsed = gpxpy.parse(_xml_text(data))
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, LookupError) as exc:  # LookupError: an unknown encoding
        raise ActivityFileError(f"corrupt GPX: {exc}") from exc
    samples: list[Sample] = []
    for track in parsed.tracks:
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    continue
                samples.append(
                    Sample(
                        at=_utc(point.time),
                        lat=_coordinate(point.latitude),
                        lng=_coordinate(point.longitude),
                        altitude=_number(point.elevation),
                        speed=_number(point.speed),
                        heartrate=_gpx_extension_number(point, "hr", "heartrate"),
                        cadence=_gpx_extension_number(point, "cad", "cadence"),
                        watts=_gpx_extension_number(point, "power", "watts"),
                        temp=_gpx_extension_number(point, "atemp", "temp"),
                    )
                )
    return samples


# ---- TCX ------------------------------------------------------------------------------------------------


def _read_tcx(data: bytes) -> list[Sample]:
    try:  # decoded as a GPX is; tcxreader's parser reads UTF-8 then, no declaration naming another encoding
        text = XML_DECLARATION.sub("", _xml_text(data), count=1).encode()
    except (UnicodeDecodeError, LookupError) as exc:  # LookupError: an unknown encoding
        raise ActivityFileError(f"corrupt TCX: {type(exc).__name__}: {exc}") from exc
    try:
        exercise = TCXReader().read(io.BytesIO(text), only_gps=False)  # type: ignore[arg-type]
    except Exception as exc:  # tcxreader raises ParseError, ValueError, KeyError, TypeError on bad input
        exercise = _read_tcx_timed_points(text, exc)
    samples: list[Sample] = []
    for point in exercise.trackpoints:
        if point.time is None:
            continue
        extensions = {key.lower(): value for key, value in (point.tpx_ext or {}).items()}
        samples.append(
            Sample(
                at=_utc(point.time),
                lat=_coordinate(point.latitude),
                lng=_coordinate(point.longitude),
                distance=_number(point.distance),
                altitude=_number(point.elevation),
                speed=_number(extensions.get("speed")),
                heartrate=_number(point.hr_value),
                cadence=_number(point.cadence if point.cadence is not None else extensions.get("runcadence")),
                watts=_number(extensions.get("watts")),
            )
        )
    return samples


def _tcx_time_reads(reader: TCXReader, trackpoint: ElementTree.Element) -> bool:
    """Whether tcxreader reads a time in this Trackpoint (it raises on `<Time/>` or a time without a zone)."""
    point = TCXTrackPoint(tpx_ext={})
    try:
        reader.trackpoint_parser(point, trackpoint)
    except (ValueError, TypeError):
        return False
    return point.time is not None


def _timed_trackpoints_only(text: bytes) -> bytes | None:
    """The TCX without its Trackpoints that have no time (`<Time/>`, or none: tcxreader's duration fails on one
    first or last), a time without a zone read as UTC, as in a GPX file (`_utc`); None when nothing changed."""
    root, reader, changed = ElementTree.fromstring(text), TCXReader(), False
    for track in root.iter(f"{GARMIN_XML_SCHEMA}Track"):
        for trackpoint in track.findall(f"{GARMIN_XML_SCHEMA}Trackpoint"):
            time = trackpoint.find(f"{GARMIN_XML_SCHEMA}Time")
            if time is not None and time.text and ZONELESS_TIME.fullmatch(time.text.strip()):
                time.text, changed = time.text.strip() + "Z", True
            if not _tcx_time_reads(reader, trackpoint):
                track.remove(trackpoint)
                changed = True
    return ElementTree.tostring(root) if changed else None


def _read_tcx_timed_points(text: bytes, error: Exception) -> TCXExercise:
    """A TCX tcxreader refused (`error`), read again as `_timed_trackpoints_only` leaves it; `ActivityFileError`
    naming the first error when the times were not (all) the trouble. A file tcxreader reads never comes here."""
    if isinstance(error, ValueError | TypeError):  # tcxreader's errors on a <Time/> or a time without a zone
        try:
            trimmed = _timed_trackpoints_only(text)
            if trimmed is not None:
                return TCXReader().read(io.BytesIO(trimmed), only_gps=False)  # type: ignore[arg-type]
        except Exception:  # still refused: the first error says why
            pass
    raise ActivityFileError(f"corrupt TCX: {type(error).__name__}: {error}") from error


# ---- streams --------------------------------------------------------------------------------------------


def to_streams(samples: list[Sample]) -> dict[str, dict[str, list[Any]]]:
    """Samples -> a StreamSet of equal-length streams; streams with no value at all are left out."""
    start = samples[0].at
    columns: dict[str, list[Any]] = {
        "time": [round((s.at - start).total_seconds()) for s in samples],
        "distance": [s.distance for s in samples],
        "latlng": [[s.lat, s.lng] if s.lat is not None and s.lng is not None else None for s in samples],
        "altitude": [s.altitude for s in samples],
        "velocity_smooth": [s.speed for s in samples],
        "heartrate": [None if s.heartrate is None else round(s.heartrate) for s in samples],
        "cadence": [None if s.cadence is None else round(s.cadence) for s in samples],
        "watts": [None if s.watts is None else round(s.watts) for s in samples],
        "temp": [s.temp for s in samples],
    }
    return {
        name: {"data": columns[name], "series_type": "time", "original_size": len(samples), "resolution": "high"}
        for name in STREAM_ORDER
        if name == "time" or any(value is not None for value in columns[name])
    }


def read_recording(name: str, data: bytes) -> Recording:
    """Parse one activity file (its name picks the format) into a `Recording`.

    Example: `read_recording("activities/123.fit.gz", raw_bytes).streams["heartrate"]["data"][:3]`.
    Raises `UnknownFileTypeError` or `ActivityFileError` with a reason fit for the import report.
    """
    kind, gzipped = file_kind(name)
    if gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ActivityFileError(f"corrupt gzip: {exc}") from exc
    if not data.strip():
        raise ActivityFileError("empty file")
    offset: int | None = None
    try:
        if kind == "fit":
            try:
                samples, offset = _read_fit(data)
            except fitdecode.FitError as exc:
                raise ActivityFileError(f"corrupt FIT: {type(exc).__name__}: {exc}") from exc
        elif kind == "gpx":
            samples = _read_gpx(data)
        else:
            samples = _read_tcx(data)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is before the first instant Python can hold in UTC
        raise ActivityFileError(f"a time in the {kind.upper()} file is out of range: {exc}") from exc
    if not samples:
        raise ActivityFileError(f"no timed samples in the {kind.upper()} file")
    samples.sort(key=lambda s: s.at)  # stable: points recorded at the same second keep their order
    return Recording(streams=to_streams(samples), start=samples[0].at, utc_offset_s=offset, kind=kind)
