"""Strava's "Download your data" archive (zip or unpacked folder) -> landing zone, in the API's shapes.

Grain of what lands (the same prefixes the API sync writes, so bronze and silver have one path):
- `strava/activities/month=YYYY-MM/<run-id>.json`: one SummaryActivity-shaped record per `activities.csv` row,
  marked `"_route": "archive"` (the API's records carry no `_route`; silver reads a missing one as `api`);
  `id` is the archive's `Activity ID`, which is the API's activity id. Fields the archive has and the
  SummaryActivity lacks (description, gear name, calories, the file name, ...) ride along under `_archive`.
- `strava/activity_streams/month=YYYY-MM/<run-id>.json`: one `{"activity_id", "streams", "_route", "_file"}` per
  recorded file (`activities/*.fit|gpx|tcx[.gz]`), `streams` in the API's StreamSet shape.
- A row or file that cannot be converted lands as a record with `_rejected` (the reason) and the raw row or
  file name; bronze puts it in `bronze.quarantine` with that reason. Its neighbours land.

How `activities.csv` is read (evidence: the real archive in `realdata/strava-archive/`, `API_CONTRACTS.md` 8):
- Columns are found by name, after translating localized headers to English (German built in; any other
  language through a `{"localized": "English"}` JSON file, the shape of `strava-csv-mapping-de-en.json`).
- Names repeat today. `Distance`: the first is the display unit (km or miles: 3.32 in the sample), the
  second metres (3322.95, equal to the FIT session's `total_distance` 3322.95 m): the second is used, and
  a lone `Distance` is metres in the older layout and display kilometres in today's (noted in the report).
  `Elapsed Time`, `Max Heart Rate`, `Relative Effort`, `Commute`: the first is the summary block's copy,
  the second the detailed block's (1428 and 1428.0; `false` and 0.0); the later non-empty one is used,
  the earlier one fills in when it is empty.
- `Activity Date` ("May 29, 2022, 3:53:35 PM"; German "29.05.2022, 15:53:35") is UTC: the sample's FIT file
  starts (`session.start_time`, a UTC instant) at exactly 2022-05-29 15:53:35, and its device wrote a local
  time two hours later (Bonn, CEST). So `start_date` is the archive's date, and `start_date_local` /
  `utc_offset` come from the FIT's own offset, else from the `timezone` setting, else are left out.
- The pre-2019 layout (`id,date,name,type,description,elapsed_time,distance,commute,gear,filename`;
  distance in metres, ISO dates) is read through the same table of names.
- A column nobody knows is ignored and named in the report: a new column never stops an import.
- NaN or infinity is no measurement: in `Distance`, `Elapsed Time` or `Moving Time` (which the record cannot
  leave out: an empty one lands as 0, an empty time as the other time) it quarantines the row with its reason,
  as a word would; in any other number column it is left out (null).

Reading the archive: a zip is opened with `zipfile` (central directory only) and each member is read when
its turn comes, one activity file at a time; it is never unpacked. A zip whose central directory is gone
(a download cut short) is read front to back with stream-unzip, and every member complete before the
damage is used (the report says so; activities whose file lay after it land without streams). Member names
written with `\\` (PowerShell 5's Compress-Archive) are read as `/`; a name the zip holds twice is read once (the
report names it). A file a row names by an absolute path or with `..` is refused in a zip and a folder alike, and
in a folder so is one whose symbolic link leads out of the export folder (the one holding activities.csv): nothing
outside the archive is read; the report names each refused file, and its activity lands without streams. A file
a row names through a loop of symbolic links is named as such (unreadable, not missing). Two names of one file (one
a symbolic link to the other) are one file: named by two rows, its streams go to the first, as for one name named
twice. Listing a folder's `activities/` (for the files no row names) follows a symbolic link to a folder inside the
export and refuses one out of it (named and counted in the report, as is a link to nothing or a loop: nothing is
passed over without a word); a link to a file listed already is named as its second name. The folder named may
itself be a symbolic link: the folder it leads to is the export.

Verified against real files: today's English layout, the repeated columns, the UTC dates and the FIT of the
real sample; the FIT and GPX recordings in `realdata/tracks/`. Resting on documentation and third-party
descriptions only: the German header names (the mapping file) and date form `DD.MM.YYYY, HH:MM:SS` with
decimal commas, the pre-2019 layout's exact columns, the `.tcx` with leading blanks (a synthetic file
here), and the sport names that need a spelling (`SPORT_TYPE_SPELLINGS`).

Afterwards the Strava sync's watermark (`_state/strava.json`, see `lakehouse.sources.sync`) moves to the
newest archived start if that is ahead of it, and the archived activities of the last overlap window are
recorded as already pulled: the next `ingest strava` lists only the overlap window and what is newer, and
fetches no details or streams for activities the archive brought.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stream_unzip import UnzipError, stream_unzip

from lakehouse.landing import LandingZone, new_run_id
from lakehouse.sources.activity_files import ActivityFileError, Recording, UnknownFileTypeError, read_recording
from lakehouse.sources.clock import epoch_seconds, from_epoch, iso_utc, parse_iso_utc
from lakehouse.sources.strava import DEFAULT_OVERLAP, ENTITY_ACTIVITIES, ENTITY_STREAMS, SOURCE, activity_month
from lakehouse.sources.sync import MonthlyBatches, load_state, save_state
from lakehouse.sources.zip_members import (
    LinkLoopError,
    RefusedMemberError,
    Unlisted,
    folder_file,
    folder_members,
    index_members,
    member_name,
    missing_reason,
    outside_reason,
    real_path,
    repeated_note,
)

ROUTE = "archive"
ACTIVITIES_CSV = "activities.csv"
PROFILE_CSV = "profile.csv"
ATHLETE_ID_HINT = " (the number in your Strava profile's address, strava.com/athletes/N)"
ACTIVITIES_FOLDER = "activities/"
FLUSH_EVERY_RECORDINGS = 50  # land buffered streams every 50 files: memory stays flat on a 10-year archive
MAX_RAW_ROW_CHARS = 4_000
SALVAGE_CHUNK_BYTES = 1 << 20
FIRST_ROW = "its streams go to the first"  # a file two rows name (by one name, or two names of one file)
# What reading one member can raise: damaged (CRC, deflate), encrypted (RuntimeError: password required), or
# compressed with a method zipfile lacks (NotImplementedError: Deflate64, which some Windows tools write).
UNREADABLE_MEMBER = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError)

# Localized header -> English. German from Strava's own export (the names in strava-csv-mapping-de-en.json).
GERMAN_HEADERS: dict[str, str] = {
    "Aktivitäts-ID": "Activity ID", "Aktivitätsdatum": "Activity Date", "Name der Aktivität": "Activity Name",
    "Aktivitätsart": "Activity Type", "Aktivitätsbeschreibung": "Activity Description",
    "Verstrichene Zeit": "Elapsed Time", "Distanz": "Distance", "Max. Herzfrequenz": "Max Heart Rate",
    "Relative Leistung": "Relative Effort", "Pendeln": "Commute", "Aktivitätsausrüstung": "Activity Gear",
    "Dateiname": "Filename", "Bewegungszeit": "Moving Time", "Höchstgeschw.": "Max Speed",
    "Durchschnittliche Geschwindigkeit": "Average Speed", "Höhenzunahme": "Elevation Gain",
    "Höhenunterschied": "Elevation Loss", "Min. Höhe": "Elevation Low", "Max. Höhe": "Elevation High",
    "Durchschnittliche Trittfrequenz": "Average Cadence", "Durchschnittliche Herzfrequenz": "Average Heart Rate",
    "Max. Watt": "Max Watts", "Durchschnittliche Watt": "Average Watts", "Kalorien": "Calories",
    "Durchschnittliche Temperatur": "Average Temperature", "Gesamtarbeit": "Total Work",
    "Gewichtete durchschnittliche Leistung": "Weighted Average Power", "Von Upload": "From Upload",
    "Markiert": "Flagged", "Sportlergewicht": "Athlete Weight", "Fahrradgewicht": "Bike Weight",
    "Startzeit": "Start Time", "Art": "Type", "Medien": "Media",
}  # fmt: skip
# The pre-2019 layout's lower-case names.
OLDER_HEADERS: dict[str, str] = {
    "id": "Activity ID", "date": "Activity Date", "name": "Activity Name", "type": "Activity Type",
    "description": "Activity Description", "elapsed_time": "Elapsed Time", "moving_time": "Moving Time",
    "distance": "Distance", "commute": "Commute", "gear": "Activity Gear", "filename": "Filename",
}  # fmt: skip
PROFILE_ATHLETE_ID = ("Athlete ID", "Athleten-ID", "athlete_id", "id")

# Every English column this importer reads or knowingly skips; anything else is reported as new.
KNOWN_COLUMNS = frozenset(
    {
        "Activity ID", "Activity Date", "Activity Name", "Activity Type", "Activity Description", "Elapsed Time",
        "Distance", "Max Heart Rate", "Relative Effort", "Commute", "Activity Private Note", "Activity Gear",
        "Filename", "Athlete Weight", "Bike Weight", "Moving Time", "Max Speed", "Average Speed", "Elevation Gain",
        "Elevation Loss", "Elevation Low", "Elevation High", "Max Grade", "Average Grade", "Average Positive Grade",
        "Average Negative Grade", "Max Cadence", "Average Cadence", "Average Heart Rate", "Max Watts",
        "Average Watts", "Calories", "Max Temperature", "Average Temperature", "Total Work", "Number of Runs",
        "Uphill Time", "Downhill Time", "Other Time", "Perceived Exertion", "Type", "Start Time",
        "Weighted Average Power", "Power Count", "Prefer Perceived Exertion", "Perceived Relative Effort",
        "Total Weight Lifted", "From Upload", "Grade Adjusted Distance", "Weather Observation Time",
        "Weather Condition", "Weather Temperature", "Apparent Temperature", "Dewpoint", "Humidity",
        "Weather Pressure", "Wind Speed", "Wind Gust", "Wind Bearing", "Precipitation Intensity", "Sunrise Time",
        "Sunset Time", "Moon Phase", "Bike", "Gear", "Precipitation Probability", "Precipitation Type",
        "Cloud Cover", "Weather Visibility", "UV Index", "Weather Ozone", "Jump Count", "Total Grit",
        "Average Flow", "Flagged", "Average Elapsed Speed", "Dirt Distance", "Newly Explored Distance",
        "Newly Explored Dirt Distance", "Activity Count", "Total Steps", "Carbon Saved", "Pool Length",
        "Training Load", "Intensity", "Average Grade Adjusted Pace", "Timer Time", "Total Cycles", "Media",
        "Recovery", "With Pet", "Competition", "Long Run", "For a Cause", "Downhill Distance",
    }
)  # fmt: skip

DATE_FORMATS = (
    "%b %d, %Y, %I:%M:%S %p",  # today's English export: May 29, 2022, 3:53:35 PM
    "%d.%m.%Y, %H:%M:%S",  # German: 29.05.2022, 15:53:35
    "%Y-%m-%d %H:%M:%S",  # the pre-2019 layout
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
)
# Display names of sport types -> the API's SportType spelling, where dropping spaces and hyphens is not enough.
SPORT_TYPE_SPELLINGS = {
    "Rock Climb": "RockClimbing", "Hand Cycle": "Handcycle", "HIIT": "HighIntensityIntervalTraining",
    "Stand Up Paddling": "StandUpPaddling", "Weight Training": "WeightTraining", "Elliptical": "Elliptical",
}  # fmt: skip
TRUE_WORDS = frozenset({"true", "1", "1.0", "wahr", "ja", "yes"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "falsch", "nein", "no"})


class ArchiveError(ValueError):
    """The path is no Strava archive the import can read (the message says what is wrong)."""


class MissingAthleteIdError(ArchiveError):
    """Neither the archive's profile.csv nor the command line gives the athlete id."""


