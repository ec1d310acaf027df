"""The sample generators: deterministic, shaped like the real APIs and exports, and telling the Choco story.

Pure Python (no Spark). Expected values are worked out here from the contracts (API_CONTRACTS.md) and the
real files, never with the generators' own helpers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lakehouse.config import SampleSettings
from lakehouse.landing import LandingZone
from lakehouse.storage import LocalStore
from lakehouse_demo.sample import land_sample
from lakehouse_demo.sample.fitbit import generate_days
from lakehouse_demo.sample.mapmyrun import generate_csv
from lakehouse_demo.sample.strava import generate_activities

REAL_MAPMYRUN_CSV = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "realdata"
    / "mapmyrun"
    / "JD_workout_history_2021-01-31.csv"
)
METRIC_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (km),Workout Time (seconds),"
    "Avg Pace (min/km),Max Pace (min/km),Avg Speed (km/h),Max Speed (km/h),"
    "Avg Heart Rate,Steps,Notes,Source,Link"
)
IMPERIAL_HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (mi),Workout Time (seconds),"
    "Avg Pace (min/mi),Max Pace (min/mi),Avg Speed (mi/h),Max Speed (mi/h),"
    "Avg Heart Rate,Steps,Notes,Source,Link"
)
METRES_PER_MILE = 1609.344
AP_MONTHS = {
    "Jan.": 1, "Feb.": 2, "March": 3, "April": 4, "May": 5, "June": 6,
    "July": 7, "Aug.": 8, "Sept.": 9, "Oct.": 10, "Nov.": 11, "Dec.": 12,
}  # fmt: skip
RUN_PACE = (8.0, 12.0)  # min/mi
WALK_PACE = (20.0, 28.0)  # min/mi
DOG_WALK_KM = (1.5, 3.0)
ERA = date(2023, 6, 1)

# From the 1,132 real activities (API_CONTRACTS 1.7): keys always sent, keys sometimes omitted, keys nullable.
ALWAYS_PRESENT = {
    "achievement_count", "athlete", "athlete_count", "average_speed", "comment_count", "commute",
    "display_hide_heartrate_option", "distance", "elapsed_time", "end_latlng", "external_id", "flagged",
    "from_accepted_tag", "gear_id", "has_heartrate", "has_kudoed", "heartrate_opt_out", "id", "kudos_count",
    "location_city", "location_state", "location_country", "manual", "map", "max_speed", "moving_time",
    "name", "photo_count", "pr_count", "private", "resource_state", "sport_type", "start_date",
    "start_date_local", "start_latlng", "timezone", "total_elevation_gain", "total_photo_count", "trainer",
    "type", "upload_id", "utc_offset", "visibility",
}  # fmt: skip
SOMETIMES_OMITTED = {
    "average_cadence", "average_temp", "average_heartrate", "max_heartrate", "suffer_score", "elev_high",
    "elev_low", "workout_type", "upload_id_str",
}  # fmt: skip
NULLABLE = {
    "external_id",
    "gear_id",
    "upload_id",
    "workout_type",
    "location_city",
    "location_state",
    "location_country",
}

SMALL = SampleSettings(
    seed=7,
    start_date=date(2023, 1, 1),
    end_date=date(2023, 12, 31),
    athlete_ids=(1021301, 5550001),
    dog_era_start=ERA,
    fitbit_days=12,
    fitbit_timezone="Europe/Amsterdam",
    mapmyrun_workouts=120,
)
DEFAULT = SampleSettings()


@pytest.fixture(scope="module")
def small_activities() -> list[dict[str, Any]]:
    return generate_activities(SMALL)


@pytest.fixture(scope="module")
def default_activities() -> list[dict[str, Any]]:
    return generate_activities(DEFAULT)


@pytest.fixture(scope="module")
def default_days(default_activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return generate_days(DEFAULT, default_activities)


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _local_day(activity: dict[str, Any]) -> date:
    return date.fromisoformat(activity["start_date_local"][:10])


def _pace_min_per_mile(metres: float, seconds: float) -> float:
    return seconds / 60 / (metres / METRES_PER_MILE)


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


# --- Strava -----------------------------------------------------------------------------------------------


def test_strava_same_seed_same_output_other_seed_differs(small_activities: list[dict[str, Any]]) -> None:
    again = generate_activities(SMALL)
    other = generate_activities(replace(SMALL, seed=8))

    assert json.dumps(again) == json.dumps(small_activities)
    assert json.dumps(other) != json.dumps(small_activities)


def test_strava_a_longer_range_keeps_the_earlier_activities() -> None:
    shorter = generate_activities(replace(SMALL, end_date=date(2023, 8, 31)))
    longer = generate_activities(SMALL)

    def before_september(acts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [a for a in acts if _local_day(a) < date(2023, 8, 31)]

    assert before_september(longer) == before_september(shorter)


def test_strava_summaries_have_the_real_keys_and_json_types(small_activities: list[dict[str, Any]]) -> None:
    for a in small_activities:
        keys = set(a)
        assert ALWAYS_PRESENT <= keys, ALWAYS_PRESENT - keys
        assert keys <= ALWAYS_PRESENT | SOMETIMES_OMITTED, keys - ALWAYS_PRESENT - SOMETIMES_OMITTED
        assert {k for k, v in a.items() if v is None} <= NULLABLE
        assert a["resource_state"] == 2
        assert a["athlete"] == {"id": a["athlete"]["id"], "resource_state": 1}
        assert a["athlete"]["id"] in SMALL.athlete_ids
        assert set(a["map"]) == {"id", "summary_polyline", "resource_state"}
        assert a["map"]["id"] == f"a{a['id']}" and a["map"]["resource_state"] == 2
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["start_date"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["start_date_local"])
        assert type(a["id"]) is int and type(a["moving_time"]) is int and type(a["elapsed_time"]) is int
        assert type(a["distance"]) is float and type(a["average_speed"]) is float
        assert type(a["utc_offset"]) is float
        for key in ("max_speed", "total_elevation_gain"):  # a JSON int only for a bare 0
            assert type(a[key]) is float or (type(a[key]) is int and a[key] == 0), (key, a[key])
        assert (
            a["has_heartrate"]
            == ("average_heartrate" in a)
            == ("max_heartrate" in a)
            == ("suffer_score" in a)
        )
        if a["has_heartrate"]:
            assert type(a["average_heartrate"]) is float
            assert type(a["max_heartrate"]) is float and type(a["suffer_score"]) is float
            assert a["max_heartrate"] >= a["average_heartrate"]
        if "average_temp" in a:
            assert type(a["average_temp"]) is int
        assert (a["upload_id"] is None) == a["manual"] == ("upload_id_str" not in a)
        if a["upload_id"] is not None:
            assert a["upload_id_str"] == str(a["upload_id"])
        if a["private"]:
            assert a["visibility"] == "only_me" and a["kudos_count"] == 0
        assert a["elapsed_time"] >= a["moving_time"] > 0


def test_strava_no_gps_means_empty_latlng_and_polyline(small_activities: list[dict[str, Any]]) -> None:
    swims = [a for a in small_activities if a["type"] == "Swim"]
    assert swims
    for a in small_activities:
        if a["type"] == "Swim" or a["trainer"] or a["manual"]:
            assert a["start_latlng"] == [] and a["end_latlng"] == [] and a["map"]["summary_polyline"] == ""
            assert "elev_high" not in a or a["elev_high"] == 0.0
        else:
            for point in (a["start_latlng"], a["end_latlng"]):
                assert len(point) == 2 and all(type(x) is float for x in point)
                assert -90 <= point[0] <= 90 and -180 <= point[1] <= 180
            assert a["map"]["summary_polyline"]
    for a in swims:
        assert a["total_elevation_gain"] == 0 and type(a["total_elevation_gain"]) is int
        assert "workout_type" not in a and "average_cadence" not in a


def test_strava_sample_shows_the_real_quirks(default_activities: list[dict[str, Any]]) -> None:
    pairs = Counter((a["type"], a["sport_type"]) for a in default_activities)

    assert {("Run", "Run"), ("Run", "TrailRun"), ("Walk", "Walk"), ("Ride", "Ride"), ("Swim", "Swim")} <= set(
        pairs
    )
    assert any(type(a["max_speed"]) is int for a in default_activities)
    assert any(type(a["total_elevation_gain"]) is int for a in default_activities)
    assert any(a.get("workout_type", "absent") is None for a in default_activities)
    assert any("average_heartrate" not in a for a in default_activities)
    assert any(a["manual"] for a in default_activities)


def test_strava_ids_are_unique_and_grow_with_time(small_activities: list[dict[str, Any]]) -> None:
    ids = [a["id"] for a in small_activities]
    by_time = sorted(small_activities, key=lambda a: (a["start_date"], a["id"]))

    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**63 for i in ids)
    assert [a["id"] for a in by_time] == sorted(ids)
    assert ids == sorted(ids, reverse=True)  # the list endpoint sends newest first


def test_strava_local_time_timezone_and_offset_agree(small_activities: list[dict[str, Any]]) -> None:
    offsets_by_zone: dict[str, set[float]] = {}
    for a in small_activities:
        match = re.fullmatch(r"\(GMT([+-])(\d\d):(\d\d)\) (\S+)", a["timezone"])
        assert match, a["timezone"]
        sign, hours, minutes, name = match.groups()
        zone = ZoneInfo(name)
        start = _utc(a["start_date"])
        local = start.astimezone(zone)
        standard = (local.utcoffset() - local.dst()).total_seconds()  # type: ignore[operator]

        assert a["utc_offset"] == local.utcoffset().total_seconds()  # type: ignore[union-attr]
        assert (1 if sign == "+" else -1) * (int(hours) * 3600 + int(minutes) * 60) == standard
        assert _utc(a["start_date_local"]) - start == timedelta(seconds=a["utc_offset"])
        offsets_by_zone.setdefault(name, set()).add(a["utc_offset"])

    assert offsets_by_zone["Europe/Amsterdam"] == {3600.0, 7200.0}  # winter and summer time both seen
    assert offsets_by_zone["America/New_York"] == {-18000.0, -14400.0}


def test_strava_dog_era_brings_daily_short_slow_walks(default_activities: list[dict[str, Any]]) -> None:
    before = [a for a in default_activities if _local_day(a) < DEFAULT.dog_era_start]
    after = [a for a in default_activities if _local_day(a) >= DEFAULT.dog_era_start]
    months_before = _months(DEFAULT.start_date, DEFAULT.dog_era_start - timedelta(days=1))
    months_after = _months(DEFAULT.dog_era_start, DEFAULT.end_date)

    def per_month(acts: list[dict[str, Any]], months: int, kind: str | None = None) -> float:
        return len([a for a in acts if kind is None or a["type"] == kind]) / months

    assert 3.0 <= per_month(before, months_before) <= 5.0
    assert Counter(a["type"] for a in before).most_common(1)[0][0] == "Run"
    assert per_month(after, months_after, "Walk") >= 3 * max(per_month(before, months_before, "Walk"), 1.0)
    assert per_month(after, months_after) >= 3.5 * per_month(before, months_before)
    assert 1.0 <= per_month(after, months_after, "Run") <= per_month(before, months_before, "Run")

    for walk in (a for a in after if a["type"] == "Walk"):
        for seconds in (walk["moving_time"], walk["elapsed_time"]):
            assert WALK_PACE[0] <= _pace_min_per_mile(walk["distance"], seconds) <= WALK_PACE[1], walk
        assert DOG_WALK_KM[0] * 1000 <= walk["distance"] <= DOG_WALK_KM[1] * 1000
        assert 18 * 60 <= walk["elapsed_time"] <= 38 * 60
    for run in (a for a in default_activities if a["type"] == "Run" and a["distance"] > 0):
        for seconds in (run["moving_time"], run["elapsed_time"]):
            assert RUN_PACE[0] <= _pace_min_per_mile(run["distance"], seconds) <= RUN_PACE[1], run


def test_strava_kudos_follow_distance_sport_and_followers(default_activities: list[dict[str, Any]]) -> None:
    runs = [a for a in default_activities if a["type"] == "Run" and not a["private"]]
    walks = [a for a in default_activities if a["type"] == "Walk" and not a["private"]]

    assert mean(a["kudos_count"] for a in runs if a["distance"] > 12_000) > mean(
        a["kudos_count"] for a in runs if a["distance"] < 7_000
    )
    assert mean(a["kudos_count"] for a in runs) > mean(a["kudos_count"] for a in walks)
    assert mean(a["kudos_count"] for a in runs if a["start_date"] < "2022") < mean(
        a["kudos_count"] for a in runs if a["start_date"] >= "2024"
    )
    assert mean(a["kudos_count"] for a in walks if _local_day(a).weekday() >= 5) > mean(
        a["kudos_count"] for a in walks if _local_day(a).weekday() < 5
    )
    assert len({a["kudos_count"] for a in runs}) > 5  # not a formula without noise


# --- Fitbit -----------------------------------------------------------------------------------------------


def _body(envelopes: list[dict[str, Any]], resource: str, day: str) -> dict[str, Any]:
    (envelope,) = (e for e in envelopes if e["resource"] == resource and e["date"] == day)
    return envelope["response"]


def _minute(clock: str) -> int:
    hours, minutes, seconds = (int(x) for x in clock.split(":"))
    assert seconds == 0
    return hours * 60 + minutes


def test_fitbit_same_seed_same_output_other_seed_differs(small_activities: list[dict[str, Any]]) -> None:
    first = generate_days(SMALL, small_activities)
    again = generate_days(SMALL, small_activities)
    other = generate_days(replace(SMALL, seed=8), small_activities)

    assert json.dumps(first) == json.dumps(again)
    assert json.dumps(other) != json.dumps(first)


def test_fitbit_one_envelope_per_day_and_resource(default_days: list[dict[str, Any]]) -> None:
    resources = ["heart", "steps", "calories", "distance", "elevation", "floors"]
    expected_days = [(DEFAULT.end_date - timedelta(days=i)).isoformat() for i in range(DEFAULT.fitbit_days)][
        ::-1
    ]

    assert [(e["date"], e["resource"]) for e in default_days] == [
        (d, r) for d in expected_days for r in resources
    ]
    for e in default_days:
        assert set(e) == {"user_id", "resource", "date", "detail_level", "response"}
        assert e["user_id"] == DEFAULT.fitbit_user_id and e["detail_level"] == "1min"


def test_fitbit_heart_zones_match_the_intraday_minutes(default_days: list[dict[str, Any]]) -> None:
    resting_seen = []
    for e in (e for e in default_days if e["resource"] == "heart"):
        body = e["response"]
        assert set(body) == {"activities-heart", "activities-heart-intraday"}
        (summary,) = body["activities-heart"]
        assert summary["dateTime"] == e["date"]
        value = summary["value"]
        assert value["customHeartRateZones"] == []
        zones = value["heartRateZones"]
        assert [z["name"] for z in zones] == ["Out of Range", "Fat Burn", "Cardio", "Peak"]
        assert [set(z) for z in zones] == [{"name", "min", "max", "minutes", "caloriesOut"}] * 4
        assert all(zones[i]["max"] == zones[i + 1]["min"] for i in range(3))
        intraday = body["activities-heart-intraday"]
        assert intraday["datasetInterval"] == 1 and intraday["datasetType"] == "minute"
        points = intraday["dataset"]
        minutes = [_minute(p["time"]) for p in points]
        assert minutes == sorted(set(minutes)) and len(minutes) < 24 * 60  # off-wrist gaps
        values = [p["value"] for p in points]
        assert all(type(v) is int and zones[0]["min"] <= v < zones[-1]["max"] for v in values)
        for zone in zones:
            assert zone["minutes"] == sum(zone["min"] <= v < zone["max"] for v in values)
            assert zone["caloriesOut"] >= 0
        resting_seen.append(value.get("restingHeartRate"))

    assert all(r is None or type(r) is int for r in resting_seen)
    assert None in resting_seen and any(r is not None for r in resting_seen)  # absent on an occasional day


def test_fitbit_activity_resources_have_string_totals_and_typed_minutes(
    default_days: list[dict[str, Any]],
) -> None:
    value_types = {"steps": int, "calories": float, "distance": float, "elevation": float, "floors": int}
    for e in (e for e in default_days if e["resource"] != "heart"):
        resource = e["resource"]
        body = e["response"]
        assert set(body) == {f"activities-{resource}", f"activities-{resource}-intraday"}
        (summary,) = body[f"activities-{resource}"]
        assert summary["dateTime"] == e["date"] and type(summary["value"]) is str
        intraday = body[f"activities-{resource}-intraday"]
        assert intraday["datasetInterval"] == 1 and intraday["datasetType"] == "minute"
        points = intraday["dataset"]
        assert [_minute(p["time"]) for p in points] == list(range(24 * 60))
        assert all(type(p["value"]) is value_types[resource] and p["value"] >= 0 for p in points)
        total = sum(p["value"] for p in points)
        if resource in {"steps", "floors"}:
            assert summary["value"] == str(total)
        else:
            assert float(summary["value"]) == pytest.approx(
                total, abs=0.5 if resource == "calories" else 0.01
            )
        if resource == "calories":
            assert all(set(p) == {"level", "mets", "time", "value"} for p in points)
            assert all(p["level"] in {0, 1, 2, 3} and type(p["mets"]) is int for p in points)
        else:
            assert all(set(p) == {"time", "value"} for p in points)


def test_fitbit_strava_activities_raise_heart_rate_and_steps(
    default_activities: list[dict[str, Any]], default_days: list[dict[str, Any]]
) -> None:
    zone = ZoneInfo(DEFAULT.fitbit_timezone)
    first_day = (DEFAULT.end_date - timedelta(days=DEFAULT.fitbit_days - 1)).isoformat()
    checked = 0
    for a in default_activities:
        start = _utc(a["start_date"]).astimezone(zone)
        day = start.date().isoformat()
        if (
            a["athlete"]["id"] != DEFAULT.athlete_ids[0]
            or not first_day <= day <= DEFAULT.end_date.isoformat()
        ):
            continue
        begin = start.hour * 60 + start.minute
        window = range(begin + 5, min(begin + a["elapsed_time"] // 60, 24 * 60))
        heart = {
            _minute(p["time"]): p["value"]
            for p in _body(default_days, "heart", day)["activities-heart-intraday"]["dataset"]
        }
        steps = [
            p["value"] for p in _body(default_days, "steps", day)["activities-steps-intraday"]["dataset"]
        ]
        during = [heart[m] for m in window]  # worn the whole time
        outside = [v for m, v in heart.items() if m not in window]
        assert mean(during) > sorted(outside)[len(outside) // 2] + 15, a["name"]
        if a["type"] in {"Run", "Walk"}:
            assert mean(steps[m] for m in window) > 50
        checked += 1
    assert checked >= 5


# --- MapMyRun ---------------------------------------------------------------------------------------------


def _ap_date(text: str) -> date:
    match = re.fullmatch(
        r"(Jan\.|Feb\.|March|April|May|June|July|Aug\.|Sept\.|Oct\.|Nov\.|Dec\.) (\d{1,2}), (\d{4})", text
    )
    assert match, text
    return date(int(match.group(3)), AP_MONTHS[match.group(1)], int(match.group(2)))


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


@pytest.fixture(scope="module")
def default_csv() -> str:
    return generate_csv(DEFAULT)


def test_mapmyrun_header_is_the_real_export_header(default_csv: str) -> None:
    assert default_csv.split("\n", 1)[0] == METRIC_HEADER
    assert generate_csv(SMALL, units="imperial").split("\n", 1)[0] == IMPERIAL_HEADER
    if REAL_MAPMYRUN_CSV.exists():
        assert (
            default_csv.split("\n", 1)[0] == REAL_MAPMYRUN_CSV.read_text(encoding="utf-8").split("\n", 1)[0]
        )


def test_mapmyrun_same_seed_same_output_other_seed_differs() -> None:
    assert generate_csv(SMALL) == generate_csv(SMALL)
    assert generate_csv(replace(SMALL, seed=8)) != generate_csv(SMALL)
    with pytest.raises(ValueError, match="units must be"):
        generate_csv(SMALL, units="furlongs")


def test_mapmyrun_rows_look_like_the_real_export(default_csv: str) -> None:
    _, rows = _rows(default_csv)
    assert "\r" not in default_csv and default_csv.endswith("\n")
    assert len(rows) == DEFAULT.mapmyrun_workouts
    assert all(len(r) == 15 for r in rows)
    assert re.search(
        r'^"(Jan\.|Feb\.|March|April|May|June|July|Aug\.|Sept\.|Oct\.|Nov\.|Dec\.) \d{1,2}, \d{4}",',
        default_csv,
        re.M,
    )

    workout_dates = [_ap_date(r[1]) for r in rows]
    submitted = [_ap_date(r[0]) for r in rows]
    assert workout_dates == sorted(workout_dates, reverse=True)  # newest first
    assert all(DEFAULT.start_date <= d <= DEFAULT.end_date for d in workout_dates)
    assert all(
        timedelta(0) <= s - d <= timedelta(days=7) for s, d in zip(submitted, workout_dates, strict=True)
    )
    assert any(s - d == timedelta(days=1) for s, d in zip(submitted, workout_dates, strict=True))

    links = [r[14] for r in rows]
    assert all(re.fullmatch(r"http://www\.mapmyfitness\.com/workout/\d+", link) for link in links)
    assert len(set(links)) == len(links)
    assert [int(link.rsplit("/", 1)[1]) for link in links] == sorted(
        (int(x.rsplit("/", 1)[1]) for x in links), reverse=True
    )

    assert {r[2] for r in rows} == {"Run", "Walk", "Bike Ride", "Indoor Run / Jog"}
    assert {r[10] for r in rows} == {"0", ""}
    assert all(re.fullmatch(r"\d*", r[11]) for r in rows) and any(r[11] == "" for r in rows)
    assert (
        all(re.fullmatch(r"b'[^']*'", r[12]) for r in rows)
        and Counter(r[12] for r in rows)["b''"] > len(rows) / 2
    )
    assert {r[13] for r in rows} == {"Map My Fitness MapMyRun iPhone", "Map My Fitness MapMyRun Android"}
    assert all(r[3].isdigit() and r[5].isdigit() for r in rows)
    assert any(len(r[4].split(".")[1]) > 8 for r in rows)  # high-precision floats
    assert any(float(r[9]) > 1000 for r in rows)  # a GPS glitch in km/h


def test_mapmyrun_pace_and_speed_agree_with_distance_and_time(default_csv: str) -> None:
    _, rows = _rows(default_csv)
    for r in rows:
        km, seconds = float(r[4]), int(r[5])
        assert float(r[6]) == pytest.approx(seconds / 60 / km, rel=1e-9)  # Avg Pace min/km
        assert float(r[8]) == pytest.approx(km / (seconds / 3600), rel=1e-9)  # Avg Speed km/h
        assert float(r[7]) * float(r[9]) == pytest.approx(60, rel=1e-9)  # Max Pace x Max Speed
        assert float(r[9]) > float(r[8])


def test_mapmyrun_imperial_is_the_same_workouts_in_miles() -> None:
    _, metric = _rows(generate_csv(SMALL))
    _, imperial = _rows(generate_csv(SMALL, units="imperial"))

    assert len(metric) == len(imperial) == SMALL.mapmyrun_workouts
    for m, i in zip(metric, imperial, strict=True):
        assert (m[:4], m[5], m[10:]) == (i[:4], i[5], i[10:])
        assert float(m[4]) == pytest.approx(float(i[4]) * 1.609344, rel=1e-12)
        assert float(i[6]) == pytest.approx(int(i[5]) / 60 / float(i[4]), rel=1e-9)
        assert len(i[4].split(".")[-1]) <= 5  # stored in miles to 5 decimals


def test_mapmyrun_follows_the_dog_era(default_csv: str) -> None:
    _, rows = _rows(default_csv)
    before = [r for r in rows if _ap_date(r[1]) < DEFAULT.dog_era_start]
    after = [r for r in rows if _ap_date(r[1]) >= DEFAULT.dog_era_start]
    months_before = _months(DEFAULT.start_date, DEFAULT.dog_era_start - timedelta(days=1))
    months_after = _months(DEFAULT.dog_era_start, DEFAULT.end_date)

    assert len(after) / months_after >= 3 * len(before) / months_before
    assert Counter(r[2] for r in before).most_common(1)[0][0] == "Run"
    walks_after = [r for r in after if r[2] == "Walk"]
    walks_before = [r for r in before if r[2] == "Walk"]
    assert len(walks_after) / months_after >= 3 * max(len(walks_before) / months_before, 0.5)
    assert any(r[2] == "Run" for r in after)
    for r in walks_after:
        km, seconds = float(r[4]), int(r[5])
        assert WALK_PACE[0] <= seconds / 60 / (km * 1000 / METRES_PER_MILE) <= WALK_PACE[1]
        assert DOG_WALK_KM[0] <= km <= DOG_WALK_KM[1]
    for r in (r for r in rows if r[2] in {"Run", "Indoor Run / Jog"}):
        km, seconds = float(r[4]), int(r[5])
        assert RUN_PACE[0] <= seconds / 60 / (km * 1000 / METRES_PER_MILE) <= RUN_PACE[1]


# --- Landing ----------------------------------------------------------------------------------------------


def test_land_sample_writes_monthly_files_once(tmp_path: Path) -> None:
    landing = LandingZone(LocalStore(str(tmp_path / "a")))

    first = land_sample(landing, SMALL)
    second = land_sample(landing, SMALL)
    elsewhere = land_sample(LandingZone(LocalStore(str(tmp_path / "b"))), SMALL, run_id="sample")

    assert first and all(f.written for f in first)
    assert [f.key for f in second] == [f.key for f in first] and not any(f.written for f in second)
    for f in first:
        assert (tmp_path / "a" / f.key).read_bytes() == (tmp_path / "b" / f.key).read_bytes()
    assert [f.key for f in elsewhere] == [f.key for f in first]

    pattern = re.compile(
        r"(strava/activities|fitbit/(heart|steps|calories|distance|elevation|floors)|mapmyrun/workouts)"
        r"/month=(\d{4}-\d\d)/sample\.(json|csv)"
    )
    by_source: Counter[str] = Counter()
    for f in first:
        match = pattern.fullmatch(f.key)
        assert match, f.key
        month = match.group(3)
        data = (tmp_path / "a" / f.key).read_bytes()
        if f.key.startswith("mapmyrun/"):
            header, rows = _rows(data.decode("utf-8"))
            assert ",".join(header) == METRIC_HEADER and len(rows) == f.records
            assert all(_ap_date(r[1]).strftime("%Y-%m") == month for r in rows)
        elif f.key.startswith("strava/"):
            records = json.loads(data)
            assert len(records) == f.records and all(r["start_date"][:7] == month for r in records)
        else:
            records = json.loads(data)
            assert len(records) == f.records
            assert all(r["date"][:7] == month and r["resource"] == match.group(2) for r in records)
        by_source[f.key.split("/month=")[0]] += f.records

    # Besides its own workouts, the export records one in twelve Strava runs and walks a second time.
    on_foot = [
        a for a in generate_activities(SMALL) if a["sport_type"] in ("Run", "TrailRun", "Walk") and a["distance"]
    ]
    assert by_source["mapmyrun/workouts"] == SMALL.mapmyrun_workouts + -(-len(on_foot) // 12)
    assert by_source["strava/activities"] == len(generate_activities(SMALL))
    assert all(by_source[f"fitbit/{r}"] == SMALL.fitbit_days for r in ("heart", "steps", "floors"))
