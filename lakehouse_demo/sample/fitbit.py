"""Sample Fitbit intraday days: one envelope per (day, resource) holding the exact Web API response body.

Bodies follow API_CONTRACTS 2.2 and the real python-fitbit dumps: heart has the four default zones and a
sparse 1-minute dataset (off-wrist gaps), activity resources have every minute of the day. Daily summary
`value`s of the activity resources are strings, as Fitbit sends them (`"7796"`); intraday values are ints
(steps, floors) or floats (calories, distance in km, elevation in m). The Strava activities of the first
athlete, moved into the Fitbit user's time zone, raise heart rate, steps and calories in their windows.
"""

from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lakehouse.config import SampleSettings
from lakehouse_demo.sample._story import days, seeded_rng

RESOURCES = ("heart", "steps", "calories", "distance", "elevation", "floors")
DETAIL_LEVEL = "1min"
MINUTES_PER_DAY = 24 * 60

# Zone bounds: a minute counts in a zone when min <= value < max (all generated values lie in [30, 220)).
HEART_RATE_ZONES = (("Out of Range", 30, 95), ("Fat Burn", 95, 133), ("Cardio", 133, 162), ("Peak", 162, 220))
HEART_RATE_BOUNDS = (38, 205)
BASE_RESTING_HEART_RATE = (57.0, 2.0)  # mean, sd of the user's resting rate
AWAKE_ABOVE_RESTING = 14.0

WEIGHT_KG = 72.0
FLOOR_HEIGHT_M = 3.048  # Fitbit counts one floor per 10 ft climbed
STRIDE_KM = 0.00070
METS_LEVEL_BOUNDS = (15, 30, 60)  # mets (x10) at which level 1, 2, 3 start

# Off-wrist habits. Every LOW_WEAR_EVERY_DAYS-th day (offset per user) has a long gap and no resting heart
# rate, so any window that long shows the missing `restingHeartRate`.
LOW_WEAR_EVERY_DAYS = 11
SHOWER_PROBABILITY = 0.8
CHARGE_PROBABILITY = 0.35
DROPOUT_PROBABILITY = 0.01
MOVE_PROBABILITY = 0.18

_SPORT_HEART_RATE = {"Run": 150.0, "TrailRun": 148.0, "Walk": 100.0, "Ride": 132.0, "Swim": 115.0}
_SPORT_METS = {"Walk": (28, 36), "Ride": (65, 85), "Swim": (60, 80)}


@dataclass(frozen=True)
class _Effort:
    """What one Strava activity does to each of its minutes."""

    sport: str
    heart_rate: float
    heart_rate_peak: float
    steps_per_minute: float
    km_per_minute: float
    floors_per_minute: float
    mets: tuple[int, int]

    @classmethod
    def of(cls, activity: dict[str, Any]) -> _Effort:
        sport = str(activity["sport_type"])
        hr = float(activity.get("average_heartrate") or _SPORT_HEART_RATE.get(sport, 110.0))
        peak = float(activity.get("max_heartrate") or hr + 15)
        minutes = max(1.0, activity["elapsed_time"] / 60)
        on_foot = sport in {"Run", "TrailRun", "Walk"}
        if sport in {"Run", "TrailRun"}:
            steps = 2 * float(activity.get("average_cadence") or 79.0)
            kmh = activity["average_speed"] * 3.6
            mets = (round(kmh * 9), round(kmh * 11))
        else:
            steps = 2 * float(activity.get("average_cadence") or 54.0) if sport == "Walk" else 0.0
            mets = _SPORT_METS.get(sport, (40, 60))
        return cls(
            sport=sport,
            heart_rate=hr,
            heart_rate_peak=peak,
            steps_per_minute=steps,
            km_per_minute=activity["average_speed"] * 60 / 1000 if on_foot else 0.0,
            floors_per_minute=float(activity["total_elevation_gain"]) / FLOOR_HEIGHT_M / minutes if on_foot else 0.0,
            mets=mets,
        )


@dataclass
class _Minute:
    heart_rate: int | None
    steps: int
    mets: int
    km: float
    floors: int


def month_of(envelope: dict[str, Any]) -> str:
    """The month ("YYYY-MM") of an envelope's local `date`, e.g. "2024-12"."""
    return str(envelope["date"])[:7]