class BadRowError(ValueError):
    """One activities.csv row with a value that cannot be converted (the message names it)."""


@dataclass
class ArchiveReport:
    """What one import did: counts, and one line per problem worth a reader's attention."""

    source: str
    run_id: str
    athlete_id: int | None = None
    layout: str = ""
    rows_read: int = 0
    activities_landed: int = 0
    rows_quarantined: int = 0
    manual_activities: int = 0  # rows without a recorded file
    files_parsed: Counter[str] = field(default_factory=Counter)  # kind -> files
    files_failed: Counter[str] = field(default_factory=Counter)  # kind (or "unknown") -> files
    files_missing: int = 0
    links_refused: int = 0  # in a folder: links under activities/ out of the export, to a folder or to nothing
    streams_landed: int = 0
    newest_start: str | None = None
    watermark_before: str | None = None
    watermark_after: str | None = None
    lines: list[str] = field(default_factory=list)
    landed_files: int = 0

    @property
    def ok(self) -> bool:
        """True when every row landed, every named file was read and no link led out of the export."""
        return not (
            self.rows_quarantined or sum(self.files_failed.values()) or self.files_missing or self.links_refused
        )


# ---- the archive: a zip or a folder, read member by member -----------------------------------------------


def linked_file(folder: Path, name: str, max_folders: int = 2_000) -> Path | None:
    """A `name` reached only through a symbolic link to a folder (`~/exports/strava -> /data/export_123` when
    `~/exports` is named; `Path.rglob` passes over such links), for the error that says which folder to name; or None.

    `folder` is walked a level at a time, through links to folders, each real folder once (a loop of links ends),
    no deeper than the level a `name` is found on, and over `max_folders` folders at most (a link to `/`)."""
    level, seen = [folder], set()
    while level and len(seen) < max_folders:
        hits = sorted(str(place / name) for place in level if (place / name).is_file() or (place / name).is_symlink())
        if hits:
            return Path(hits[0])
        deeper: list[Path] = []
        for place in level:
            real = real_path(place)
            if real is None or real in seen:
                continue
            seen.add(real)
            try:
                entries = sorted(entry.name for entry in os.scandir(place) if _is_folder(entry))
            except OSError:  # a folder that cannot be listed: nothing in it is found
                continue
            deeper += [place / entry for entry in entries]
        level = deeper
    return None


