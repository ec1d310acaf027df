"""MapMyRun workout-history CSV export -> landing zone, split by month of the workout, rows verbatim.

Grain of what lands: `mapmyrun/workouts/month=YYYY-MM/<run-id>.csv`, one row per workout per import, with
the export's own header line and rows byte for byte (the `b''` notes, `0` heart rates and GPS-glitch
speeds included: cleaning is silver's job). A row whose month cannot be told (no readable `Workout Date`,
too few fields) lands verbatim in `month=undated/<run-id>.csv`, so one bad row never stops the import:
bronze and silver quarantine it with its reason, as they do bytes that are not UTF-8.
The header must be one of the export's 15-column variants:
metric (`Distance (km)`, `Avg Pace (min/km)`, ...), imperial (`(mi)`, `(min/mi)`, `(mi/h)`), or the older
one without units on the Max columns (`Max Pace`, `Max Speed`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from lakehouse.landing import LandedFile, LandingZone, landing_key

log = logging.getLogger(__name__)

SOURCE = "mapmyrun"
ENTITY = "workouts"
WORKOUT_DATE = "Workout Date"
DISTANCE_COLUMNS = {"km": "Distance (km)", "mi": "Distance (mi)"}
UNDATED = "undated"  # the month folder of rows whose workout date does not read

# Each column of the export and how it may be spelled, per unit system ("{unit}" is km or mi).
_COLUMN_SPELLINGS: tuple[tuple[str, ...], ...] = (
    ("Date Submitted",),
    ("Workout Date",),
    ("Activity Type",),
    ("Calories Burned (kCal)",),
    ("Distance ({unit})",),
    ("Workout Time (seconds)",),
    ("Avg Pace (min/{unit})",),
    ("Max Pace (min/{unit})", "Max Pace"),
    ("Avg Speed ({unit}/h)",),
    ("Max Speed ({unit}/h)", "Max Speed"),
    ("Avg Heart Rate",),
    ("Steps",),
    ("Notes",),
    ("Source",),
    ("Link",),
)

# AP style: "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."; March to July spelled out.
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
_AP_DATE = re.compile(r"^\s*(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\s*$")


class MissingColumnsError(ValueError):
    """The CSV header lacks columns of the MapMyRun export; the message names them."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"not a MapMyRun workout export: missing column(s) {', '.join(missing)}")
        self.missing = missing


class MalformedCsvError(ValueError):
    """The export cannot be read as CSV at all past some line (the message names it)."""


class UnparseableDateError(ValueError):
    """A `Workout Date` is not an AP-style date like "Sept. 30, 2020"."""


def parse_ap_date(text: str) -> date:
    """An AP-style date as MapMyRun writes it: `parse_ap_date("Sept. 30, 2020") == date(2020, 9, 30)`.

    Also accepts full month names and plain abbreviations ("September 30, 2020", "Sep 30, 2020").
    """
    match = _AP_DATE.match(text)
    month = _MONTHS.get(match.group("month").lower()) if match else None
    if match is None or month is None:
        raise UnparseableDateError(f"not an AP-style date like 'Sept. 30, 2020': {text!r}")
    try:
        return date(int(match.group("year")), month, int(match.group("day")))
    except ValueError as exc:
        raise UnparseableDateError(f"not a calendar date: {text!r}") from exc


def _unit_system(header: list[str]) -> str:
    """`km` or `mi`, from the distance (or pace/speed) column; metric when nothing says."""
    joined = ",".join(header)
    if DISTANCE_COLUMNS["mi"] in header or "(min/mi)" in joined or "(mi/h)" in joined:
        return "mi"
    return "km"


def missing_columns(header: list[str]) -> list[str]:
    """The export columns absent from `header`, spelled in the header's unit system."""
    present = {name.strip() for name in header}
    unit = _unit_system(header)
    return [
        spellings[0].format(unit=unit)
        for spellings in _COLUMN_SPELLINGS
        if not any(spelling.format(unit=unit) in present for spelling in spellings)
    ]


def _decode(source: str | Path | bytes) -> str:
    """The export as text; bytes that are not UTF-8 are kept as surrogates and written back unchanged."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _raw_rows(text: str) -> tuple[str, list[str], list[tuple[list[str], str]]]:
    """The header line, the header fields, and each row with its exact text (multi-line quotes included)."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    try:
        header = next(reader)
    except StopIteration:
        raise MissingColumnsError([s[0].format(unit="km") for s in _COLUMN_SPELLINGS]) from None
    except csv.Error as exc:
        raise MalformedCsvError(f"not a readable CSV: line {reader.line_num}: {exc}") from None
    header_line = "".join(consumed)
    consumed.clear()
    rows: list[tuple[list[str], str]] = []
    try:
        for fields in reader:
            raw = "".join(consumed)
            consumed.clear()
            if any(field.strip() for field in fields):  # blank lines (and Excel's `,,,,` rows) carry no workout
                rows.append((fields, raw))
    except csv.Error as exc:  # a quote never closed runs a field past csv's 128 KB limit
        raise MalformedCsvError(
            f"not a readable CSV from line {reader.line_num}: {exc} (a quote never closed?); nothing was landed"
        ) from None
    return header_line, header, rows


def _line_end(header_line: str) -> str:
    return "\r\n" if header_line.endswith("\r\n") else "\n"


def import_csv(
    source: str | Path | bytes, landing: LandingZone, run_id: str, export_name: str | None = None
) -> list[LandedFile]:
    """Validate a MapMyRun export and land it as monthly CSV files (by `Workout Date`), rows verbatim.

    The landed files keep the export's own name (`<run id>--<name>`), which the people file matches to say
    whose export it is. Example: `import_csv("workout_history.csv", LandingZone(open_store(root)), new_run_id())`.
    Raises `MissingColumnsError` (naming the columns) or `MalformedCsvError`. Rows without a readable date land in
    `month=undated` (logged with their line numbers) for bronze and silver to quarantine with the reason.
    """
    if export_name is None and isinstance(source, str | Path):
        export_name = Path(source).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", export_name or "export.csv").strip("._") or "export"
    name = name if name.lower().endswith(".csv") else f"{name}.csv"
    header_line, header, rows = _raw_rows(_decode(source))
    missing = missing_columns(header)
    if missing:
        raise MissingColumnsError(missing)
    date_index = [name.strip() for name in header].index(WORKOUT_DATE)
    by_month: dict[str, list[str]] = defaultdict(list)
    for line_number, (fields, raw) in enumerate(rows, start=2):
        try:
            month = parse_ap_date(fields[date_index]).strftime("%Y-%m")
        except (IndexError, UnparseableDateError) as exc:
            reason = "too few fields" if isinstance(exc, IndexError) else str(exc)
            log.warning("mapmyrun: row %d has no readable workout date (%s); landed in month=%s", line_number,
                        reason, UNDATED)  # fmt: skip
            month = UNDATED
        by_month[month].append(raw if raw.endswith(("\n", "\r")) else raw + _line_end(header_line))
    header_text = header_line if header_line.endswith(("\n", "\r")) else header_line + "\n"
    landed = [
        landing.write_bytes(
            f"{SOURCE}/{ENTITY}/month={UNDATED}/{run_id}--{name}"
            if month == UNDATED
            else landing_key(SOURCE, ENTITY, month, f"{run_id}--{name.removesuffix('.csv')}", ext="csv"),
            _encode(header_text + "".join(by_month[month])),
            records=len(by_month[month]),
        )
        for month in sorted(by_month)
    ]
    log.info("mapmyrun: %d workouts landed in %d monthly files", len(rows), len(landed))
    return landed
