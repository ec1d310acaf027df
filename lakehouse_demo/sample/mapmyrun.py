"""Sample MapMyRun workout-history CSV exports, in the exact style of the real files (API_CONTRACTS 3).

Quirks reproduced from `terrydolan/mmr` exports: 15 columns, AP-style quoted dates ("Sept. 30, 2020"), rows
newest first, distances stored in miles to 5 decimals (so metric km look like 4.498164760320001), pace and
speed computed from distance and time, `0` or empty heart rate, sometimes empty steps, notes as Python bytes
reprs (`b''`), GPS-glitch max speeds, `\\n` line endings. The Choco story comes from `_story`; the sample has
exactly `mapmyrun_workouts` rows, with the dog era about `DOG_ERA_FREQUENCY_FACTOR` times busier.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakehouse.config import SampleSettings
from lakehouse_demo.sample._story import KM_PER_MILE, days, draw_dog_walk, draw_run_pace, seeded_rng

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
HEADERS = {"metric": METRIC_HEADER, "imperial": IMPERIAL_HEADER}
AP_MONTHS = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
LINK_PREFIX = "http://www.mapmyfitness.com/workout/"
SOURCES = ("Map My Fitness MapMyRun iPhone", "Map My Fitness MapMyRun Android")

# Workout ids are a global sequence: about 11 a second since 2006 (5.43e9 at the end of January 2021).
ID_EPOCH = datetime(2006, 1, 1, tzinfo=UTC)
IDS_PER_SECOND = 11

DOG_ERA_FREQUENCY_FACTOR = 4.5  # workouts per day in the dog era relative to before
PRE_ERA_TYPES = (("Run", 0.90), ("Indoor Run / Jog", 0.04), ("Bike Ride", 0.03), ("Walk", 0.03))
DOG_ERA_TYPES = (("Walk", 0.78), ("Run", 0.18), ("Indoor Run / Jog", 0.02), ("Bike Ride", 0.02))
ANDROID_SHARE = 0.15
LATE_SUBMIT_SHARES = (0.05, 0.02)  # submitted the next day; two to six days later
EMPTY_HEART_RATE_SHARE = 0.05
EMPTY_STEPS_SHARE = 0.02
NOTE_SHARE = 0.07
GPS_GLITCH_SHARE = 0.35  # common in the real exports (54, 143, 304 km/h on runs)
WILD_GLITCH_SHARE = 0.02  # thousands of km/h, like the real 8368.2 km/h
NOTES = {
    "Run": ("Easy run", "too hot", "Fail :(", "Tempo", "Felt great"),
    "Indoor Run / Jog": ("Treadmill", "Gym"),
    "Walk": ("Walk with Choco", "Choco", "rainy", "Puppy class after"),
    "Bike Ride": ("Looks like a bike was a run", "Commute"),
}


@dataclass(frozen=True)
class Workout:
    """One workout before formatting; distances in miles (to 5 decimals, as MapMyRun stores them)."""

    workout_id: int
    workout_date: date
    submitted: date
    activity_type: str
    calories: int
    miles: float
    seconds: int
    max_mph: float
    heart_rate: str
    steps: int | None
    note: str
    source: str


def ap_date(day: date) -> str:
    """A date the way MapMyRun exports write it, e.g. "Sept. 30, 2020" or "May 6, 2025"."""
    return f"{AP_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _max_mph(rng: random.Random, avg_mph: float, indoor: bool) -> float:
    if indoor:
        return avg_mph * rng.uniform(1.05, 1.3)
    roll = rng.random()
    if roll < WILD_GLITCH_SHARE:
        return rng.uniform(1000, 5300)
    if roll < GPS_GLITCH_SHARE:
        return rng.uniform(20, 200)
    return avg_mph * rng.uniform(1.3, 2.5)


def _workout(rng: random.Random, day: date, dog_era: bool) -> tuple[datetime, Workout]:
    """One workout on `day` (its id is filled in later); also returns its start time, for ordering."""
    kind = _pick(rng, DOG_ERA_TYPES if dog_era else PRE_ERA_TYPES)
    if kind == "Walk" and dog_era:
        metres, seconds = draw_dog_walk(rng)
        miles = round(metres / 1000 / KM_PER_MILE, 5)
        pace = seconds / 60 / (metres / 1000 / KM_PER_MILE)
        start_hour = rng.choice((7, 20))
    elif kind == "Walk":
        miles = round(rng.uniform(2.2, 4.5), 5)
        pace = rng.uniform(17.0, 19.5)
        start_hour = 15
    elif kind == "Bike Ride":
        miles = round(rng.uniform(5, 20), 5)
        pace = 60 / rng.uniform(10, 16)
        start_hour = 9
    else:
        indoor = kind == "Indoor Run / Jog"
        miles = round(rng.uniform(2.0, 5.0) if indoor else rng.triangular(2.0, 8.0, 3.6), 5)
        pace = draw_run_pace(rng, dog_era)
        start_hour = rng.choice((7, 18))
    seconds = round(miles * pace * 60)
    km = miles * KM_PER_MILE
    steps: int | None = None
    if kind == "Walk":
        steps = round(km * rng.uniform(1450, 1650))
        calories = round(km * rng.uniform(45, 58))
    elif kind == "Bike Ride":
        calories = round(km * rng.uniform(17, 22))
    else:
        steps = round(km * rng.uniform(1300, 1500))
        calories = round(km * rng.uniform(62, 76))
    if steps is not None and rng.random() < EMPTY_STEPS_SHARE:
        steps = None
    late = rng.random()
    if late < LATE_SUBMIT_SHARES[0]:
        submitted = day + timedelta(days=1)
    elif late < sum(LATE_SUBMIT_SHARES):
        submitted = day + timedelta(days=rng.randint(2, 6))
    else:
        submitted = day
    note = rng.choice(NOTES[kind]) if rng.random() < NOTE_SHARE else ""
    start = datetime(day.year, day.month, day.day, start_hour, rng.randrange(60), rng.randrange(60), tzinfo=UTC)
    workout = Workout(
        workout_id=0,
        workout_date=day,
        submitted=submitted,
        activity_type=kind,
        calories=calories,
        miles=miles,
        seconds=seconds,
        max_mph=_max_mph(rng, miles / (seconds / 3600), kind == "Indoor Run / Jog"),
        heart_rate="" if rng.random() < EMPTY_HEART_RATE_SHARE else "0",
        steps=steps,
        note=note,
        source=SOURCES[1] if rng.random() < ANDROID_SHARE else SOURCES[0],
    )
    return start, workout


TWIN_EVERY = 12  # one Strava run or walk in this many was also recorded with MapMyRun
TWIN_TYPES = {"Run": "Run", "TrailRun": "Run", "Walk": "Walk"}


def twins_of(activities: list[dict[str, Any]], seed: int) -> list[tuple[datetime, Workout]]:
    """MapMyRun recordings of some Strava runs and walks: the same session, as a second app saw it.

    Same local date, distance within 1 % and time within 20 s, so silver.workouts can merge the pair.
    """
    rng = seeded_rng(seed, "mapmyrun-twins")
    on_foot = sorted(
        (a for a in activities if a.get("sport_type") in TWIN_TYPES and a.get("distance")),
        key=lambda a: (a["start_date"], a["id"]),
    )
    twins = []
    for activity in on_foot[::TWIN_EVERY]:
        local = datetime.strptime(activity["start_date_local"], "%Y-%m-%dT%H:%M:%SZ")
        kind = TWIN_TYPES[activity["sport_type"]]
        miles = round(activity["distance"] / 1000 / KM_PER_MILE * rng.uniform(0.99, 1.01), 5)
        seconds = max(60, int(activity["moving_time"]) + rng.randint(-20, 20))
        km = miles * KM_PER_MILE
        workout = Workout(
            workout_id=0, workout_date=local.date(), submitted=local.date(), activity_type=kind,
            calories=round(km * (52 if kind == "Walk" else 68)), miles=miles, seconds=seconds,
            max_mph=miles / (seconds / 3600) * rng.uniform(1.3, 1.8), heart_rate="0",
            steps=round(km * (1550 if kind == "Walk" else 1400)), note="", source=SOURCES[0],
        )  # fmt: skip
        twins.append((local.replace(tzinfo=UTC), workout))
    return twins


def generate_workouts(settings: SampleSettings, twins: list[tuple[datetime, Workout]] | None = None) -> list[Workout]:
    """`mapmyrun_workouts` workouts from start_date to end_date (plus any `twins`), newest first."""
    rng = seeded_rng(settings.seed, "mapmyrun")
    calendar = days(settings.start_date, settings.end_date)
    weights = [DOG_ERA_FREQUENCY_FACTOR if d >= settings.dog_era_start else 1.0 for d in calendar]
    chosen = sorted(rng.choices(calendar, weights=weights, k=max(0, settings.mapmyrun_workouts)))
    drafted = sorted(
        [*(_workout(rng, d, d >= settings.dog_era_start) for d in chosen), *(twins or [])],
        key=lambda pair: pair[0],
    )
    workouts: list[Workout] = []
    previous = 0
    for start, workout in drafted:
        seconds = int((start - ID_EPOCH).total_seconds())
        workout_id = max(previous + 1, seconds * IDS_PER_SECOND + rng.randrange(IDS_PER_SECOND))
        workouts.append(replace(workout, workout_id=workout_id))
        previous = workout_id
    workouts.reverse()
    return workouts


def _row(workout: Workout, units: str) -> list[str]:
    """One CSV row; numbers use Python's shortest round-trip repr, as the real exports do."""
    distance = workout.miles if units == "imperial" else workout.miles * KM_PER_MILE
    max_speed = workout.max_mph if units == "imperial" else workout.max_mph * KM_PER_MILE
    return [
        ap_date(workout.submitted),
        ap_date(workout.workout_date),
        workout.activity_type,
        str(workout.calories),
        repr(distance),
        str(workout.seconds),
        repr(workout.seconds / 60 / distance),
        repr(60 / max_speed),
        repr(distance / (workout.seconds / 3600)),
        repr(max_speed),
        workout.heart_rate,
        "" if workout.steps is None else str(workout.steps),
        repr(workout.note.encode("utf-8")),
        workout.source,
        f"{LINK_PREFIX}{workout.workout_id}",
    ]


def render_csv(workouts: list[Workout], units: str = "metric") -> str:
    """The export text for `workouts` in their given order: header line, then one line per workout."""
    if units not in HEADERS:
        raise ValueError(f"units must be 'metric' or 'imperial', got {units!r}")
    buffer = io.StringIO()
    buffer.write(HEADERS[units] + "\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(_row(w, units) for w in workouts)
    return buffer.getvalue()


def generate_csv(settings: SampleSettings, units: str = "metric") -> str:
    """A whole workout-history export ("metric" or "imperial" header and units), newest first."""
    return render_csv(generate_workouts(settings), units)


def generate_csv_by_month(
    settings: SampleSettings, units: str = "metric", twins: list[tuple[datetime, Workout]] | None = None
) -> dict[str, tuple[str, int]]:
    """One export per Workout Date month: {"YYYY-MM": (csv text with header, row count)}, months sorted."""
    by_month: dict[str, list[Workout]] = defaultdict(list)
    for workout in generate_workouts(settings, twins):
        by_month[workout.workout_date.strftime("%Y-%m")].append(workout)
    return {month: (render_csv(by_month[month], units), len(by_month[month])) for month in sorted(by_month)}