def _where_else(path: Path) -> str:
    """The rest of the error for a folder without activities.csv: the folder to name when a symbolic link leads to
    one (the export is the folder holding activities.csv, and a link out of it is not followed: name it)."""
    linked = linked_file(path, ACTIVITIES_CSV)
    if linked is None:
        return "is it a Strava archive?"
    shown, real = linked.parent.relative_to(path), real_path(linked.parent)
    return f"{shown} leads through a symbolic link to {real}, which holds one: import that folder"


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether a folder entry is a folder or a symbolic link to one (False for a loop of links, not an error)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


class ArchiveSource:
    """Read access to an archive's members by their path inside it (`activities.csv`, `activities/1.fit.gz`).

    A zip is opened with `zipfile` (it reads the central directory, then streams one member at a time). A zip
    whose central directory is gone (a download cut short) is *salvaged*: stream-unzip reads it front to back
    and every member complete before the damage is used; `salvage_note` says what happened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._root = ""
        self._salvaged: dict[str, bytes | None] | None = None  # complete members; CSVs kept, files streamed
        self._infos: dict[str, zipfile.ZipInfo] = {}  # member name with `/` -> the copy read
        self.salvage_note: str | None = None
        self.repeated: list[str] = []  # member names the zip holds more than once; each is read once
        if path.is_dir():
            found = sorted(path.rglob(ACTIVITIES_CSV), key=lambda p: len(p.parts))
            if not found:
                raise ArchiveError(f"{path}: no {ACTIVITIES_CSV} in this folder; {_where_else(path)}")
            root = str(found[0].parent.relative_to(path)).replace("\\", "/")
            self._root = "" if root == "." else root
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)  # reads only the central directory; members stream on open
                self._infos, self.repeated = index_members(self._zip.infolist())
                members = list(self._infos)
            except zipfile.BadZipFile as exc:
                members = self._salvage(f"{exc}")
            csvs = sorted((n for n in members if PurePosixPath(n).name == ACTIVITIES_CSV), key=len)
            if not csvs:
                cut = f" before the damage ({self.salvage_note})" if self.salvage_note else ""
                raise ArchiveError(f"{path}: no {ACTIVITIES_CSV} in this zip{cut}; is it a Strava archive?")
            root = str(PurePosixPath(csvs[0]).parent)
            self._root = "" if root == "." else root
        else:
            raise ArchiveError(f"{path}: {missing_reason(path)}")
        if self._root:
            self._root += "/"

    # ---- salvage of a zip without its central directory -----------------------------------------------
    def _chunks(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(SALVAGE_CHUNK_BYTES):
                yield chunk

    def _stream_members(self, keep: Callable[[str], bool]) -> Iterator[tuple[str, bytes | None]]:
        """(name, bytes if `keep(name)` else None) of each complete member, front to back; stops at the damage.

        Each member is read whole (stream-unzip needs it consumed before the next) before it is yielded, so a
        member cut by the damage is never handed out.
        """
        try:
            for raw_name, _size, chunks in stream_unzip(self._chunks()):
                name = member_name(raw_name.decode("utf-8", errors="replace"))
                if keep(name):
                    data: bytes | None = b"".join(chunks)
                else:
                    data = None
                    for _ in chunks:
                        pass
                yield name, data
        except UnzipError as exc:
            if self.salvage_note is None or "stopped" not in self.salvage_note:
                detail = f"{type(exc).__name__} {exc}".strip()
                self.salvage_note = (self.salvage_note or "") + f"; reading stopped at the damage ({detail})"

    def _salvage(self, reason: str) -> list[str]:
        self.salvage_note = f"not a complete zip ({reason}): salvaged the members before the damage"
        self._salvaged = {}
        for name, data in self._stream_members(lambda name: PurePosixPath(name).name in (ACTIVITIES_CSV, PROFILE_CSV)):
            if name in self._salvaged and name not in self.repeated:
                self.repeated.append(name)
            self._salvaged.setdefault(name, data)  # the first complete copy, as members() streams it
        return list(self._salvaged)

    @property
    def salvaged(self) -> bool:
        """True when the zip was damaged and only its readable front part is used."""
        return self._salvaged is not None

    # ---- access ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the zip file, if any."""
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> ArchiveSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _zip_names(self) -> list[str]:
        names = list(self._salvaged) if self._salvaged is not None else list(self._infos)
        return [n[len(self._root) :] for n in names if n.startswith(self._root) and not n.endswith("/")]

    def names(self, prefix: str = "") -> tuple[list[str], list[Unlisted]]:
        """Member paths (relative to the archive root) under `prefix`, files only; and, in a folder, what was not
        listed with the reason (`folder_members`: a symbolic link to a folder out of the export is refused, one
        inside it followed)."""
        if self._zip is not None or self._salvaged is not None:
            return [n for n in self._zip_names() if n.startswith(prefix)], []
        return folder_members(self.path / self._root, prefix)

    def exists(self, name: str) -> bool:
        """Whether the member is in the archive (for a salvaged zip: complete before the damage)."""
        if self._salvaged is not None:
            return self._root + name in self._salvaged
        if self._zip is not None:
            return self._root + name in self._infos
        return (self.path / self._root / name).is_file()

    def present(self, name: str) -> bool:
        """Whether `name` is there to be read: a member (`exists`), or in a folder a name a loop of symbolic links
        stands in the way of (`exists` says False; `read` says why it cannot be read: it is not missing)."""
        if self.exists(name):
            return True
        return self._zip is None and self._salvaged is None and real_path(self.path / self._root / name) is None

    def file_key(self, name: str) -> str:
        """Which file `name` stands for: in a folder the real file's path when it lies inside the export, so a
        symbolic link and the file it leads to give one key (`_Import` reads that file once); else the name."""
        if self._zip is not None or self._salvaged is not None or outside_reason(name) is not None:
            return name
        base = (self.path / self._root).resolve()
        real = real_path(base / name)
        return str(real) if real is not None and real.is_relative_to(base) and real.is_file() else name

    def read(self, name: str) -> bytes:
        """One member's bytes (a CSV, or one activity file; the archive itself is never read whole); in a folder,
        `RefusedMemberError` for a file outside the export folder (the one holding activities.csv), `LinkLoopError`
        for one behind a loop of symbolic links."""
        if self._salvaged is not None:
            data = self._salvaged.get(self._root + name)
            if data is None:
                raise ArchiveError(f"{name}: not kept from the salvaged zip; read it through members()")
            return data
        if self._zip is not None:
            with self._zip.open(self._infos[self._root + name]) as member:
                return member.read()
        return folder_file(self.path / self._root, name).read_bytes()

    def members(self, wanted: Iterable[str]) -> Iterator[tuple[str, bytes | Exception]]:
        """Each wanted member that exists, with its bytes or the error reading it, in the archive's order; a name
        leading out of the archive (`outside_reason`) first, with its `RefusedMemberError`, whether it exists or not."""
        wanted = set(wanted)
        for name in sorted(wanted):
            reason = outside_reason(name)
            if reason is not None:
                wanted.discard(name)
                yield name, RefusedMemberError(reason)
        if self._salvaged is not None:
            root = self._root
            seen: set[str] = set()
            # Under the root only: `other_12/activities/1.gpx` is not `export_1/`'s file (its prefix is as long).
            for name, data in self._stream_members(lambda name: name.startswith(root) and name[len(root) :] in wanted):
                if data is not None and name not in seen:  # a name the zip holds twice: its first complete copy
                    seen.add(name)
                    yield name[len(root) :], data
            return
        for name in sorted(wanted):
            if not self.present(name):
                continue
            try:
                payload: bytes | Exception = self.read(name)
            except (*UNREADABLE_MEMBER, RefusedMemberError) as exc:  # damaged, encrypted, Deflate64, a link out, a loop
                payload = exc
            yield name, payload

    def read_table(self, name: str) -> bytes:
        """A CSV the import cannot go without (activities.csv, profile.csv); `ArchiveError` when it cannot be read."""
        try:
            return self.read(name)
        except RefusedMemberError as exc:
            raise ArchiveError(f"{self.path.name}: {name} is refused: {exc}") from None
        except LinkLoopError as exc:
            raise ArchiveError(f"{self.path.name}: {name} cannot be read: {exc}") from None
        except UNREADABLE_MEMBER as exc:
            raise ArchiveError(
                f"{self.path.name}: {name} cannot be read ({type(exc).__name__}: {exc}); the zip is damaged, "
                "encrypted or compressed with a method Python cannot read: unpack it and import the folder"
            ) from None


