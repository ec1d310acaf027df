"""A generator of hostile input for every source, each case with what must happen to it (issue 13, req. 7).

`build_corpus(landing_root, work_dir)` writes every case: files straight into the landing zone for the sources
that land JSON/CSV (Strava API pages and streams, the legacy Fitbit Web API, Google Health dataPoints, race
telemetry), and export files (a Strava archive zip, a Google Takeout zip, MapMyRun CSV exports) for the
importers to land. Each `Case` names its source and category and lists its expectations: which records load
(with which values, written out by hand here) and which are quarantined, where and with what reason.

The categories of the issue: truncated, wrong types, huge numbers, NaN and Infinity, empty, binary, a 10 MB
single line, deep nesting, odd Unicode, a BOM, CRLF, duplicate ids, time-zone and calendar edges, missing
fields, extra fields, files in the wrong folder. Ids are unique per case (activity ids `100 * case + k`), so
one lakehouse holds them all and each check finds its own rows.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ATHLETE = 77
FITBIT_USER = "HOSTILE1"
GOOGLE_USER = "hostile-g"
TEN_MB = 10 * 1024 * 1024
DEEP = 10_000
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + bytes(range(256)) * 4 + b"\xff\xd9"


# ---- expectations ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """Exactly one row of silver `table` has the `key` values, and it has `values`."""

    table: str
    key: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotLoaded:
    """No row of silver `table` has the `key` values."""

    table: str
    key: dict[str, Any]


@dataclass(frozen=True)
class Rows:
    """Silver `table` holds exactly `count` rows with the `key` values."""

    table: str
    key: dict[str, Any]
    count: int


@dataclass(frozen=True)
class BronzeQuarantined:
    """`bronze.quarantine` holds `count` rows of bronze `table` with a reason containing `reason` (`""`: any
    reason), from a file whose path contains `file` (None: any file of that table)."""

    table: str
    file: str | None
    reason: str
    count: int = 1


@dataclass(frozen=True)
class SilverQuarantined:
    """`ops.silver_quarantine` holds a row of silver `table` with the `key` values under `rule`; with `error`,
    one of its `_parse_errors` contains it."""

    table: str
    key: dict[str, Any]
    rule: str
    error: str | None = None


@dataclass(frozen=True)
class LedgerNote:
    """The ledger's notes for the file whose path contains `file` contain `note`."""

    file: str
    note: str


@dataclass(frozen=True)
class Reported:
    """The import report of `importer` (strava_archive, takeout) has a line containing `text`."""

    importer: str
    text: str


Expectation = Loaded | NotLoaded | Rows | BronzeQuarantined | SilverQuarantined | LedgerNote | Reported


@dataclass(frozen=True)
class Case:
    """One hostile input: its source, its category, and what must happen to it."""

    name: str
    source: str
    category: str
    expect: tuple[Expectation, ...]


@dataclass
class Corpus:
    """The cases written, and the export files for the importers."""

    cases: list[Case] = field(default_factory=list)
    strava_archive: Path | None = None
    takeout: Path | None = None
    mapmyrun_exports: dict[str, Path] = field(default_factory=dict)


# ---- record builders ------------------------------------------------------------------------------------


