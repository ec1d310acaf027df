"""Google Takeout (Fitbit / Google Health export) -> landing zone, streamed member by member from the zip.

Lands what the Google Health API would have returned, in its dataPoint shape, under
`google_health/<dataType>/month=YYYY-MM/<run-id>.json` with `route` `takeout-csv` or `takeout-json`
(`lakehouse.sources.google_health.envelope`), so bronze and silver treat both routes alike. Sleep and
exercise logs land as they are under `takeout/<sleep|exercise>/` (no silver table reads them yet).

Roots: `Takeout/Fitbit/` (older exports) and `Takeout/Google Health/` (2026); a folder given without the
`Takeout/` prefix works too. Units and times per file type (evidence in `docs/contracts/google-takeout.md`):

- `Global Export Data/heart_rate-YYYY-MM-DD.json` (one day a file): `{"dateTime": "MM/DD/YY HH:MM:SS",
  "value": {"bpm", "confidence"}}`, naive local time -> a heart-rate sample with a civil time only.
- `steps-`, `distance-`, `calories-`, `altitude-YYYY-MM-DD.json` (about 30 days a file): `{"dateTime",
  "value": "<string>"}` per minute, naive local time; distance centimetres (-> mm x 10), calories kcal,
  altitude feet (-> mm x 304.8, [inferred]).
- `resting_heart_rate-*.json`: `{"value": {"date": "MM/DD/YY", "value": <float bpm>, "error"}}`, a local
  date; `time_in_heart_rate_zones-*.json`: `{"dateTime", "value": {"valuesInZones": {zone: minutes}}}`.
- `Physical Activity_GoogleData/heart_rate_*.csv`: `timestamp,beats per minute,data source`, UTC (`Z`).
- `steps_`, `distance_`, `calories_`, `floors_`, `altitude_*.csv`: `timestamp,<value>,data source` per
  minute, UTC; distance metres (-> mm x 1000), altitude millimetres, calories kcal.
- `daily_resting_heart_rate*.csv`: `timestamp,beats per minute,data source`; `T00:00:00Z` is the local date.

A JSON file and its CSV twin count once: CSV members are read first, and a JSON record is skipped when the
CSV of the same family covered its date (the silver keys are a second guard). Nothing is extracted and no
member is read whole into a string: JSON members are parsed from the zip stream, CSV members read row by
row, and landed records are flushed every `flush_every` records.

Bad input never stops the import: a truncated or damaged member, an unknown file type, a CSV without its
value column, a CSV with a new column (landed, the column noted), JSON nested too deep to read, in an unpacked
folder a symbolic link leading out of it (to a file or a folder: refused, never read), a link to nothing or a
second name for a folder listed already (a loop), each give one line in the report; a link to a folder inside the
unpacked folder is followed (`lakehouse.sources.zip_members.folder_members`), and a link to a file inside it is a
second name for that file: the file is imported once, under its own name, and the link named in the report (its
data is not landed twice). The unpacked folder may itself be a symbolic link: it is read as the folder it leads
to. A record whose
time or value does not read (an impossible date, NaN, a number beyond a double) lands marked
`"_rejected": "<member>: <reason>"` for bronze to quarantine with that reason (the report names the first few);
its neighbours land.
A zip whose central directory is unreadable (truncated download) is one clear error: nothing can be listed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

from lakehouse.landing import LandingZone, new_run_id
from lakehouse.sources.google_health import DATA_TYPES, DataType, envelope, point_month
from lakehouse.sources.sync import MonthlyBatches
from lakehouse.sources.zip_members import (
    LinkLoopError,
    RefusedMemberError,
    Unlisted,
    folder_file,
    folder_members,
    index_members,
    missing_reason,
    repeated_note,
)

log = logging.getLogger(__name__)

SOURCE = "google_health"
RAW_SOURCE = "takeout"
ROUTE_JSON = "takeout-json"
ROUTE_CSV = "takeout-csv"
ROOTS = ("Takeout/Fitbit/", "Takeout/Google Health/", "Fitbit/", "Google Health/")
JSON_FOLDER = "Global Export Data"
CSV_FOLDER = "Physical Activity_GoogleData"
DEFAULT_FLUSH_EVERY = 200_000
MAX_INVALID_LINES = 20  # the report names this many rejected records; the rest are counted
MAX_RAW_CHARS = 2_000
CM_TO_MM = 10.0
FEET_TO_MM = 304.8  # [inferred]: JSON altitude goes up in steps of 10 per floor, i.e. feet
METRES_TO_MM = 1000.0
TAKEOUT_DAILY_ZONES = DataType("daily-time-in-heart-rate-zones", "dailyTimeInHeartRateZones", "daily")
TOTAL_CALORIES = DataType("total-calories", "totalCalories", "interval")
DATA_TYPE_BY_NAME = {**DATA_TYPES, TAKEOUT_DAILY_ZONES.name: TAKEOUT_DAILY_ZONES, TOTAL_CALORIES.name: TOTAL_CALORIES}
JSON_FILE = re.compile(r"^(?P<family>[a-z_]+)-(?P<stamp>\d{4}-\d{2}-\d{2}|\d+)\.json$")
CSV_FILE = re.compile(r"^(?P<family>[a-z_]+?)(?:_(?P<stamp>\d{4}-\d{2}-\d{2}))?\.csv$")


class TakeoutArchiveError(ValueError):
    """The export cannot be opened or listed at all (not a zip, truncated central directory, missing path)."""


@dataclass(frozen=True)
class CsvFamily:
    """One CSV file type of `Physical Activity_GoogleData/`: its data type, value column and unit factor."""

    data_type: str
    value_column: str
    factor: float  # to the API field's unit
    value_field: str
    daily: bool = False


CSV_FAMILIES: dict[str, CsvFamily] = {
    "heart_rate": CsvFamily("heart-rate", "beats per minute", 1.0, "beatsPerMinute"),
    "steps": CsvFamily("steps", "steps", 1.0, "count"),
    "distance": CsvFamily("distance", "distance", METRES_TO_MM, "millimeters"),
    "calories": CsvFamily("total-calories", "calories", 1.0, "kcal"),
    "floors": CsvFamily("floors", "floors", 1.0, "count"),
    "altitude": CsvFamily("altitude", "altitude", 1.0, "gainMillimeters"),
    "daily_resting_heart_rate": CsvFamily("daily-resting-heart-rate", "beats per minute", 1.0, "beatsPerMinute", True),
}
CSV_KNOWN_COLUMNS = {"timestamp", "data source"}
# JSON family -> (data type, factor to the API field's unit, value field); the per-minute series
JSON_MINUTE_FAMILIES: dict[str, tuple[str, float, str]] = {
    "steps": ("steps", 1.0, "count"),
    "distance": ("distance", CM_TO_MM, "millimeters"),
    "calories": ("total-calories", 1.0, "kcal"),
    "altitude": ("altitude", FEET_TO_MM, "gainMillimeters"),
}
JSON_TWIN_OF_CSV = {  # JSON family -> the CSV family holding the same series
    "heart_rate": "heart_rate",
    "steps": "steps",
    "distance": "distance",
    "calories": "calories",
    "altitude": "altitude",
    "resting_heart_rate": "daily_resting_heart_rate",
}
RAW_JSON_FAMILIES = {"sleep": "sleep", "exercise": "exercise"}
JSON_DATA_TYPES = {  # JSON family -> the data type its records land as (the minute families: JSON_MINUTE_FAMILIES)
    "heart_rate": "heart-rate",
    "resting_heart_rate": "daily-resting-heart-rate",
    "time_in_heart_rate_zones": TAKEOUT_DAILY_ZONES.name,
}
KNOWN_UNUSED_JSON = {
    "lightly_active_minutes", "moderately_active_minutes", "very_active_minutes", "sedentary_minutes",
    "demographic_vo2_max", "run_vo2_max", "weight", "swim_lengths_data", "estimated_oxygen_variation",
}  # fmt: skip


@dataclass
class TakeoutReport:
    """What one import did: files read per type, records landed per data type, every file skipped and why."""

    run_id: str
    files_read: Counter[str] = field(default_factory=Counter)
    records_landed: Counter[str] = field(default_factory=Counter)
    raw_landed: Counter[str] = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (member, reason): damaged or unreadable files
    skipped_kinds: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, reason) -> files
    examples: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, reason) -> one such file
    notes: list[str] = field(default_factory=list)
    records_skipped_twin: int = 0
    records_invalid: int = 0
    records_rejected: int = 0  # of the invalid ones, those landed marked `_rejected` (bronze quarantines them)
    invalid_examples: list[str] = field(default_factory=list)  # "<member>: <reason>" of the first rejected records

    def lines(self) -> list[str]:
        """The report, one line each, for the terminal."""
        out = [f"takeout: read {n:,} {kind} file(s)" for kind, n in sorted(self.files_read.items())]
        out += [f"takeout: landed {n:,} {name} record(s)" for name, n in sorted(self.records_landed.items())]
        out += [f"takeout: landed {n:,} raw {name} log(s) under takeout/{name}/" for name, n in self.raw_landed.items()]
        if self.records_skipped_twin:
            out.append(f"takeout: {self.records_skipped_twin:,} JSON record(s) not landed: their CSV twin was")
        if self.records_invalid:
            out.append(
                f"takeout: {self.records_invalid:,} record(s) without a usable time or value not landed "
                "(quarantined in bronze with the reason, except resting heart rates of 0)"
            )
        out += [f"takeout: quarantined {example}" for example in self.invalid_examples]
        out += [f"takeout: note: {note}" for note in self.notes]
        out += [
            f"takeout: skipped {n:,} {kind} file(s), e.g. {self.examples[(kind, reason)]}: {reason}"
            for (kind, reason), n in sorted(self.skipped_kinds.items())
        ]
        out += [f"takeout: skipped {member}: {reason}" for member, reason in self.skipped]
        return out

    def skip(self, member: str, reason: str, kind: str | None = None) -> None:
        """Note a file not imported: one line per file, or one line per `kind` of file (with a count)."""
        if kind is None:
            self.skipped.append((member, reason))
            return
        self.skipped_kinds[(kind, reason)] += 1
        self.examples.setdefault((kind, reason), member)


class _Export:
    """A zip (streamed, never extracted) or a folder; members named with `/`.

    PowerShell 5's Compress-Archive names members with `\\` (`Takeout\\Fitbit\\...`): read as `/`. A name the zip
    holds twice is one member, its last copy (the one zipfile's own lookup by name reads), listed in `repeated`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._infos: dict[str, zipfile.ZipInfo] = {}  # member name with `/` -> the copy read
        self.repeated: list[str] = []
        self.unlisted: list[Unlisted] = []  # in a folder: what `members()` did not list, and why
        if path.is_dir():
            return
        if not path.exists():
            raise TakeoutArchiveError(f"{path}: {missing_reason(path)}")
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise TakeoutArchiveError(
                f"{path.name} is not a readable zip ({exc}): the download is truncated or damaged; "
                "download the export again (nothing was imported)"
            ) from None
        self._infos, self.repeated = index_members(self._zip.infolist())

    def members(self) -> list[str]:
        """Every file in the export; in a folder, through symbolic links to folders inside it (`folder_members`:
        what it does not list, a link out of the folder among them, goes to `unlisted`)."""
        if self._zip is not None:
            return list(self._infos)
        files, self.unlisted = folder_members(self.path, prefer=ROOTS)  # a link under ROOTS names what it leads to
        return files

    def open(self, member: str) -> IO[bytes]:
        """A binary stream of one member (decompressed as it is read); in a folder, `RefusedMemberError` for a
        symbolic link leading out of it."""
        if self._zip is not None:
            return self._zip.open(self._infos[member])
        return folder_file(self.path, member).open("rb")

    def close(self) -> None:
        """Release the zip file."""
        if self._zip is not None:
            self._zip.close()


def _relative(member: str) -> tuple[str, str] | None:
    """(folder, file name) under a known root, or None."""
    for root in ROOTS:
        if member.startswith(root):
            parts = PurePosixPath(member[len(root) :]).parts
            if len(parts) >= 2:
                return parts[-2], parts[-1]
            return "", parts[-1] if parts else ""
    return None


def _us_date(text: str) -> date:
    """`"12/31/17"` -> 2017-12-31 (Takeout JSON's MM/DD/YY)."""
    return datetime.strptime(text.strip(), "%m/%d/%y").date()


def _us_datetime(text: str) -> datetime:
    """`"12/31/17 16:42:00"` -> a naive local datetime."""
    return datetime.strptime(text.strip(), "%m/%d/%y %H:%M:%S")


def _civil(local: datetime) -> dict[str, Any]:
    return {
        "date": {"year": local.year, "month": local.month, "day": local.day},
        "time": {"hours": local.hour, "minutes": local.minute, "seconds": local.second},
    }


def _iso(text: str) -> str:
    """A CSV timestamp (`2024-10-27T00:00:04Z`, maybe with fractions) as RFC-3339 UTC; ValueError if not UTC."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(text: Any) -> float:
    value = float(text)
    if not math.isfinite(value):  # NaN, inf, or beyond a double (1e309)
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _short(record: Any) -> str:
    text = json.dumps(record, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


def _int64(value: float) -> str:
    """An int64 field as the API sends it: a JSON string."""
    return str(round(value))


class _Importer:
    """One import: classify members, read each, land normalised points."""

    def __init__(self, export: _Export, landing: LandingZone, user_id: str, run_id: str, flush_every: int) -> None:
        self.export = export
        self.user_id = user_id
        self.report = TakeoutReport(run_id)
        self.batches = MonthlyBatches(landing, SOURCE, run_id)
        self.raw = MonthlyBatches(landing, RAW_SOURCE, run_id)
        self.flush_every = flush_every
        self.csv_days: set[tuple[str, date]] = set()  # (CSV family, UTC date) covered by a CSV row
        self.reject_month = datetime.now(UTC).strftime("%Y-%m")

    # ---- landing -----------------------------------------------------------------------------------------
    def add(self, data_type: str, route: str, point: dict[str, Any]) -> None:
        kind = DATA_TYPE_BY_NAME[data_type]
        record = envelope(self.user_id, kind, route, point)
        self.batches.add(data_type, point_month(kind, point), record)
        self.report.records_landed[data_type] += 1
        if self.batches.pending() >= self.flush_every:
            self.batches.flush()

    def reject(self, member: str, data_type: str, reason: str, raw: Any) -> None:
        """Land a record that does not convert, marked with its reason, for bronze to quarantine."""
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
        where = f"{member}: {reason}"
        self.batches.add(data_type, self.reject_month, {"_rejected": where, "_raw": text[:MAX_RAW_CHARS],
                                                         "user_id": self.user_id, "data_type": data_type})  # fmt: skip
        self.report.records_invalid += 1
        self.report.records_rejected += 1
        if len(self.report.invalid_examples) < MAX_INVALID_LINES:
            self.report.invalid_examples.append(where)

    def finish(self) -> None:
        self.batches.flush()
        self.raw.flush()

    # ---- the walk ----------------------------------------------------------------------------------------
    def run(self) -> TakeoutReport:
        members = self.export.members()
        self.report.skipped += [(entry.name, entry.reason) for entry in self.export.unlisted]
        known = [(m, _relative(m)) for m in members]
        if not any(rel for _, rel in known):
            self.report.skipped.append(
                (str(self.export.path.name), f"no {' or '.join(ROOTS[:2])} folder in the export")
            )
        repeated = repeated_note(self.export.repeated)
        if repeated:
            self.report.notes.append(repeated)
        folders = {rel[0] for _, rel in known if rel}
        for folder in (JSON_FOLDER, CSV_FOLDER):
            if known and folders and folder not in folders:
                self.report.notes.append(f"the export has no `{folder}/` folder")
        # CSV first: a JSON record whose CSV twin covered its date is then skipped.
        ordered = sorted(known, key=lambda item: (0 if item[1] and item[1][0] == CSV_FOLDER else 1, item[0]))
        for member, rel in ordered:
            if rel is None:
                if member.lower().endswith((".json", ".csv")):
                    self.report.skipped.append((member, "outside Takeout/Fitbit/ and Takeout/Google Health/"))
                continue
            folder, name = rel
            try:
                self._member(member, folder, name)
            except RefusedMemberError as exc:  # a symbolic link out of the unpacked folder: never read
                self.report.skipped.append((member, f"refused: {exc}"))
            except LinkLoopError as exc:  # a link made into a loop after the folder was listed
                self.report.skipped.append((member, f"{exc}: not read"))
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                self.report.skipped.append((member, f"unreadable in the zip (truncated or damaged: {exc})"))
            except RecursionError:  # `[[[[...` thousands deep: Python's JSON reader cannot descend that far
                self.report.skipped.append((member, "nested deeper than a JSON reader can go: not a Takeout file"))
            except (RuntimeError, NotImplementedError) as exc:  # encrypted, or Deflate64 (RecursionError is one too)
                self.report.skipped.append((member, f"unreadable in the zip (encrypted or Deflate64: {exc})"))
            except csv.Error as exc:  # a quote never closed runs a field past csv's 128 KB limit
                self.report.skipped.append((member, f"not readable as CSV ({exc}); the rows before it landed"))
            except ValueError as exc:  # not UTF-8, not JSON, or an integer of more than 4,300 digits
                self.report.skipped.append((member, f"not valid {'JSON' if name.endswith('.json') else 'text'}: {exc}"))
        self.finish()
        return self.report

    def _member(self, member: str, folder: str, name: str) -> None:
        if name.lower() in {"readme.txt", "readme.md"} or name.endswith(".txt"):
            return
        if folder == CSV_FOLDER and name.endswith(".csv"):
            self._csv(member, name)
        elif folder == JSON_FOLDER and name.endswith(".json"):
            self._json(member, name)
        elif folder in (CSV_FOLDER, JSON_FOLDER):
            self.report.skip(member, "unknown file type", kind=f"{folder}/*{PurePosixPath(name).suffix}")
        else:  # Sleep Score, Heart Rate Variability, ...: no silver table reads them yet
            self.report.skip(member, "not imported (no silver table for this folder yet)", kind=f"{folder or '.'}/")

    # ---- CSV ---------------------------------------------------------------------------------------------
    def _csv(self, member: str, name: str) -> None:
        match = CSV_FILE.match(name)
        family = CSV_FAMILIES.get(match["family"]) if match else None
        if family is None:
            kind = f"{match['family'] if match else name} CSV"
            self.report.skip(member, "unknown file type (no importer for this CSV)", kind=kind)
            return
        with self.export.open(member) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            reader = csv.DictReader(text)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            missing = [c for c in ("timestamp", family.value_column) if c not in columns]
            if missing:
                self.report.skipped.append((member, f"CSV without the column(s) {missing}; columns: {columns}"))
                return
            extra = [c for c in columns if c not in CSV_KNOWN_COLUMNS | {family.value_column}]
            if extra:
                self.report.notes.append(f"{member}: new column(s) {extra} not imported; the known columns landed")
            self.report.files_read[f"csv {match['family']}"] += 1
            assert match is not None
            for row in reader:
                self._csv_row(member, match["family"], family, row)

    def _csv_row(self, member: str, name: str, family: CsvFamily, row: dict[str, str]) -> None:
        try:
            instant = _iso(row["timestamp"])
            value = _number(row[family.value_column]) * family.factor
        except (ValueError, TypeError, KeyError) as exc:
            shown = {k: v for k, v in row.items() if k is not None}
            self.reject(member, family.data_type, f"{type(exc).__name__}: {exc} in {shown}", shown)
            return
        source = (row.get("data source") or "").strip()
        point: dict[str, Any] = {"dataSource": {"device": {"displayName": source}}} if source else {}
        field_value = value if family.value_field == "kcal" else _int64(value)
        if family.daily:
            # T00:00:00Z stands for the local calendar date: the date as written, also with an offset.
            day = date.fromisoformat(row["timestamp"].strip()[:10])
            point["dailyRestingHeartRate"] = {"date": _date(day), family.value_field: field_value}
            self.csv_days.add((name, day))
        elif family.data_type == "heart-rate":
            point["heartRate"] = {"sampleTime": {"physicalTime": instant}, family.value_field: field_value}
            self.csv_days.add((name, date.fromisoformat(instant[:10])))
        else:
            end = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(minutes=1)
            interval = {"startTime": instant, "endTime": end.isoformat().replace("+00:00", "Z")}
            point[DATA_TYPE_BY_NAME[family.data_type].field] = {"interval": interval, family.value_field: field_value}
            self.csv_days.add((name, date.fromisoformat(instant[:10])))
        self.add(family.data_type, ROUTE_CSV, point)

    # ---- JSON --------------------------------------------------------------------------------------------
    def _json(self, member: str, name: str) -> None:
        match = JSON_FILE.match(name)
        family = match["family"] if match else None
        handlers: dict[str, Callable[[str, Any], None]] = {
            "heart_rate": self._heart_rate_json,
            "resting_heart_rate": self._resting_json,
            "time_in_heart_rate_zones": self._zones_json,
        }
        if family is None or (
            family not in handlers and family not in JSON_MINUTE_FAMILIES and family not in RAW_JSON_FAMILIES
        ):
            reason = "not imported (no silver table for it yet)" if family in KNOWN_UNUSED_JSON else "unknown file type"
            self.report.skip(member, reason, kind=f"{family or name} JSON")
            return
        with self.export.open(member) as raw:
            records = json.load(raw)  # one member (a day or ~30 days), streamed from the zip
        if not isinstance(records, list):
            self.report.skipped.append((member, "JSON is not an array of records"))
            return
        self.report.files_read[f"json {family}"] += 1
        if family in RAW_JSON_FAMILIES:
            for record in records:
                self._raw(RAW_JSON_FAMILIES[family], member, record)
            return
        data_type = JSON_DATA_TYPES.get(family) or JSON_MINUTE_FAMILIES[family][0]
        for record in records:
            try:
                if family in handlers:
                    handlers[family](family, record)
                else:
                    self._minute_json(family, record)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                self.reject(member, data_type, f"{type(exc).__name__}: {exc} in {_short(record)}", record)

    def _twin_landed(self, family: str, day: date) -> bool:
        twin = JSON_TWIN_OF_CSV.get(family)
        if twin and (twin, day) in self.csv_days:
            self.report.records_skipped_twin += 1
            return True
        return False

    def _heart_rate_json(self, family: str, record: dict[str, Any]) -> None:
        local = _us_datetime(record["dateTime"])
        if self._twin_landed(family, local.date()):
            return
        bpm = _number(record["value"]["bpm"])
        self.add("heart-rate", ROUTE_JSON, {"heartRate": {"sampleTime": {"civilTime": _civil(local)},
                                                          "beatsPerMinute": _int64(bpm)}})  # fmt: skip

    def _minute_json(self, family: str, record: dict[str, Any]) -> None:
        data_type, factor, value_field = JSON_MINUTE_FAMILIES[family]
        local = _us_datetime(record["dateTime"])
        if self._twin_landed(family, local.date()):
            return
        value = _number(record["value"]) * factor
        interval = {"civilStartTime": _civil(local), "civilEndTime": _civil(local + timedelta(minutes=1))}
        field_value = value if value_field == "kcal" else _int64(value)
        self.add(data_type, ROUTE_JSON, {DATA_TYPE_BY_NAME[data_type].field: {"interval": interval,
                                                                              value_field: field_value}})  # fmt: skip

    def _resting_json(self, family: str, record: dict[str, Any]) -> None:
        value = record["value"]
        day = _us_date(value.get("date") or record["dateTime"][:8])
        bpm = _number(value["value"])
        if bpm <= 0:  # days without a resting heart rate carry 0
            self.report.records_invalid += 1
            return
        if self._twin_landed(family, day):
            return
        point = {"dailyRestingHeartRate": {"date": _date(day), "beatsPerMinute": _int64(bpm)}}
        self.add("daily-resting-heart-rate", ROUTE_JSON, point)

    def _zones_json(self, family: str, record: dict[str, Any]) -> None:
        day = _us_datetime(record["dateTime"]).date()
        zones = record["value"]["valuesInZones"]
        minutes = [{"zone": str(zone), "minutes": _number(value)} for zone, value in sorted(zones.items())]
        point = {"dailyTimeInHeartRateZones": {"date": _date(day), "minutesInZones": minutes}}
        self.add(TAKEOUT_DAILY_ZONES.name, ROUTE_JSON, point)

    def _raw(self, kind: str, member: str, record: Any) -> None:
        when = ""
        if isinstance(record, dict):
            when = str(record.get("startTime") or record.get("dateOfSleep") or "")
        month = _raw_month(when)
        self.raw.add(kind, month, {"user_id": self.user_id, "file": member, "record": record})
        self.report.raw_landed[kind] += 1


def _date(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def _raw_month(when: str) -> str:
    """YYYY-MM of `"2018-02-01T22:36:00.000"` or `"01/01/18 14:25:33"`; `0000-00` when unknown."""
    if re.match(r"^\d{4}-\d{2}", when):
        return when[:7]
    if re.match(r"^\d{2}/\d{2}/\d{2}", when):
        try:
            return _us_date(when[:8]).strftime("%Y-%m")
        except ValueError:  # 13/45/24: not a date; the log lands as it is, with the unknown month
            return "0000-00"
    return "0000-00"


def import_takeout(
    path: Path,
    landing: LandingZone,
    *,
    user_id: str = "me",
    run_id: str | None = None,
    flush_every: int = DEFAULT_FLUSH_EVERY,
) -> TakeoutReport:
    """Import one Takeout export (a `.zip` or its unpacked folder) into the landing zone; returns the report.

    Example: `for line in import_takeout(Path("takeout.zip"), landing, user_id="ana").lines(): print(line)`.
    Raises `TakeoutArchiveError` only when the export cannot be opened or listed at all.
    """
    export = _Export(path)
    try:
        return _Importer(export, landing, user_id, run_id or new_run_id(), flush_every).run()
    finally:
        export.close()