# ---- activities.csv ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where each English column sits in the header (every position of a repeated name)."""

    positions: dict[str, list[int]]
    layout: str  # "current" | "older"
    unknown: tuple[str, ...]
    translated: int  # how many header names were translated from another language

    def values(self, row: list[str], name: str) -> list[str]:
        """The row's non-empty values of every column called `name`, in header order."""
        return [row[i].strip() for i in self.positions.get(name, []) if i < len(row) and row[i].strip()]


def load_header_map(path: Path) -> dict[str, str]:
    """A `{"localized header": "English header"}` JSON file (the shape of strava-csv-mapping-de-en.json)."""
    mapping = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ArchiveError(f"{path}: a header map is a JSON object of localized name -> English name")
    return {str(k): v for k, v in mapping.items()}


def resolve_columns(header: list[str], header_map: Mapping[str, str] | None = None) -> Columns:
    """Translate and index a header: `resolve_columns(["Aktivitäts-ID", "Distanz"]).positions["Distance"] == [1]`."""
    translations = {**GERMAN_HEADERS, **(header_map or {})}
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    older = "id" in cleaned and "Activity ID" not in cleaned and not any(h in translations for h in cleaned)
    positions: dict[str, list[int]] = {}
    unknown: list[str] = []
    translated = 0
    for index, name in enumerate(cleaned):
        english = OLDER_HEADERS.get(name) if older else translations.get(name, name)
        if english is None:
            english = name
        translated += english != name and not older  # the older layout's own names are not a language
        if english not in KNOWN_COLUMNS:
            unknown.append(name)
        positions.setdefault(english, []).append(index)
    if "Activity ID" not in positions or "Activity Date" not in positions:
        raise ArchiveError(
            f"{ACTIVITIES_CSV}: no Activity ID / Activity Date column in the header (starts {cleaned[:4]}); "
            "for a language other than English or German pass --header-map FILE"
        )
    return Columns(positions, "older" if older else "current", tuple(unknown), translated)