def activity(activity_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid SummaryActivity of the hostile athlete."""
    record: dict[str, Any] = {
        "id": activity_id,
        "athlete": {"id": ATHLETE},
        "name": f"Run {activity_id}",
        "distance": 5000.0,
        "moving_time": 1500,
        "elapsed_time": 1520,
        "sport_type": "Run",
        "type": "Run",
        "start_date": "2024-05-01T06:00:00Z",
        "start_date_local": "2024-05-01T08:00:00Z",
        "kudos_count": 3,
    }
    record.update(overrides)
    return record


def fitbit_day(day: str, points: list[dict[str, Any]], total: str = "10", user: str = FITBIT_USER) -> dict[str, Any]:
    """One legacy Fitbit Web API steps day."""
    return {
        "user_id": user,
        "resource": "steps",
        "date": day,
        "detail_level": "1min",
        "response": {
            "activities-steps": [{"dateTime": day, "value": total}],
            "activities-steps-intraday": {"dataset": points, "datasetInterval": 1, "datasetType": "minute"},
        },
    }


def steps_point(point_id: str, start: str, end: str, count: str) -> dict[str, Any]:
    """One Google Health API steps dataPoint in its landing envelope."""
    return {
        "user_id": GOOGLE_USER,
        "data_type": "steps",
        "route": "google-health-api",
        "point_id": point_id,
        "data_point": {"steps": {"interval": {"startTime": start, "endTime": end}, "count": count}},
    }


def nested(depth: int) -> str:
    """A JSON value nested `depth` arrays deep."""
    return "[" * depth + "]" * depth


def _dump(records: list[Any]) -> str:
    return json.dumps(records)


# ---- the landing-zone cases -----------------------------------------------------------------------------


class _Writer:
    def __init__(self, landing_root: Path) -> None:
        self.root = landing_root
        self.cases: list[Case] = []

    def put(self, key: str, content: bytes | str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    def case(self, name: str, source: str, category: str, *expect: Expectation) -> None:
        self.cases.append(Case(name, source, category, expect))


SA = "strava_activities"
SA_DIR = "strava/activities/month=2024-05"


def _strava_pages(w: _Writer) -> None:
    def key(name: str) -> str:
        return f"{SA_DIR}/{name}.json"

    text = _dump([activity(101), activity(102)])
    w.put(key("h01-truncated"), text[: text.index('"id": 102') + 12])
    w.case("strava-truncated", "strava", "truncated",
           Loaded(SA, {"activity_id": 101}, {"distance_m": 5000.0}), NotLoaded(SA, {"activity_id": 102}),
           BronzeQuarantined(SA, "h01-truncated", "file truncated or corrupt"))  # fmt: skip

    w.put(key("h02-empty"), b"")
    w.case("strava-empty-file", "strava", "empty", BronzeQuarantined(SA, "h02-empty", "empty file"))

    w.put(key("h03-photo"), JPEG)
    w.case("strava-jpeg-renamed-json", "strava", "binary", BronzeQuarantined(SA, "h03-photo", "invalid JSON"))

    w.put(key("h04-gzipped"), gzip.compress(_dump([activity(401)]).encode(), mtime=0))
    w.case("strava-gzip-bytes-as-json", "strava", "binary",
           BronzeQuarantined(SA, "h04-gzipped", "invalid JSON"), NotLoaded(SA, {"activity_id": 401}))  # fmt: skip

    blob = "x" * TEN_MB
    w.put(key("h05-ten-mb-line"), _dump([activity(501), activity(502, blob_field=blob)]))
    w.case("strava-10mb-single-line", "strava", "10 MB line",
           Loaded(SA, {"activity_id": 501}, {"name": "Run 501"}), Loaded(SA, {"activity_id": 502}, {"name": "Run 502"}),
           LedgerNote("h05-ten-mb-line", "unknown fields kept: blob_field"))  # fmt: skip

    deep = _dump([activity(601), activity(602, laps="DEEP")]).replace('"DEEP"', nested(DEEP))
    w.put(key("h06-deep"), deep)
    w.case("strava-deep-nesting-10000", "strava", "deep nesting",
           Loaded(SA, {"activity_id": 601}), NotLoaded(SA, {"activity_id": 602}),
           BronzeQuarantined(SA, "h06-deep", "nested deeper than"))  # fmt: skip

    w.put(key("h07-bom"), b"\xef\xbb\xbf" + _dump([activity(701)]).encode())
    w.case("strava-utf8-bom", "strava", "BOM",
           Loaded(SA, {"activity_id": 701}), LedgerNote("h07-bom", "UTF-8 byte-order mark removed"))  # fmt: skip

    w.put(key("h08-crlf"), json.dumps([activity(801), activity(802)], indent=2).replace("\n", "\r\n"))
    w.case("strava-crlf", "strava", "CRLF", Loaded(SA, {"activity_id": 801}), Loaded(SA, {"activity_id": 802}))

    latin = json.dumps([activity(901), activity(902, name="Caf\u00e9 run")], ensure_ascii=False).encode("latin-1")
    w.put(key("h09-latin1"), latin)
    w.case("strava-not-utf8", "strava", "non-UTF-8",
           Loaded(SA, {"activity_id": 901}), NotLoaded(SA, {"activity_id": 902}),
           BronzeQuarantined(SA, "h09-latin1", "not valid UTF-8: byte 0xe9 in name"))  # fmt: skip

    text = _dump([activity(1001, map={"LONEKEY": "a"}), activity(1002, name="\u00e9\u4e2d\U0001f3c3\u200d\u202e")])
    w.put(key("h10-unicode"), text.replace("LONEKEY", "\\udfff"))
    w.case("strava-odd-unicode", "strava", "odd Unicode",
           BronzeQuarantined(SA, "h10-unicode", "lone surrogate \\udfff in a field name of map"),
           Loaded(SA, {"activity_id": 1002}, {"name": "\u00e9\u4e2d\U0001f3c3\u200d\u202e"}))  # fmt: skip

    w.put(key("h11-1e309"), _dump([activity(1101, distance="BIG"), activity(1102)]).replace('"BIG"', "1e309"))
    w.case("strava-1e309", "strava", "huge numbers",
           BronzeQuarantined(SA, "h11-1e309", "distance: Infinity is not a JSON number"),
           NotLoaded(SA, {"activity_id": 1101}), Loaded(SA, {"activity_id": 1102}))  # fmt: skip

    text = _dump([activity(1201, distance="NEGZ", kudos_count="INTZ")])
    w.put(key("h12-minus-zero"), text.replace('"NEGZ"', "-0.0").replace('"INTZ"', "-0"))
    w.case("strava-minus-zero", "strava", "huge numbers",
           Loaded(SA, {"activity_id": 1201}, {"distance_m": 0.0, "kudos_count": 0}))  # fmt: skip

    w.put(key("h13-int-beyond-int64"), _dump([activity(1301, moving_time=2**64 + 1), activity(1302)]))
    w.case("strava-int-beyond-int64", "strava", "huge numbers",
           SilverQuarantined(SA, {"activity_id": 1301}, "values_readable", f"moving_time: '{2**64 + 1}'"),
           NotLoaded(SA, {"activity_id": 1301}), Loaded(SA, {"activity_id": 1302}))  # fmt: skip

    w.put(key("h14-nan-infinity"), _dump([activity(1401, average_speed="N"), activity(1402, max_speed="I")])
          .replace('"N"', "NaN").replace('"I"', "-Infinity"))  # fmt: skip
    w.case("strava-nan-and-minus-infinity", "strava", "NaN and Infinity",
           BronzeQuarantined(SA, "h14-nan-infinity", "is not a JSON number", count=2),
           NotLoaded(SA, {"activity_id": 1401}), NotLoaded(SA, {"activity_id": 1402}))  # fmt: skip

    w.put(key("h15-dup-within"), _dump([activity(1501, kudos_count=1), activity(1501, kudos_count=2)]))
    w.case("strava-duplicate-id-within-file", "strava", "duplicate ids",
           Loaded(SA, {"activity_id": 1501}, {"kudos_count": 1}),
           BronzeQuarantined(SA, "h15-dup-within", "duplicate key"))  # fmt: skip

    w.put(key("h16a-dup-across"), _dump([activity(1601, kudos_count=1)]))
    w.put(key("h16b-dup-across"), _dump([activity(1601, kudos_count=5)]))
    w.case("strava-duplicate-id-across-files", "strava", "duplicate ids",
           Loaded(SA, {"activity_id": 1601}, {"kudos_count": 5}))  # fmt: skip

    missing = activity(1701)
    del missing["start_date"]
    w.put(key("h17-missing-field"), _dump([missing, activity(1702)]))
    w.case("strava-missing-required-field", "strava", "missing fields",
           BronzeQuarantined(SA, "h17-missing-field", "'start_date' is a required property"),
           NotLoaded(SA, {"activity_id": 1701}), Loaded(SA, {"activity_id": 1702}))  # fmt: skip

    w.put(key("h18-extra-field"), _dump([activity(1801, brand_new_field={"x": 1})]))
    w.case("strava-extra-field", "strava", "extra fields",
           Loaded(SA, {"activity_id": 1801}), LedgerNote("h18-extra-field", "unknown fields kept: brand_new_field"))

    w.put(key("h19-object"), json.dumps(activity(1901)))
    w.case("strava-object-not-array", "strava", "wrong types",
           BronzeQuarantined(SA, "h19-object", "expected a JSON array of records, got a JSON dict"))

    w.put(key("h20-null-record"), _dump([None, 7, activity(2001)]))
    w.case("strava-null-and-number-records", "strava", "wrong types",
           BronzeQuarantined(SA, "h20-null-record", "record is not a JSON object", count=2),
           Loaded(SA, {"activity_id": 2001}))  # fmt: skip

    w.put("fitbit/steps/month=2024-05/h21-strava-in-fitbit.json", _dump([activity(2101)]))
    w.case("strava-file-in-fitbit-folder", "strava", "wrong folder",
           BronzeQuarantined("fitbit_intraday", "h21-strava-in-fitbit", "schema:"),
           NotLoaded(SA, {"activity_id": 2101}))  # fmt: skip

    w.put(key("h22-wrong-month"), _dump([activity(2201, start_date="2019-03-01T06:00:00Z",
                                                   start_date_local="2019-03-01T07:00:00Z")]))  # fmt: skip
    w.case("strava-file-in-another-month-partition", "strava", "wrong folder",
           Loaded(SA, {"activity_id": 2201}, {"start_time_utc": "2019-03-01 06:00:00"}))  # fmt: skip

    berlin = "(GMT+01:00) Europe/Berlin"
    w.put(key("h23-dst"), _dump([
        # 02:30 local on 2024-03-31 does not exist in Berlin (clocks jump 02:00 -> 03:00): Strava's local
        # time is the wall clock it shows, kept as given; the UTC instant is what orders it.
        activity(2301, start_date="2024-03-31T01:30:00Z", start_date_local="2024-03-31T03:30:00Z",
                 timezone=berlin, utc_offset=7200.0),
        # 2024-10-27 02:30 local happens twice in Berlin: two activities, one hour apart in UTC.
        activity(2302, start_date="2024-10-27T00:30:00Z", start_date_local="2024-10-27T02:30:00Z",
                 timezone=berlin, utc_offset=7200.0),
        activity(2303, start_date="2024-10-27T01:30:00Z", start_date_local="2024-10-27T02:30:00Z",
                 timezone=berlin, utc_offset=3600.0),
    ]))  # fmt: skip
    w.case("strava-dst-gap-and-overlap", "strava", "time zones",
           Loaded(SA, {"activity_id": 2301}, {"start_time_utc": "2024-03-31 01:30:00",
                                               "start_time_local": "2024-03-31 03:30:00"}),
           Loaded(SA, {"activity_id": 2302}, {"start_time_utc": "2024-10-27 00:30:00",
                                               "start_time_local": "2024-10-27 02:30:00"}),
           Loaded(SA, {"activity_id": 2303}, {"start_time_utc": "2024-10-27 01:30:00",
                                               "start_time_local": "2024-10-27 02:30:00"}))  # fmt: skip

    w.put(key("h24-calendar"), _dump([
        activity(2401, start_date="2024-02-29T23:59:59Z", start_date_local="2024-03-01T00:59:59Z"),
        activity(2402, start_date="2023-12-31T23:30:00Z", start_date_local="2024-01-01T00:30:00Z"),
        activity(2403, start_date="1970-01-01T00:00:00Z", start_date_local="1970-01-01T00:00:00Z"),
        activity(2404, start_date="2038-01-19T03:14:08Z", start_date_local="2038-01-19T03:14:08Z"),
        activity(2405, start_date="2023-02-29T10:00:00Z", start_date_local="2023-02-29T11:00:00Z"),
    ]))  # fmt: skip
    w.case("strava-calendar-edges", "strava", "calendar",
           Loaded(SA, {"activity_id": 2401}, {"start_time_utc": "2024-02-29 23:59:59", "activity_date": "2024-03-01"}),
           Loaded(SA, {"activity_id": 2402}, {"start_time_utc": "2023-12-31 23:30:00", "activity_date": "2024-01-01"}),
           Loaded(SA, {"activity_id": 2403}, {"start_time_utc": "1970-01-01 00:00:00", "activity_date": "1970-01-01"}),
           Loaded(SA, {"activity_id": 2404}, {"start_time_utc": "2038-01-19 03:14:08", "activity_date": "2038-01-19"}),
           SilverQuarantined(SA, {"activity_id": 2405}, "values_readable", "start_date: '2023-02-29T10:00:00Z'"),
           NotLoaded(SA, {"activity_id": 2405}))  # fmt: skip

    w.put(key("h25-id-as-text"), _dump([activity("2501"), activity(2502, moving_time=True)]))
    w.case("strava-wrong-json-types", "strava", "wrong types",
           BronzeQuarantined(SA, "h25-id-as-text", "is not of type 'integer'", count=2))

    w.put(key("h26-too-big-for-column"), _dump([activity(2601, kudos_count=3_000_000_000), activity(2602)]))
    w.put(key("h26b-id-beyond-int64"), _dump([activity(2**63)]))
    w.case("strava-number-too-big-for-its-column", "strava", "huge numbers",
           # Valid JSON integers that do not fit: kudos_count is an int column, id a long one.
           SilverQuarantined(SA, {"activity_id": 2601}, "values_readable",
                             "kudos_count: '3000000000' is not a valid int"),
           NotLoaded(SA, {"activity_id": 2601}), Loaded(SA, {"activity_id": 2602}, {"kudos_count": 3}),
           SilverQuarantined(SA, {"name": f"Run {2**63}"}, "values_readable", f"id: '{2**63}' is not a valid bigint"))

    text = _dump([activity(2701, name="LONE"), activity(2702, name="\U0001f3c3 PAIR")])  # a pair as \ud83c\udfc3
    w.put(key("h27-lone-surrogate-value"), text.replace("LONE", "\\ud800"))
    w.case("strava-lone-surrogate-in-a-value", "strava", "odd Unicode",
           BronzeQuarantined(SA, "h27-lone-surrogate-value", "lone surrogate \\ud800 in name"),
           NotLoaded(SA, {"activity_id": 2701}), Loaded(SA, {"activity_id": 2702}, {"name": "\U0001f3c3 PAIR"}))

    w.put(key("h28-distance-as-text"), _dump([activity(2801, distance="5 km"), activity(2802)]))
    w.case("strava-number-as-text", "strava", "wrong types",
           BronzeQuarantined(SA, "h28-distance-as-text", "schema: distance: '5 km' is not of type 'number'"),
           NotLoaded(SA, {"activity_id": 2801}), Loaded(SA, {"activity_id": 2802}))  # fmt: skip


SS = "strava_streams"


def _strava_streams(w: _Writer) -> None:
    folder = "strava/activity_streams/month=2024-05"
    good = {"activity_id": 3102, "streams": {"time": {"data": [0, 1]}, "heartrate": {"data": [110, 120]}}}
    bad = {"activity_id": 3101, "streams": {"time": {"data": [0, 1]}, "heartrate": {"data": ["N", 120]}}}
    w.put(f"{folder}/h31-nan.json", _dump([bad, good]).replace('"N"', "NaN"))
    w.case("streams-nan-sample", "strava streams", "NaN and Infinity",
           BronzeQuarantined("strava_activity_streams", "h31-nan", "streams.heartrate.data[0]: NaN"),
           Rows(SS, {"activity_id": 3101}, 0), Rows(SS, {"activity_id": 3102}, 2),
           Loaded(SS, {"activity_id": 3102, "point": 1}, {"heart_rate_bpm": 120.0}))  # fmt: skip

    short = {"activity_id": 3201, "streams": {"time": {"data": [0, 1, 2]}, "heartrate": {"data": [100, 101]}}}
    w.put(f"{folder}/h32-ragged.json", _dump([short]))
    w.case("streams-of-unequal-length", "strava streams", "truncated",
           Rows(SS, {"activity_id": 3201}, 3),
           Loaded(SS, {"activity_id": 3201, "point": 2}, {"time_s": 2, "heart_rate_bpm": None}))  # fmt: skip

    unknown = {"activity_id": 3301, "streams": {"time": {"data": [0]}, "bogus": {"data": [1]}}}
    w.put(f"{folder}/h33-unknown-stream.json", _dump([unknown]))
    w.case("streams-unknown-stream-type", "strava streams", "extra fields",
           BronzeQuarantined("strava_activity_streams", "h33-unknown-stream", "schema:"))


FI = "fitbit_intraday"


def _fitbit(w: _Writer) -> None:
    folder = "fitbit/steps/month=2024-03"
    w.put(f"{folder}/h41-calendar.json", _dump([
        fitbit_day("2024-02-29", [{"time": "23:59:00", "value": 41}]),
        fitbit_day("2024-12-31", [{"time": "23:59:59", "value": 42}]),
        fitbit_day("1970-01-01", [{"time": "00:00:00", "value": 43}]),
        fitbit_day("2038-01-19", [{"time": "03:14:08", "value": 44}]),
    ]))  # fmt: skip
    w.case("fitbit-calendar-edges", "fitbit", "calendar",
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-02-29 23:59:00"}, {"value": 41.0}),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-12-31 23:59:59"}, {"value": 42.0}),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "1970-01-01 00:00:00"}, {"value": 43.0}),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2038-01-19 03:14:08"}, {"value": 44.0}))  # fmt: skip

    no_user = fitbit_day("2024-03-02", [{"time": "08:00:00", "value": 1}])
    del no_user["user_id"]
    w.put(f"{folder}/h42-missing-user.json", _dump([no_user]))
    w.case("fitbit-missing-user", "fitbit", "missing fields",
           BronzeQuarantined(FI, "h42-missing-user", "'user_id' is a required property"))

    w.put(f"{folder}/h43-huge.json", _dump([fitbit_day("2024-03-03", [
        {"time": "08:00:00", "value": "1e309"}, {"time": "08:01:00", "value": 7}])]))  # fmt: skip
    w.case("fitbit-1e309-as-text", "fitbit", "huge numbers",
           SilverQuarantined(FI, {"user_id": FITBIT_USER, "date": "2024-03-03"}, "values_readable", "value"),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-03 08:01:00"}, {"value": 7.0}))  # fmt: skip

    w.put(f"{folder}/h44a-dup.json", _dump([fitbit_day("2024-03-04", [{"time": "08:00:00", "value": 5}])]))
    w.put(f"{folder}/h44b-dup.json", _dump([fitbit_day("2024-03-04", [{"time": "08:00:00", "value": 6}])]))
    w.case("fitbit-same-day-in-two-files", "fitbit", "duplicate ids",
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-04 08:00:00"}, {"value": 6.0}))  # fmt: skip

    w.put(f"{folder}/h45-crlf-bom.json",
          b"\xef\xbb\xbf" + json.dumps([fitbit_day("2024-03-05", [{"time": "08:00", "value": 9}])], indent=1)
          .replace("\n", "\r\n").encode())  # fmt: skip
    w.case("fitbit-bom-crlf", "fitbit", "BOM",
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-05 08:00:00"}, {"value": 9.0}))  # fmt: skip

    # Fitbit sends values as text too: "NaN" reads as a double NaN, "lots" as nothing; 24:00:00 is no time of day.
    w.put(f"{folder}/h47-bad-text-values.json", _dump([
        fitbit_day("2024-03-06", [{"time": "08:00:00", "value": "NaN"}, {"time": "08:01:00", "value": 5}]),
        fitbit_day("2024-03-07", [{"time": "08:00:00", "value": "lots"}, {"time": "08:01:00", "value": 7}]),
        fitbit_day("2024-03-08", [{"time": "23:59:59", "value": 12}, {"time": "24:00:00", "value": 11}]),
    ]))  # fmt: skip
    w.case("fitbit-nan-text-not-a-number-and-24-00", "fitbit", "NaN and Infinity",
           SilverQuarantined(FI, {"user_id": FITBIT_USER, "date": "2024-03-06"}, "values_readable",
                             "value: NaN is not a finite number"),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-06 08:01:00"}, {"value": 5.0}),
           NotLoaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-06 08:00:00"}),
           SilverQuarantined(FI, {"user_id": FITBIT_USER, "date": "2024-03-07"}, "values_readable",
                             "value: 'lots' is not a number"),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-07 08:01:00"}, {"value": 7.0}),
           NotLoaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-07 08:00:00"}),
           SilverQuarantined(FI, {"user_id": FITBIT_USER, "date": "2024-03-08"}, "values_readable",
                             "time: '24:00:00' is not a time of day (HH:mm or HH:mm:ss up to 23:59:59)"),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-08 23:59:59"}, {"value": 12.0}))  # fmt: skip

    no_summary = fitbit_day("2024-03-09", [{"time": "08:00:00", "value": 12}])
    no_summary["response"]["activities-steps"] = []
    w.put(f"{folder}/h48-empty-summary.json", _dump([no_summary]))
    w.case("fitbit-empty-day-summary", "fitbit", "missing fields",
           # No total for the day: its daily row is quarantined, its intraday points land.
           SilverQuarantined("fitbit_daily", {"user_id": FITBIT_USER, "date": "2024-03-09"}, "values_readable",
                             "activities-steps: no day summary in []"),
           Loaded(FI, {"user_id": FITBIT_USER, "ts_local": "2024-03-09 08:00:00"}, {"value": 12.0}))  # fmt: skip

    w.put(f"{folder}/h46-deep.json", "[" + nested(DEEP) + "]")
    w.case("fitbit-deep-nesting", "fitbit", "deep nesting",
           BronzeQuarantined(FI, "h46-deep", "nested deeper than"))


GI = "fitbit_intraday"
GH = "google_health_datapoints"


def _google_health(w: _Writer) -> None:
    folder = "google_health/steps/month=2024-02"
    no_id = steps_point("x", "2024-02-01T10:00:00Z", "2024-02-01T10:01:00Z", "5")
    del no_id["point_id"]
    w.put(f"{folder}/h51-missing-id.json", _dump([no_id]))
    w.case("google-missing-point-id", "google health", "missing fields",
           BronzeQuarantined(GH, "h51-missing-id", "'point_id' is a required property"))

    w.put(f"{folder}/h52-int64.json", _dump([
        steps_point("p52a", "2024-02-02T10:00:00Z", "2024-02-02T10:01:00Z", "99999999999999999999"),
        steps_point("p52b", "2024-02-02T10:01:00Z", "2024-02-02T10:02:00Z", "52"),
    ]))  # fmt: skip
    w.case("google-int64-beyond-range", "google health", "huge numbers",
           # An int64 field beyond int64 still reads as a double: loaded as written (1e20 steps).
           Loaded(GI, {"user_id": GOOGLE_USER, "ts_utc": "2024-02-02 10:00:00"}, {"value": 1e20}),
           Loaded(GI, {"user_id": GOOGLE_USER, "ts_utc": "2024-02-02 10:01:00"}, {"value": 52.0}))  # fmt: skip

    w.put(f"{folder}/h53-dup.json", _dump([
        steps_point("p53", "2024-02-03T10:00:00Z", "2024-02-03T10:01:00Z", "53"),
        steps_point("p53", "2024-02-03T10:00:00Z", "2024-02-03T10:01:00Z", "54"),
    ]))  # fmt: skip
    w.case("google-duplicate-point-in-file", "google health", "duplicate ids",
           BronzeQuarantined(GH, "h53-dup", "duplicate key"),
           Loaded(GI, {"user_id": GOOGLE_USER, "ts_utc": "2024-02-03 10:00:00"}, {"value": 53.0}))  # fmt: skip

    w.put(f"{folder}/h54-epoch-leap.json", _dump([
        steps_point("p54a", "1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z", "54"),
        steps_point("p54b", "2024-02-29T23:59:00Z", "2024-03-01T00:00:00Z", "55"),
        steps_point("p54c", "2024-02-30T10:00:00Z", "2024-02-30T10:01:00Z", "56"),
    ]))  # fmt: skip
    w.case("google-calendar-edges", "google health", "calendar",
           Loaded(GI, {"user_id": GOOGLE_USER, "ts_utc": "1970-01-01 00:00:00"}, {"value": 54.0}),
           Loaded(GI, {"user_id": GOOGLE_USER, "ts_utc": "2024-02-29 23:59:00"}, {"value": 55.0}),
           SilverQuarantined(GI, {"user_id": GOOGLE_USER, "value": 56.0}, "values_readable",
                             "steps.interval.startTime: '2024-02-30T10:00:00Z' is not a UTC timestamp"),
           Rows(GI, {"user_id": GOOGLE_USER, "value": 56.0}, 0))  # fmt: skip

    w.put("google_health/steps/h55-outside-month-folder.json",
          _dump([steps_point("p55", "2024-02-05T10:00:00Z", "2024-02-05T10:01:00Z", "57")]))
    w.case("google-file-outside-month-folder", "google health", "wrong folder",
           Loaded(GI, {"user_id": GOOGLE_USER, "ts_utc": "2024-02-05 10:00:00"}, {"value": 57.0}))  # fmt: skip


RT = "race_telemetry"
TELEMETRY_HEADER = "rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm"


def _race(w: _Writer) -> None:
    good = "61,2024-07-01T10:00:00Z,49.1,-0.3,100.0,10.0,150,200,90"
    w.put("race/telemetry/date=2024-07-01/h61-bad-values.csv", "\n".join([
        TELEMETRY_HEADER, good,
        "61,2024-07-01T10:00:01Z,NaN,-0.3,100.0,10.0,150,200,90",
        "61,2024-07-01T10:00:02Z,49.1,-0.3,100.0,1e309,150,200,90",
        "61,2024-07-01T10:00:03Z,49.1,-0.3",
        "61,2024-02-30T10:00:04Z,49.1,-0.3,100.0,10.0,150,200,90",
    ]) + "\n")  # fmt: skip
    w.case("race-telemetry-bad-values", "race", "NaN and Infinity",
           BronzeQuarantined(RT, "h61-bad-values", "", count=4),
           BronzeQuarantined(RT, "h61-bad-values", "lat is missing, not a number or out of range: 'NaN'"),
           BronzeQuarantined(RT, "h61-bad-values", "speed_mps is not a number in 0..40: '1e309'"),
           BronzeQuarantined(RT, "h61-bad-values", "malformed CSV line (wrong number of fields)"),
           BronzeQuarantined(RT, "h61-bad-values", "timestamp is missing or not ISO 8601: '2024-02-30T10:00:04Z'"))
    w.put("race/telemetry/date=2024-02-29/h62-leap.csv",
          f"\ufeff{TELEMETRY_HEADER}\r\n62,2024-02-29T23:59:59Z,49.1,-0.3,100.0,10.0,150,200,90\r\n")
    w.case("race-telemetry-leap-day-bom-crlf", "race", "calendar",
           BronzeQuarantined(RT, "h62-leap", "", count=0))
    row = "63,2024-07-01T10:00:00Z,49.1,-0.3,100.0,10.0,150,200,90"
    w.put("race/telemetry/h63-loose.csv", f"{TELEMETRY_HEADER}\n{row}\n")
    w.put("race/telemetry/date=2024-02-30/h64-impossible-folder.csv", f"{TELEMETRY_HEADER}\n{row}\n")
    w.case("race-telemetry-outside-a-date-folder", "race", "wrong folder",
           BronzeQuarantined(RT, "h63-loose", "file is not under a date=YYYY-MM-DD folder"),
           BronzeQuarantined(RT, "h64-impossible-folder", "file is not under a date=YYYY-MM-DD folder"))


def _landing_cases(landing_root: Path) -> list[Case]:
    w = _Writer(landing_root)
    _strava_pages(w)
    _strava_streams(w)
    _fitbit(w)
    _google_health(w)
    _race(w)
    return w.cases


# ---- the export files -----------------------------------------------------------------------------------

ARCHIVE_HEADER = "id,date,name,type,description,elapsed_time,distance,commute,gear,filename"


def _gpx(points: list[tuple[str, float]]) -> bytes:
    pts = "".join(
        f'<trkpt lat="50.7" lon="7.1"><ele>{ele}</ele><time>{at}</time></trkpt>' for at, ele in points
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="t" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{pts}</trkseg></trk></gpx>'
    ).encode()


def _strava_archive(work: Path) -> tuple[Path, list[Case]]:
    rows = [
        "7101,2024-06-01 06:00:00,Good,Run,,1500,5000,false,,activities/7101.gpx",
        "7201,2024-02-30 06:00:00,Bad date,Run,,1500,5000,false,,",
        "7301,2024-06-02 06:00:00,First,Run,,1500,5000,false,,",
        "7301,2024-06-02 06:00:00,Again,Run,,1500,6000,false,,",
        "7401,2024-06-03 06:00:00,Photo as FIT,Run,,1500,5000,false,,activities/7401.fit",
        "7501,2024-06-04 06:00:00,Empty GPX,Run,,1500,5000,false,,activities/7501.gpx",
        "7601,2024-06-05 06:00:00,Cut gzip,Run,,1500,5000,false,,activities/7601.gpx.gz",
        "7701,2024-06-06 06:00:00,Huge,Run,,1500,1e309,false,,",
        "7801,2024-06-07 06:00:00,Elsewhere,Run,,1500,5000,false,,activities/7801.gpx",
        "7901,2024-06-08 06:00:00,No type,,,1500,5000,false,,",
        "8001,2038-01-19 03:14:08,Y2038,Run,,1500,5000,false,,",
        "8101,2024-10-27 00:59:30,DST,Run,,60,100,false,,activities/8101.gpx",
        '8201,2024-06-09 06:00:00,"Comma, \u201cquoted\u201d \U0001f3c3",Run,,1500,5000,false,,',
        "8301,2024-06-10 06:00:00,Short row,Run",
    ]
    csv_text = "\ufeff" + "\r\n".join([ARCHIVE_HEADER, *rows]) + "\r\n"
    members = {
        "export_77/activities.csv": csv_text.encode("utf-8"),
        "export_77/profile.csv": f"Athlete ID\n{ATHLETE}\n".encode(),
        "export_77/activities/7101.gpx": _gpx([("2024-06-01T06:00:00Z", 10.0), ("2024-06-01T06:00:01Z", 11.0)]),
        "export_77/activities/7401.fit": JPEG,
        "export_77/activities/7501.gpx": b"",
        "export_77/activities/7601.gpx.gz": gzip.compress(_gpx([("2024-06-05T06:00:00Z", 1.0)]), mtime=0)[:40],
        "export_77/elsewhere/7801.gpx": _gpx([("2024-06-07T06:00:00Z", 1.0)]),
        "export_77/activities/8101.gpx": _gpx([("2024-10-27T00:59:59Z", 1.0), ("2024-10-27T01:00:00Z", 2.0),
                                               ("2024-10-27T01:00:01Z", 3.0)]),
    }  # fmt: skip
    path = work / "export_77.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    line = {r.split(",")[0] + ("b" if i == 3 else ""): i + 2 for i, r in enumerate(rows)}
    cases = [
        Case("archive-bom-crlf-gpx", "strava archive", "BOM", (
            Loaded(SA, {"activity_id": 7101}, {"distance_m": 5000.0, "source_route": "archive"}),
            Rows(SS, {"activity_id": 7101}, 2))),
        Case("archive-impossible-date", "strava archive", "calendar", (
            BronzeQuarantined(SA, None, f"line {line['7201']}: Activity Date '2024-02-30 06:00:00'"),
            NotLoaded(SA, {"activity_id": 7201}))),
        Case("archive-duplicate-id", "strava archive", "duplicate ids", (
            Loaded(SA, {"activity_id": 7301}, {"name": "First"}),
            BronzeQuarantined(SA, None, f"line {line['7301b']}: Activity ID 7301 repeats line {line['7301']}"))),
        Case("archive-jpeg-renamed-fit", "strava archive", "binary", (
            Loaded(SA, {"activity_id": 7401}), Rows(SS, {"activity_id": 7401}, 0),
            BronzeQuarantined("strava_activity_streams", None, "activities/7401.fit: corrupt FIT"))),
        Case("archive-zero-byte-member", "strava archive", "empty", (
            Loaded(SA, {"activity_id": 7501}),
            BronzeQuarantined("strava_activity_streams", None, "activities/7501.gpx: empty file"))),
        Case("archive-truncated-gzip", "strava archive", "truncated", (
            Loaded(SA, {"activity_id": 7601}),
            BronzeQuarantined("strava_activity_streams", None, "activities/7601.gpx.gz: corrupt gzip"))),
        Case("archive-1e309-distance", "strava archive", "huge numbers", (
            BronzeQuarantined(SA, None, f"line {line['7701']}: Distance '1e309' is not a finite number"),
            NotLoaded(SA, {"activity_id": 7701}))),
        Case("archive-file-in-wrong-folder", "strava archive", "wrong folder", (
            Loaded(SA, {"activity_id": 7801}), Rows(SS, {"activity_id": 7801}, 0),
            Reported("strava_archive", "activities/7801.gpx"))),
        Case("archive-missing-type", "strava archive", "missing fields", (
            BronzeQuarantined(SA, None, f"line {line['7901']}: no Activity Type"),
            NotLoaded(SA, {"activity_id": 7901}))),
        Case("archive-year-2038", "strava archive", "calendar", (
            Loaded(SA, {"activity_id": 8001}, {"start_time_utc": "2038-01-19 03:14:08"}),)),
        Case("archive-gpx-across-dst-end", "strava archive", "time zones", (
            Loaded(SA, {"activity_id": 8101}, {"start_time_utc": "2024-10-27 00:59:30"}),
            Loaded(SS, {"activity_id": 8101, "point": 2}, {"time_s": 2, "altitude_m": 3.0}))),
        Case("archive-odd-unicode-and-quoted-comma", "strava archive", "odd Unicode", (
            Loaded(SA, {"activity_id": 8201},
                   {"name": "Comma, \u201cquoted\u201d \U0001f3c3", "distance_m": 5000.0}),)),
        # A row cut after its type: the archive reader takes missing trailing cells as empty (a manual
        # activity without distance or time), as it does for the older, shorter layouts.
        Case("archive-short-row", "strava archive", "truncated", (
            Loaded(SA, {"activity_id": 8301}, {"name": "Short row", "distance_m": 0.0, "elapsed_time_s": 0}),)),
    ]  # fmt: skip
    return path, cases


def _takeout(work: Path) -> tuple[Path, list[Case]]:
    root = "Takeout/Fitbit"
    csv_dir = f"{root}/Physical Activity_GoogleData"
    json_dir = f"{root}/Global Export Data"
    members = {
        f"{csv_dir}/heart_rate_2024-02-29.csv": (
            "\ufefftimestamp,beats per minute,data source\r\n"
            "2024-02-29T23:59:00Z,81,Pixel Watch\r\n"
            "2024-02-29T23:59:30Z,NaN,Pixel Watch\r\n"
            "2024-02-29T23:59:45Z,1e309,Pixel Watch\r\n"
            "2024-02-30T00:00:00Z,82,Pixel Watch\r\n"
        ).encode(),
        f"{csv_dir}/steps_2024-03-01.csv": b"timestamp,steps,data source\n2024-03-01T10:00:00Z,\xe9,x\n",
        f"{json_dir}/heart_rate-2024-03-02.json": b"",
        f"{json_dir}/steps-2024-03-02.json": ("[" + nested(DEEP) + "]").encode(),
        f"{json_dir}/distance-2024-03-02.json": JPEG,
        f"{json_dir}/altitude-2024-03-02.json": b'[{"dateTime": "03/02/24 10:00:00", "value": "1"}, {"dateT',
        f"{root}/Sleep/steps-2024-03-03.json": b'[{"dateTime": "03/03/24 10:00:00", "value": "5"}]',
        f"{json_dir}/calories-2024-03-04.json": json.dumps([
            {"dateTime": "03/04/24 10:00:00", "value": "1.5"},
            {"dateTime": "13/45/24 10:00:00", "value": "2"},
            {"dateTime": "03/04/24 10:01:00", "value": "-0"},
        ]).encode(),
    }  # fmt: skip
    path = work / "takeout-hostile.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    takeout_user = "hostile-takeout"
    cases = [
        Case("takeout-csv-bom-crlf-leap-day-nan", "takeout", "NaN and Infinity", (
            Loaded(GI, {"user_id": takeout_user, "ts_utc": "2024-02-29 23:59:00", "metric": "heart_rate_bpm"},
                   {"value": 81.0}),
            Rows(GI, {"user_id": takeout_user, "metric": "heart_rate_bpm"}, 1),
            BronzeQuarantined(GH, None, "heart_rate_2024-02-29.csv: ValueError: 'NaN' is not a finite number"),
            BronzeQuarantined(GH, None, "heart_rate_2024-02-29.csv: ValueError: '1e309' is not a finite number"),
            BronzeQuarantined(GH, None, "heart_rate_2024-02-29.csv: ValueError: day is out of range for month"),
            Reported("takeout", "2024-02-29T23:59:30Z"))),
        Case("takeout-csv-not-utf8", "takeout", "non-UTF-8", (
            Reported("takeout", "steps_2024-03-01.csv"),)),
        Case("takeout-zero-byte-member", "takeout", "empty", (
            Reported("takeout", "heart_rate-2024-03-02.json"),)),
        Case("takeout-deep-nesting", "takeout", "deep nesting", (
            Reported("takeout", "steps-2024-03-02.json: nested deeper than"),)),
        Case("takeout-jpeg-renamed-json", "takeout", "binary", (
            Reported("takeout", "distance-2024-03-02.json: not valid JSON"),)),
        Case("takeout-truncated-json", "takeout", "truncated", (
            Reported("takeout", "altitude-2024-03-02.json: not valid JSON"),)),
        Case("takeout-json-in-wrong-folder", "takeout", "wrong folder", (
            Reported("takeout", "Sleep/steps-2024-03-03.json"),)),
        Case("takeout-json-bad-date-and-minus-zero", "takeout", "calendar", (
            Loaded(GI, {"user_id": takeout_user, "ts_local": "2024-03-04 10:00:00", "metric": "calories_kcal"},
                   {"value": 1.5}),
            Loaded(GI, {"user_id": takeout_user, "ts_local": "2024-03-04 10:01:00", "metric": "calories_kcal"},
                   {"value": 0.0}),
            Reported("takeout", "13/45/24"),
            BronzeQuarantined(GH, None, "calories-2024-03-04.json: ValueError: time data '13/45/24 10:00:00'"))),
    ]  # fmt: skip
    return path, cases


MMR = "mapmyrun_workouts"
MMR_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (km),Workout Time (seconds),"
    "Avg Pace (min/km),Max Pace (min/km),Avg Speed (km/h),Max Speed (km/h),Avg Heart Rate,Steps,Notes,Source,Link"
)


def mmr_row(workout_id: int, day: str = "Oct. 5, 2020", calories: str = "230", notes: str = "") -> str:
    """One MapMyRun export row."""
    return (f'"{day}","{day}",Run,{calories},3.3,1394,6.9,0.6,8.5,9.6,0,3883,{notes},iPhone,'
            f"http://www.mapmyrun.com/workout/{workout_id}")  # fmt: skip


def _mapmyrun(work: Path) -> tuple[dict[str, Path], list[Case]]:
    exports = {
        "hostile-bom-crlf.csv": ("\ufeff" + "\r\n".join([
            MMR_HEADER, mmr_row(9101, day="Feb. 29, 2024"), mmr_row(9102, day="Dec. 31, 2023"),
            mmr_row(9103, day="Jan. 1, 1970"), mmr_row(9101, day="Feb. 29, 2024"),
            mmr_row(9104, calories="1e309"), mmr_row(9105, calories=str(2**70)),
            mmr_row(9106, notes='"multi\r\nline note, with comma"'),
        ]) + "\r\n").encode("utf-8"),
        "hostile-missing-column.csv": (MMR_HEADER.replace(",Link", "") + "\n" + mmr_row(9201) + "\n").encode(),
        "hostile-empty.csv": b"",
        "hostile-bad-rows.csv": "\n".join([
            MMR_HEADER, mmr_row(9301), mmr_row(9302, day="Feb. 30, 2021"), '"Oct. 6, 2020","Oct. 6, 2020",Run',
            mmr_row(9304),
        ]).encode() + b"\n",
        # One non-ASCII byte that is not UTF-8 (the export saved as Latin-1).
        "hostile-latin1.csv": "\n".join([
            MMR_HEADER, mmr_row(9401), mmr_row(9402, notes="Caf\xe9 stop"), mmr_row(9403),
        ]).encode("latin-1") + b"\n",
    }  # fmt: skip
    paths = {}
    for name, data in exports.items():
        paths[name] = work / name
        paths[name].write_bytes(data)
    cases = [
        Case("mapmyrun-bom-crlf-calendar", "mapmyrun", "calendar", (
            Loaded(MMR, {"workout_id": 9101}, {"workout_date": "2024-02-29"}),
            Loaded(MMR, {"workout_id": 9102}, {"workout_date": "2023-12-31"}),
            Loaded(MMR, {"workout_id": 9103}, {"workout_date": "1970-01-01"}))),
        Case("mapmyrun-duplicate-link", "mapmyrun", "duplicate ids", (
            BronzeQuarantined(MMR, "hostile-bom-crlf", "duplicate key"),)),
        Case("mapmyrun-huge-numbers", "mapmyrun", "huge numbers", (
            SilverQuarantined(MMR, {"workout_id": 9104}, "values_readable", "Calories Burned (kCal)"),
            # 2^70 is beyond int64 but a double holds it: loaded as written.
            Loaded(MMR, {"workout_id": 9105}, {"calories_kcal": float(2**70)}))),
        Case("mapmyrun-multiline-quoted-note", "mapmyrun", "CRLF", (
            Loaded(MMR, {"workout_id": 9106}, {"notes": "multi\r\nline note, with comma"}),)),
        Case("mapmyrun-missing-column", "mapmyrun", "missing fields", (
            NotLoaded(MMR, {"workout_id": 9201}),)),
        Case("mapmyrun-empty-export", "mapmyrun", "empty", ()),
        Case("mapmyrun-bad-date-and-short-row", "mapmyrun", "truncated", (
            Loaded(MMR, {"workout_id": 9301}), Loaded(MMR, {"workout_id": 9304}), NotLoaded(MMR, {"workout_id": 9302}),
            BronzeQuarantined(MMR, "hostile-bad-rows", "CSV row has 3 fields, header has 15"),
            SilverQuarantined(MMR, {"workout_id": 9302}, "values_readable",
                              "Workout Date: 'Feb. 30, 2021' is not a calendar date"))),
        Case("mapmyrun-not-utf8", "mapmyrun", "non-UTF-8", (
            Loaded(MMR, {"workout_id": 9401}), Loaded(MMR, {"workout_id": 9403}), NotLoaded(MMR, {"workout_id": 9402}),
            BronzeQuarantined(MMR, "hostile-latin1", "not valid UTF-8: byte 0xe9 in Notes"))),
    ]  # fmt: skip
    return paths, cases


def build_corpus(landing_root: Path, work_dir: Path) -> Corpus:
    """Write every case: landing-zone files under `landing_root`, export files under `work_dir`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(cases=_landing_cases(landing_root))
    corpus.strava_archive, archive_cases = _strava_archive(work_dir)
    corpus.takeout, takeout_cases = _takeout(work_dir)
    corpus.mapmyrun_exports, mapmyrun_cases = _mapmyrun(work_dir)
    corpus.cases += archive_cases + takeout_cases + mapmyrun_cases
    return corpus


def as_bytes(text: str) -> io.BytesIO:
    """Bytes of `text` for importers that take a stream."""
    return io.BytesIO(text.encode("utf-8"))