def _float32(value: float) -> float:
    """Round through a 32-bit float, as Fitbit's calories (3.0657200813293457) are."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _level(mets: int) -> int:
    return sum(mets >= bound for bound in METS_LEVEL_BOUNDS)


def _efforts_by_day(
    settings: SampleSettings, activities: list[dict[str, Any]], zone: ZoneInfo, first: date, last: date
) -> dict[date, dict[int, tuple[_Effort, int]]]:
    """Minute-of-local-day -> (effort, minutes since start) for the first athlete's activities."""
    out: dict[date, dict[int, tuple[_Effort, int]]] = {}
    if not settings.athlete_ids:
        return out
    athlete_id = settings.athlete_ids[0]
    window_start = datetime.combine(first - timedelta(days=1), datetime.min.time(), UTC)
    window_end = datetime.combine(last + timedelta(days=2), datetime.min.time(), UTC)
    for activity in activities:
        if activity["athlete"]["id"] != athlete_id:
            continue
        start = datetime.strptime(activity["start_date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if not window_start <= start < window_end:
            continue
        effort = _Effort.of(activity)
        for k in range(max(1, math.ceil(activity["elapsed_time"] / 60))):
            local = (start + timedelta(minutes=k)).astimezone(zone)
            if first <= local.date() <= last:
                out.setdefault(local.date(), {})[local.hour * 60 + local.minute] = (effort, k)
    return out


def _off_wrist(rng: random.Random, wake: int, bedtime: int, low_wear: bool) -> set[int]:
    gaps: set[int] = set()
    if low_wear:
        begin = rng.randint(wake + 60, max(wake + 61, bedtime - 360))
        gaps.update(range(begin, min(bedtime, begin + rng.randint(300, 540))))
    if rng.random() < SHOWER_PROBABILITY:
        begin = wake + rng.randint(10, 40)
        gaps.update(range(begin, begin + rng.randint(12, 25)))
    if rng.random() < CHARGE_PROBABILITY:
        begin = rng.randint(wake + 60, max(wake + 61, bedtime - 120))
        gaps.update(range(begin, begin + rng.randint(40, 100)))
    gaps.update(m for m in range(MINUTES_PER_DAY) if rng.random() < DROPOUT_PROBABILITY)
    return gaps


def _day_minutes(
    rng: random.Random, day: date, resting: int, efforts: dict[int, tuple[_Effort, int]], low_wear: bool
) -> list[_Minute]:
    """Every minute of one local day."""
    weekend = day.weekday() >= 5
    wake = rng.randint(450, 540) if weekend else rng.randint(375, 450)
    bedtime = rng.randint(1350, 1425)
    if efforts:
        wake = min(wake, max(0, min(efforts) - 20))
        bedtime = max(bedtime, min(MINUTES_PER_DAY, max(efforts) + 30))
    gaps = _off_wrist(rng, wake, bedtime, low_wear)
    hr_low, hr_high = HEART_RATE_BOUNDS
    awake_hr = resting + AWAKE_ABOVE_RESTING
    minutes: list[_Minute] = []
    for minute in range(MINUTES_PER_DAY):
        if minute in efforts:
            effort, k = efforts[minute]
            ramp = min(1.0, (k + 1) / 4)
            hr = min(effort.heart_rate_peak, awake_hr + (effort.heart_rate - awake_hr) * ramp + rng.gauss(0, 4))
            stride = rng.uniform(0.55, 1.0) if effort.sport == "Walk" else rng.uniform(0.95, 1.05)
            steps = round(effort.steps_per_minute * stride)
            km = effort.km_per_minute * stride if effort.km_per_minute else 0.0
            floors = 1 if rng.random() < effort.floors_per_minute else 0
            minutes.append(_Minute(_clamp(hr, hr_low, hr_high), steps, rng.randint(*effort.mets), km, floors))
            continue
        if minute in gaps:  # off-wrist: no heart rate, no steps, calories at the resting estimate
            minutes.append(_Minute(None, 0, 10, 0.0, 0))
        elif minute < wake or minute >= bedtime:
            minutes.append(_Minute(_clamp(resting + rng.gauss(-1, 2), hr_low, hr_high), 0, 9, 0.0, 0))
        elif rng.random() < MOVE_PROBABILITY:
            steps = round(rng.triangular(5, 120, 30))
            floors = 1 if steps > 40 and rng.random() < 0.02 else 0
            hr = awake_hr + steps * 0.12 + rng.gauss(0, 5)
            mets = min(45, 11 + steps // 4)
            minutes.append(_Minute(_clamp(hr, hr_low, hr_high), steps, mets, steps * STRIDE_KM, floors))
        else:
            minutes.append(_Minute(_clamp(awake_hr + rng.gauss(0, 5), hr_low, hr_high), 0, rng.randint(10, 12), 0.0, 0))
    return minutes


def _clamp(value: float, low: int, high: int) -> int:
    return int(min(high, max(low, round(value))))


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}:00"


def _intraday(dataset: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dataset": dataset, "datasetInterval": 1, "datasetType": "minute"}


def _heart_body(day: date, minutes: list[_Minute], calories: list[float], resting: int | None) -> dict[str, Any]:
    zones = []
    for name, low, high in HEART_RATE_ZONES:
        inside = [i for i, m in enumerate(minutes) if m.heart_rate is not None and low <= m.heart_rate < high]
        zones.append(
            {
                "name": name,
                "min": low,
                "max": high,
                "minutes": len(inside),
                "caloriesOut": round(sum(calories[i] for i in inside), 5),
            }
        )
    value: dict[str, Any] = {"customHeartRateZones": [], "heartRateZones": zones}
    if resting is not None:
        value["restingHeartRate"] = resting
    dataset = [{"time": _clock(i), "value": m.heart_rate} for i, m in enumerate(minutes) if m.heart_rate is not None]
    return {
        "activities-heart": [{"dateTime": day.isoformat(), "value": value}],
        "activities-heart-intraday": _intraday(dataset),
    }


def _series_body(resource: str, day: date, total: str, dataset: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        f"activities-{resource}": [{"dateTime": day.isoformat(), "value": total}],
        f"activities-{resource}-intraday": _intraday(dataset),
    }


def _bodies(day: date, minutes: list[_Minute], resting: int | None) -> dict[str, dict[str, Any]]:
    """The response body of every resource for one day."""
    calories = [_float32(m.mets / 10 * WEIGHT_KG / 60) for m in minutes]
    km = [round(m.km, 6) for m in minutes]
    elevation = [round(m.floors * FLOOR_HEIGHT_M, 3) for m in minutes]
    steps = [{"time": _clock(i), "value": m.steps} for i, m in enumerate(minutes)]
    return {
        "heart": _heart_body(day, minutes, calories, resting),
        "steps": _series_body("steps", day, str(sum(m.steps for m in minutes)), steps),
        "calories": _series_body(
            "calories",
            day,
            str(round(sum(calories))),
            [
                {"level": _level(m.mets), "mets": m.mets, "time": _clock(i), "value": calories[i]}
                for i, m in enumerate(minutes)
            ],
        ),
        "distance": _series_body(
            "distance",
            day,
            str(round(sum(km), 5)),
            [{"time": _clock(i), "value": v} for i, v in enumerate(km)],
        ),
        "elevation": _series_body(
            "elevation",
            day,
            str(round(sum(elevation), 2)),
            [{"time": _clock(i), "value": v} for i, v in enumerate(elevation)],
        ),
        "floors": _series_body(
            "floors",
            day,
            str(sum(m.floors for m in minutes)),
            [{"time": _clock(i), "value": m.floors} for i, m in enumerate(minutes)],
        ),
    }


def generate_days(settings: SampleSettings, activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Envelopes for the last `fitbit_days` days up to end_date, by date then in `RESOURCES` order."""
    if settings.fitbit_days <= 0:
        return []
    zone = ZoneInfo(settings.fitbit_timezone)
    first = settings.end_date - timedelta(days=settings.fitbit_days - 1)
    efforts = _efforts_by_day(settings, activities, zone, first, settings.end_date)
    user_rng = seeded_rng(settings.seed, "fitbit", settings.fitbit_user_id)
    base_resting = user_rng.gauss(*BASE_RESTING_HEART_RATE)
    low_wear_phase = user_rng.randrange(LOW_WEAR_EVERY_DAYS)
    envelopes: list[dict[str, Any]] = []
    for day in days(first, settings.end_date):
        rng = seeded_rng(settings.seed, "fitbit", settings.fitbit_user_id, day.isoformat())
        resting = round(base_resting + rng.gauss(0, 1.5))
        low_wear = day.toordinal() % LOW_WEAR_EVERY_DAYS == low_wear_phase
        minutes = _day_minutes(rng, day, resting, efforts.get(day, {}), low_wear)
        bodies = _bodies(day, minutes, None if low_wear else resting)
        for resource in RESOURCES:
            envelopes.append(
                {
                    "user_id": settings.fitbit_user_id,
                    "resource": resource,
                    "date": day.isoformat(),
                    "detail_level": DETAIL_LEVEL,
                    "response": bodies[resource],
                }
            )
    return envelopes