def parse_archive_date(text: str) -> datetime:
    """An archive date as a UTC instant: `parse_archive_date("May 29, 2022, 3:53:35 PM")` is 15:53:35 UTC."""
    cleaned = " ".join(text.replace("\u202f", " ").split())
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise BadRowError(f"Activity Date {text!r} is not a date Strava writes (e.g. 'May 29, 2022, 3:53:35 PM')")


def parse_number(text: str, column: str) -> float:
    """A number as the archive writes it, decimal point or (German) decimal comma: `parse_number("3,32", "x")`."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if "," in cleaned:
        if "." in cleaned and cleaned.rfind(".") > cleaned.rfind(","):
            cleaned = cleaned.replace(",", "")  # 1,234.5
        else:
            cleaned = cleaned.replace(".", "").replace(",", ".")  # 1.234,5 or 3,32
    try:
        value = float(cleaned)
    except ValueError:
        raise BadRowError(f"{column} {text!r} is not a number") from None
    if math.isinf(value):  # "1e309" or "inf": beyond a double, no measurement
        raise BadRowError(f"{column} {text!r} is not a finite number")
    return value


def sport_type(display: str) -> str:
    """The API's SportType for an archive's display name: `sport_type("Trail Run") == "TrailRun"`."""
    return SPORT_TYPE_SPELLINGS.get(display.strip(), re.sub(r"[\s\-]+", "", display.strip()))


def _boolean(text: str, column: str) -> bool:
    """`true`/`false` (the summary block), or a number, 0 being false (the detailed block: `0.0`, German `0,0`)."""
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    try:
        return parse_number(lowered, column) != 0
    except BadRowError:
        raise BadRowError(f"{column} {text!r} is neither true nor false") from None


class _Row:
    """One activities.csv row read through its `Columns`."""

    def __init__(self, row: list[str], columns: Columns) -> None:
        self.row = row
        self.columns = columns

    def text(self, name: str) -> str | None:
        values = self.columns.values(self.row, name)
        return values[0] if values else None

    def number(self, name: str) -> float | None:
        """The later (detailed-block) value of a repeated column, the earlier when the later is empty."""
        values = self.columns.values(self.row, name)
        return _finite(parse_number(values[-1], name)) if values else None

    def measured(self, name: str) -> float | None:
        """As `number`, for a value the record cannot leave out (`_measured`): NaN is a bad row, as infinity is."""
        values = self.columns.values(self.row, name)
        return _measured(values[-1], name) if values else None

    def flag(self, name: str) -> bool | None:
        values = self.columns.values(self.row, name)
        return _boolean(values[-1], name) if values else None

    def distance_m(self) -> tuple[float | None, str | None]:
        """Metres, and a note when only the display-unit distance exists; NaN is a bad row, as infinity is."""
        indexes = self.columns.positions.get("Distance", [])
        if len(indexes) >= 2:
            metres = self.row[indexes[1]].strip() if indexes[1] < len(self.row) else ""
            return (_measured(metres, "Distance") if metres else None), None
        value = self.measured("Distance")
        if value is None or self.columns.layout == "older":
            return value, None
        return value * 1000, "only the display Distance column: read as kilometres"


def _finite(value: float) -> float | None:
    """NaN (JSON has none) is a missing value; `parse_number` already refused infinity."""
    return value if math.isfinite(value) else None


def _measured(text: str, column: str) -> float:
    """A number the record cannot leave out (the API always sends `distance`, `elapsed_time`, `moving_time`): a
    missing one lands as 0 (a missing time as the other time), so NaN would pass for a measured 0 m or a time never
    recorded; it is refused, as `parse_number` refuses infinity."""
    value = parse_number(text, column)
    if math.isnan(value):
        raise BadRowError(f"{column} {text!r} is not a finite number")
    return value


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def _drop_none(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


def row_to_summary(row: list[str], columns: Columns, athlete_id: int) -> tuple[dict[str, Any], list[str]]:
    """One activities.csv row -> a SummaryActivity-shaped record (and notes); `BadRowError` names a bad value.

    Example: the sample row gives `{"id": 12070555079, "distance": 3322.949951171875, "elapsed_time": 1428,
    "start_date": "2022-05-29T15:53:35Z", "sport_type": "Run", ...}`.
    """
    values = _Row(row, columns)
    raw_id = values.text("Activity ID")
    if raw_id is None:
        raise BadRowError("no Activity ID")
    try:
        activity_id = int(raw_id)
    except ValueError:
        raise BadRowError(f"Activity ID {raw_id!r} is not a whole number") from None
    raw_date = values.text("Activity Date")
    if raw_date is None:
        raise BadRowError("no Activity Date")
    started = parse_archive_date(raw_date)
    distance, distance_note = values.distance_m()
    elapsed = _whole(values.measured("Elapsed Time"))
    moving = _whole(values.measured("Moving Time"))
    display_type = values.text("Activity Type")
    average_hr = values.number("Average Heart Rate")
    filename = values.text("Filename")
    if filename is not None:
        filename = member_name(filename)  # `activities\1.gpx` is the member `activities/1.gpx`
    record = _drop_none(
        {
            "id": activity_id,
            "resource_state": 2,
            "athlete": {"id": athlete_id},
            "name": values.text("Activity Name") or "",
            "type": sport_type(display_type) if display_type else None,
            "sport_type": sport_type(display_type) if display_type else None,
            "start_date": iso_utc(started),
            "distance": distance if distance is not None else 0.0,
            "elapsed_time": elapsed if elapsed is not None else (moving or 0),
            "moving_time": moving if moving is not None else (elapsed or 0),
            "total_elevation_gain": values.number("Elevation Gain"),
            "elev_high": values.number("Elevation High"),
            "elev_low": values.number("Elevation Low"),
            "average_speed": values.number("Average Speed"),
            "max_speed": values.number("Max Speed"),
            "has_heartrate": average_hr is not None,
            "average_heartrate": average_hr,
            "max_heartrate": values.number("Max Heart Rate"),
            "average_cadence": values.number("Average Cadence"),
            "average_watts": values.number("Average Watts"),
            "max_watts": values.number("Max Watts"),
            "weighted_average_watts": values.number("Weighted Average Power"),
            "average_temp": values.number("Average Temperature"),
            "suffer_score": values.number("Relative Effort"),
            "commute": values.flag("Commute"),
            "flagged": values.flag("Flagged"),
            "manual": filename is None,
            "calories": values.number("Calories"),
            "_route": ROUTE,
            "_archive": _drop_none(
                {
                    "description": values.text("Activity Description"),
                    "private_note": values.text("Activity Private Note"),
                    "gear": values.text("Activity Gear"),
                    "filename": filename,
                    "elevation_loss_m": values.number("Elevation Loss"),
                    "total_work_j": values.number("Total Work"),
                    "display_type": display_type,
                }
            ),
        }
    )
    if "type" not in record:
        raise BadRowError("no Activity Type")
    return record, [distance_note] if distance_note else []


def _read_profile_athlete(archive: ArchiveSource) -> int | None:
    """The Athlete ID profile.csv gives; None without profile.csv or an id in it. `ArchiveError` when profile.csv is
    there but cannot be read (a symbolic link out of the export or in a loop, a damaged member)."""
    if not archive.present(PROFILE_CSV):
        return None
    text = archive.read_table(PROFILE_CSV).decode("utf-8-sig", errors="replace")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for name in PROFILE_ATHLETE_ID:
        if rows and (rows[0].get(name) or "").strip().isdigit():
            return int(rows[0][name].strip())
    return None


def _local_fields(started: datetime, offset_s: int | None, timezone: str | None) -> dict[str, Any]:
    """`start_date_local` (wall time with the API's misleading `Z`) and `utc_offset`, when known."""
    if offset_s is None and timezone:
        offset = started.astimezone(ZoneInfo(timezone)).utcoffset()
        offset_s = None if offset is None else round(offset.total_seconds())
    if offset_s is None:
        return {}
    local = started + timedelta(seconds=offset_s)
    return {"start_date_local": local.strftime("%Y-%m-%dT%H:%M:%SZ"), "utc_offset": float(offset_s)}


class _CsvReader:
    """A `csv.reader` whose `csv.Error` (a quote never closed, so a field past 128 KB) is an `ArchiveError` naming
    the line, not a bare `_csv.Error`."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    @property
    def line_num(self) -> int:
        return int(self.reader.line_num)

    def __iter__(self) -> _CsvReader:
        return self

    def __next__(self) -> list[str]:
        try:
            return list(next(self.reader))
        except csv.Error as exc:
            raise ArchiveError(f"{ACTIVITIES_CSV} line {self.reader.line_num}: not readable as CSV ({exc})") from None


def _rejected(reason: str, raw: Any, **extra: Any) -> dict[str, Any]:
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    return {"_route": ROUTE, "_rejected": reason, "_raw": text[:MAX_RAW_ROW_CHARS], **extra}


# ---- the import -------------------------------------------------------------------------------------------


class _Import:
    """One import run: the rows first, then their files in the archive's order, then the activities."""

    def __init__(
        self,
        archive: ArchiveSource,
        landing: LandingZone,
        report: ArchiveReport,
        athlete_id: int,
        timezone: str | None,
        now: datetime,
    ) -> None:
        self.archive = archive
        self.landing = landing
        self.report = report
        self.athlete_id = athlete_id
        self.timezone = timezone
        self.reject_month = now.strftime("%Y-%m")
        self.batches = MonthlyBatches(landing, SOURCE, report.run_id)
        self.starts: dict[int, int] = {}  # landed activity id -> start epoch
        self.notes: Counter[str] = Counter()
        self.buffered_recordings = 0
        self.referenced: set[str] = set()

    def rows(self, header_map: Mapping[str, str] | None) -> Iterator[tuple[int, list[str], Columns]]:
        text = self.archive.read_table(ACTIVITIES_CSV).decode("utf-8-sig", errors="replace")
        reader = _CsvReader(csv.reader(io.StringIO(text, newline="")))
        try:
            header = next(reader)
        except StopIteration:
            raise ArchiveError(f"{ACTIVITIES_CSV} is empty") from None
        columns = resolve_columns(header, header_map)
        translated = f", {columns.translated} headers translated" if columns.translated else ""
        self.report.layout = columns.layout + translated
        if columns.unknown:
            self.report.lines.append(
                f"{ACTIVITIES_CSV}: {len(columns.unknown)} column(s) this importer does not know, ignored: "
                + ", ".join(columns.unknown)
            )
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if [c.strip() for c in row] == [h.strip() for h in header]:
                self.notes["repeated header line skipped"] += 1
                continue
            yield reader.line_num, row, columns

    def run(self, header_map: Mapping[str, str] | None) -> None:
        records = self._read_rows(header_map)
        by_file: dict[str, dict[str, Any]] = {}
        first_names: dict[str, str] = {}  # file_key -> the first name a row gives that file
        for record in records:
            filename = record["_archive"].get("filename")
            if not filename:
                continue
            self.referenced.add(filename)
            first = first_names.setdefault(self.archive.file_key(filename), filename)
            if first != filename:
                self.notes[f"{filename} and {first}, one file (a symbolic link), named by two rows: {FIRST_ROW}"] += 1
            elif filename in by_file:
                self.notes[f"{filename} named by two rows: {FIRST_ROW}"] += 1
            else:
                by_file[filename] = record
        recordings = self._read_files(by_file)
        for record in records:
            recording = recordings.get(record["id"])
            started = parse_iso_utc(record["start_date"])
            record.update(_local_fields(started, recording[0] if recording else None, self.timezone))
            if recording is not None:
                record["start_latlng"], record["end_latlng"] = recording[1], recording[2]
            self.batches.add(ENTITY_ACTIVITIES, activity_month(record), record)
            self.starts[record["id"]] = epoch_seconds(started)
            self.report.activities_landed += 1
            self.report.manual_activities += record["manual"]

    def _read_rows(self, header_map: Mapping[str, str] | None) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        seen: dict[int, int] = {}
        for line, row, columns in self.rows(header_map):
            self.report.rows_read += 1
            try:
                record, notes = row_to_summary(row, columns, self.athlete_id)
                if record["id"] in seen:
                    raise BadRowError(f"Activity ID {record['id']} repeats line {seen[record['id']]}")
            except BadRowError as exc:
                self._reject_row(line, row, columns, str(exc))
                continue
            seen[record["id"]] = line
            for note in notes:
                self.notes[note] += 1
            records.append(record)
        return records

    def _read_files(
        self, by_file: Mapping[str, dict[str, Any]]
    ) -> dict[int, tuple[int | None, list[float], list[float]]]:
        """Parse and land each named file; per activity id its (utc offset, first latlng, last latlng)."""
        found: dict[int, tuple[int | None, list[float], list[float]]] = {}
        reached: set[str] = set()
        for filename, payload in self.archive.members(by_file):
            reached.add(filename)
            recording = self._recording(by_file[filename], filename, payload)
            if recording is not None:
                found[by_file[filename]["id"]] = (
                    recording.utc_offset_s, recording.first_latlng(), recording.last_latlng()
                )  # fmt: skip
            if self.buffered_recordings >= FLUSH_EVERY_RECORDINGS:
                self.flush()
        missing = sorted(set(by_file) - reached)
        if missing:
            self.report.files_missing += len(missing)
            where = " (or after the damaged part)" if self.archive.salvaged else ""
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            self.report.lines.append(
                f"{len(missing)} file(s) named in {ACTIVITIES_CSV} are not in the archive{where}: {shown}; "
                "those activities land without streams"
            )
        return found

    def _reject_row(self, line: int, row: list[str], columns: Columns, reason: str) -> None:
        named = {name: row[i] for name, indexes in columns.positions.items() for i in indexes[:1] if i < len(row)}
        self.batches.add(
            ENTITY_ACTIVITIES,
            self.reject_month,
            _rejected(f"{ACTIVITIES_CSV} line {line}: {reason}", named, athlete={"id": self.athlete_id}),
        )
        self.report.rows_quarantined += 1
        self.report.lines.append(f"{ACTIVITIES_CSV} line {line}: quarantined: {reason}")

    def _recording(self, record: dict[str, Any], filename: str, payload: bytes | Exception) -> Recording | None:
        month = activity_month(record)
        if isinstance(payload, RefusedMemberError):
            self._reject_file(record, filename, month, "refused", f"refused: {payload}")
            return None
        if isinstance(payload, LinkLoopError):
            self._reject_file(record, filename, month, "unreadable", f"{payload}: not read")
            return None
        if isinstance(payload, Exception):
            self._reject_file(record, filename, month, "unreadable", f"cannot read from the archive: {payload}")
            return None
        try:
            recording = read_recording(filename, payload)
        except UnknownFileTypeError as exc:
            self._reject_file(record, filename, month, "unknown", str(exc))
            return None
        except ActivityFileError as exc:
            kind = filename.lower().removesuffix(".gz").rsplit(".", 1)[-1]
            self._reject_file(record, filename, month, kind, str(exc))
            return None
        self.batches.add(
            ENTITY_STREAMS,
            month,
            {"activity_id": record["id"], "streams": recording.streams, "_route": ROUTE, "_file": filename},
        )
        self.report.files_parsed[recording.kind] += 1
        self.report.streams_landed += 1
        self.buffered_recordings += 1
        return recording

    def _reject_file(self, record: dict[str, Any], filename: str, month: str, kind: str, reason: str) -> None:
        self.batches.add(
            ENTITY_STREAMS,
            month,
            _rejected(f"{filename}: {reason}", filename, activity_id=record["id"], _file=filename),
        )
        self.report.files_failed[kind] += 1
        self.report.lines.append(f"{filename} (activity {record['id']}): {reason}; the activity lands without streams")

    def flush(self) -> None:
        self.report.landed_files += len(self.batches.flush())
        self.buffered_recordings = 0

    def finish(self) -> None:
        self.flush()
        if self.archive.salvage_note:
            self.report.lines.insert(0, f"{self.archive.path.name}: {self.archive.salvage_note}")
        repeated = repeated_note(self.archive.repeated)
        if repeated:
            self.report.lines.append(repeated)
        for note, count in sorted(self.notes.items()):
            self.report.lines.append(f"{ACTIVITIES_CSV}: {note} ({count}x)")
        in_folder, unlisted = self.archive.names(ACTIVITIES_FOLDER)
        for entry in unlisted:
            self.report.lines.append(f"{entry.name}: {entry.reason}")
            self.report.links_refused += entry.refused
        named_files = {self.archive.file_key(name) for name in self.referenced}  # a link named: its file is named
        unnamed = [name for name in in_folder if self.archive.file_key(name) not in named_files]
        if unnamed:
            shown = ", ".join(unnamed[:5]) + (f" and {len(unnamed) - 5} more" if len(unnamed) > 5 else "")
            self.report.lines.append(f"{len(unnamed)} file(s) in {ACTIVITIES_FOLDER} named by no row, ignored: {shown}")
        if not in_folder and not unlisted and self.report.activities_landed > self.report.manual_activities:
            self.report.lines.append(f"no {ACTIVITIES_FOLDER} folder in the archive: activities land without streams")


def advance_watermark(
    landing: LandingZone, starts: Mapping[int, int], report: ArchiveReport, overlap: timedelta = DEFAULT_OVERLAP
) -> None:
    """Move the Strava sync's watermark to the newest archived start, if that is ahead of it.

    The archived activities within `overlap` of the new watermark join the state's `recent` set, so the next
    sync, which lists from watermark minus overlap, takes them as already pulled (no details/streams again).
    """
    state = load_state(landing.store, SOURCE)
    report.watermark_before = report.watermark_after = state.get("watermark")
    if not starts:
        return
    newest = max(starts.values())
    report.newest_start = iso_utc(from_epoch(newest))
    old = state.get("watermark")
    if old and epoch_seconds(parse_iso_utc(old)) >= newest:
        report.lines.append(f"sync watermark {old} is already at or after the archive's newest activity: left as it is")
        return
    floor = newest - overlap.total_seconds()
    recent = {**state.get("recent", {}), **{str(i): s for i, s in starts.items() if s >= floor}}
    state["watermark"] = report.newest_start
    state["recent"] = {key: start for key, start in recent.items() if start >= floor}
    state["archive_import"] = {"run_id": report.run_id, "newest": report.newest_start}
    save_state(landing.store, SOURCE, state)
    report.watermark_after = report.newest_start


def import_archive(
    path: Path,
    landing: LandingZone,
    *,
    athlete_id: int | None = None,
    run_id: str | None = None,
    header_map: Mapping[str, str] | None = None,
    timezone: str | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
) -> ArchiveReport:
    """Land a Strava archive (zip or folder) in the API's shapes and move the sync watermark past it.

    Example: `import_archive(Path("export_144106043.zip"), LandingZone(open_store(root)))`.
    The athlete id comes from the archive's profile.csv, else from `athlete_id`; `MissingAthleteIdError`
    when neither has it. Raises `ArchiveError` when the path is not a readable archive; bad rows and files
    are quarantined and reported instead.
    """
    now = now or datetime.now(UTC)
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ArchiveError(f"--timezone {timezone!r} is no IANA time zone (e.g. Europe/Berlin)") from None
    report = ArchiveReport(source=str(path), run_id=run_id or new_run_id(now))
    with ArchiveSource(path) as archive:
        try:
            from_profile = _read_profile_athlete(archive)
        except ArchiveError as exc:  # the id can still come from the command line: nothing else is in profile.csv
            if athlete_id is None:
                raise MissingAthleteIdError(f"{exc}; pass --athlete-id N{ATHLETE_ID_HINT}") from None
            report.lines.append(f"{exc}; using --athlete-id {athlete_id}")
            from_profile = None
        if from_profile is not None and athlete_id is not None and from_profile != athlete_id:
            report.lines.append(
                f"profile.csv says athlete {from_profile}, --athlete-id {athlete_id}: using profile.csv"
            )
        chosen = from_profile if from_profile is not None else athlete_id
        if chosen is None:
            raise MissingAthleteIdError(
                f"{path}: the archive has no profile.csv with an Athlete ID; pass --athlete-id N{ATHLETE_ID_HINT}"
            )
        report.athlete_id = chosen
        run = _Import(archive, landing, report, chosen, timezone, now)
        try:
            run.run(header_map)
        finally:
            run.finish()
    advance_watermark(landing, run.starts, report, overlap)
    return report


def _failed_label(kind: str) -> str:
    """The report's line for files that failed: `FIT files failed` for a format, `files refused` (a name leading out
    of the archive), `files unreadable` (a damaged or encrypted member), `files of an unknown kind`."""
    if kind in {"refused", "unreadable"}:
        return f"files {kind}"
    if kind == "unknown":
        return "files of an unknown kind"
    return f"{kind.upper()} files failed"


def render_report(report: ArchiveReport) -> str:
    """The import report as text: a rich table of counts, then one line per problem."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="strava archive import")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("archive", report.source),
        ("athlete id", str(report.athlete_id)),
        ("run id", report.run_id),
        ("activities.csv layout", report.layout),
        ("rows read", report.rows_read),
        ("activities landed", report.activities_landed),
        ("  of which manual (no file)", report.manual_activities),
        ("rows quarantined", report.rows_quarantined),
        *[(f"{kind.upper()} files parsed", n) for kind, n in sorted(report.files_parsed.items())],
        *[(_failed_label(kind), n) for kind, n in sorted(report.files_failed.items())],
        ("files missing", report.files_missing),
        *([("links refused (out of the export)", report.links_refused)] if report.links_refused else []),
        ("stream sets landed", report.streams_landed),
        ("newest activity", report.newest_start or "-"),
        ("sync watermark", f"{report.watermark_before or 'none'} -> {report.watermark_after or 'none'}"),
    ]
    for what, count in rows:
        table.add_row(what, f"{count:,}" if isinstance(count, int) else str(count))
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, highlight=False)
    console.print(table)
    for line in report.lines:
        console.print(line, markup=False)
    return buffer.getvalue()
