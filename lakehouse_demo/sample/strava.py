"""Sample Strava activities: SummaryActivity dicts exactly as `GET /api/v3/athlete/activities` returns them.

Shapes follow API_CONTRACTS 1.7 and the real recording (`all_athlete_activities.yml`): the real key order,
optional keys omitted (never null), nullable keys present as null, `[]` lat/lng without GPS,
`start_date_local` in local wall time with a `Z`, and a `timezone` string that shows the zone's *standard*
offset while `utc_offset` is the DST-correct offset of that instant (as Strava does: "(GMT-05:00)
America/New_York" with -14400.0 in July). The Choco story comes from `_story`.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lakehouse.config import SampleSettings
from lakehouse_demo.sample._story import (
    METRES_PER_MILE,
    days,
    draw_dog_walk,
    draw_run_pace,
    seeded_rng,
)

# The key order of a real summary; `_finalise` keeps this order and drops keys an activity does not have.
KEY_ORDER = (
    "resource_state", "athlete", "name", "distance", "moving_time", "elapsed_time", "total_elevation_gain",
    "type", "sport_type", "workout_type", "id", "start_date", "start_date_local", "timezone", "utc_offset",
    "location_city", "location_state", "location_country", "achievement_count", "kudos_count",
    "comment_count", "athlete_count", "photo_count", "map", "trainer", "commute", "manual", "private",
    "visibility", "flagged", "gear_id", "start_latlng", "end_latlng", "average_speed", "max_speed",
    "average_cadence", "average_temp", "has_heartrate", "average_heartrate", "max_heartrate",
    "heartrate_opt_out", "display_hide_heartrate_option", "elev_high", "elev_low", "upload_id",
    "upload_id_str", "external_id", "from_accepted_tag", "pr_count", "total_photo_count", "has_kudoed",
    "suffer_score",
)  # fmt: skip
# Keys a summary may lack (omitted, never null); every other key of KEY_ORDER is always present.
OPTIONAL_KEYS = frozenset(
    {
        "workout_type", "average_cadence", "average_temp", "average_heartrate", "max_heartrate",
        "suffer_score", "elev_high", "elev_low", "upload_id_str",
    }
)  # fmt: skip
# Keys always present that may hold null.
NULLABLE_KEYS = frozenset(
    {
        "workout_type",
        "gear_id",
        "upload_id",
        "external_id",
        "location_city",
        "location_state",
        "location_country",
    }
)

# Activity ids are a global sequence, like Strava's: about 30 per second since 2009 (16.2e9 in Oct 2025).
ID_EPOCH = datetime(2009, 1, 1, tzinfo=UTC)
IDS_PER_SECOND = 30
UPLOAD_ID_OFFSET = 1_083_990_295

# How often things happen: main workouts per day by era and weekday/weekend, dog walks per day in the era.
PRE_ERA_MAIN_PER_DAY = (0.11, 0.19)  # ~4 a month
DOG_ERA_MAIN_PER_DAY = (0.07, 0.12)  # ~2.5 a month: fewer, still real
DOG_WALK_PER_DAY = 0.5
DOG_WALK_PER_DAY_TRAVELLING = 0.1  # the dog stays with a sitter
PRE_ERA_SPORTS = (("Run", 0.86), ("Ride", 0.06), ("Swim", 0.05), ("Walk", 0.03))
DOG_ERA_SPORTS = (("Run", 0.85), ("Ride", 0.08), ("Swim", 0.07))
TREADMILL_SHARE = 0.08
TRAIL_RUN_SHARE = 0.07
INDOOR_RIDE_SHARE = 0.15
COMMUTE_RIDE_SHARE = 0.3
# Activities typed in by hand: no upload, no GPS, no heart rate, integer zeros (10 of 1,132 real ones).
MANUAL_SWIM_SHARE = 0.1
MANUAL_TREADMILL_SHARE = 0.2
MANUAL_WALK_SHARE = 0.01  # the app was not started; the walk is logged afterwards
PRIVATE_SHARE = 0.01
SWIM_NO_MAX_SPEED_SHARE = 0.25  # the watch recorded no max: Strava sends the integer 0
GPS_GLITCH_SHARE = 0.03
TRIPS_PER_YEAR = 2

# Kudos: followers grow slowly; the expected count scales with sport, distance, weekend and races.
FOLLOWER_EPOCH = date(2020, 1, 1)  # a fixed origin, so a longer sample range leaves earlier kudos unchanged
FOLLOWER_GROWTH_PER_YEAR = 0.35
FOLLOWER_FLOOR = 0.5
SHOE_LIFE_MONTHS = 8
KUDOS_PER_FOLLOWER = 0.12
KUDOS_SPORT_FACTOR = {"Run": 1.0, "TrailRun": 1.2, "Ride": 0.9, "Swim": 0.6, "Walk": 0.4}
KUDOS_WEEKEND_FACTOR = 1.25
KUDOS_RACE_FACTOR = 1.6

WORKOUT_TYPE_RUN_DEFAULT, WORKOUT_TYPE_RACE, WORKOUT_TYPE_LONG_RUN, WORKOUT_TYPE_WORKOUT = 0, 1, 2, 3
WORKOUT_TYPE_RIDE_DEFAULT = 10


@dataclass(frozen=True)
class Place:
    """Where activities start: a time zone, a centre, its altitude, hilliness and climate."""

    timezone: str
    lat: float
    lng: float
    altitude_m: float
    climb_m_per_km: float
    mean_temp_c: float
    temp_swing_c: float  # half the summer-winter difference; negative in the southern hemisphere


PLACES = {
    p.timezone: p
    for p in (
        Place("Europe/Amsterdam", 52.3676, 4.9041, 0.0, 1.5, 11.0, 7.0),
        Place("America/New_York", 40.7128, -74.0060, 8.0, 5.0, 13.0, 11.0),
        Place("America/Denver", 39.7392, -104.9903, 1600.0, 9.0, 11.0, 12.0),
        Place("Europe/Madrid", 40.4168, -3.7038, 650.0, 6.0, 15.0, 10.0),
        Place("Europe/Zurich", 47.3769, 8.5417, 410.0, 12.0, 10.0, 9.0),
        Place("America/Los_Angeles", 34.0522, -118.2437, 90.0, 7.0, 18.0, 5.0),
        Place("Australia/Sydney", -33.8688, 151.2093, 20.0, 6.0, 18.0, -5.0),
        Place("Asia/Kolkata", 19.0760, 72.8777, 10.0, 2.0, 27.0, 2.0),
    )
}
HOME_ROTATION = (
    "America/New_York",
    "Europe/Madrid",
    "America/Denver",
    "Europe/Zurich",
    "America/Los_Angeles",
)
TRIP_DESTINATIONS = ("America/New_York", "Europe/Madrid", "Australia/Sydney", "Asia/Kolkata", "Europe/Zurich")

RUN_NAMES = ("Tempo Tuesday", "Long Run", "Recovery jog", "Intervals", "Hill repeats", "Easy miles")
WALK_NAMES = ("Walk with Choco", "Choco's morning loop", "Puppy walk", "Choco \U0001f415", "Park loop")
RIDE_NAMES = ("Coffee ride", "Hills", "Canal loop")
SWIM_NAMES = ("Pool", "Swim Team", "Laps")
RACE_NAMES = ("Parkrun", "10K race", "Half Marathon")


@dataclass
class _Draft:
    """One activity before ids are known."""

    athlete_id: int
    start_utc: datetime
    id_jitter: int
    fields: dict[str, Any]


def month_of(activity: dict[str, Any]) -> str:
    """The UTC month ("YYYY-MM") of an activity's `start_date`, e.g. "2024-05"."""
    return str(activity["start_date"])[:7]


def shifted(activity: dict[str, Any], days: int, new_id: int) -> dict[str, Any]:
    """A copy of an activity `days` later with a new id: a new upload (benchmarks and tests add a week)."""
    moved = dict(activity)
    for key in ("start_date", "start_date_local"):
        when = datetime.strptime(str(activity[key]), "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=days)
        moved[key] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    moved["id"] = new_id
    return moved


def timezone_label(zone: ZoneInfo, at_utc: datetime) -> str:
    """Strava's `timezone`: the zone's standard offset and name, e.g. "(GMT-05:00) America/New_York"."""
    local = at_utc.astimezone(zone)
    standard = local.utcoffset() - local.dst()  # type: ignore[operator]
    minutes = int(standard.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"(GMT{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}) {zone.key}"


def encode_polyline(points: list[tuple[float, float]]) -> str:
    """Google's encoded polyline (precision 5), the format of `map.summary_polyline`."""
    out: list[str] = []
    prev_lat = prev_lng = 0
    for lat, lng in points:
        ilat, ilng = round(lat * 1e5), round(lng * 1e5)
        for delta in (ilat - prev_lat, ilng - prev_lng):
            value = ~(delta << 1) if delta < 0 else delta << 1
            while value >= 0x20:
                out.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            out.append(chr(value + 63))
        prev_lat, prev_lng = ilat, ilng
    return "".join(out)


def _offset(lat: float, lng: float, east_m: float, north_m: float) -> tuple[float, float]:
    return lat + north_m / 111_320, lng + east_m / (111_320 * math.cos(math.radians(lat)))


def _loop(rng: random.Random, lat: float, lng: float, metres: float) -> list[tuple[float, float]]:
    """A jittered loop of about `metres` starting and ending near (lat, lng)."""
    radius = min(metres / (2 * math.pi), 4000.0)
    heading = rng.uniform(0, 2 * math.pi)
    centre = _offset(lat, lng, radius * math.cos(heading), radius * math.sin(heading))
    count = max(8, min(40, int(metres / 250)))
    points = []
    for i in range(count + 1):
        angle = heading + math.pi + 2 * math.pi * i / count
        r = radius * rng.uniform(0.85, 1.15) if 0 < i < count else radius
        points.append(_offset(*centre, r * math.cos(angle), r * math.sin(angle)))
    points[-1] = _offset(*points[-1], rng.uniform(-30, 30), rng.uniform(-30, 30))
    return [(round(a, 6), round(b, 6)) for a, b in points]


def _time_of_day_name(hour: int) -> str:
    if 5 <= hour < 11:
        return "Morning"
    if 11 <= hour < 14:
        return "Lunch"
    if 14 <= hour < 18:
        return "Afternoon"
    if 18 <= hour < 22:
        return "Evening"
    return "Night"


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _temperature(rng: random.Random, place: Place, day: date) -> int:
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365.25)
    return round(place.mean_temp_c + place.temp_swing_c * season + rng.gauss(0, 3))


class _Athlete:
    """Generates one athlete's activities day by day.

    Each day (and each year's trips) draws from its own seeded stream, so extending the sample range adds
    days without changing the activities of the days already there.
    """

    def __init__(self, settings: SampleSettings, athlete_id: int, index: int) -> None:
        self.settings = settings
        self.athlete_id = athlete_id
        self.rng = seeded_rng(settings.seed, "strava", athlete_id)
        home_tz = settings.fitbit_timezone if index == 0 else HOME_ROTATION[(index - 1) % len(HOME_ROTATION)]
        fallback = PLACES["Europe/Amsterdam"]
        self.home = PLACES.get(home_tz) or Place(home_tz, fallback.lat, fallback.lng, 0.0, 3.0, 12.0, 8.0)
        self.followers = self.rng.uniform(25, 70)
        self.shoes = [f"g{self.rng.randrange(10**7, 10**8)}" for _ in range(6)]
        self.bike = f"b{self.rng.randrange(10**6, 10**7)}"
        self.trips = self._plan_trips()

    def _plan_trips(self) -> dict[date, Place]:
        trips: dict[date, Place] = {}
        destinations = [PLACES[tz] for tz in TRIP_DESTINATIONS if tz != self.home.timezone]
        for year in range(self.settings.start_date.year, self.settings.end_date.year + 1):
            rng = seeded_rng(self.settings.seed, "strava", self.athlete_id, "trips", year)
            for _ in range(TRIPS_PER_YEAR):
                first = date(year, 1, 1) + timedelta(days=rng.randrange(365))
                place = rng.choice(destinations)
                for i in range(rng.randint(4, 8)):
                    trips[first + timedelta(days=i)] = place
        return trips

    def generate(self) -> list[_Draft]:
        drafts: list[_Draft] = []
        for day in days(self.settings.start_date, self.settings.end_date):
            self.rng = seeded_rng(self.settings.seed, "strava", self.athlete_id, day.isoformat())
            place = self.trips.get(day, self.home)
            dog_era = day >= self.settings.dog_era_start
            weekend = day.weekday() >= 5
            rates = DOG_ERA_MAIN_PER_DAY if dog_era else PRE_ERA_MAIN_PER_DAY
            main_in_morning = False
            if self.rng.random() < rates[weekend]:
                sport = _pick(self.rng, DOG_ERA_SPORTS if dog_era else PRE_ERA_SPORTS)
                draft = self._main(sport, day, place, dog_era, weekend)
                main_in_morning = draft.start_utc.astimezone(ZoneInfo(place.timezone)).hour < 12
                drafts.append(draft)
            walk_rate = DOG_WALK_PER_DAY if place is self.home else DOG_WALK_PER_DAY_TRAVELLING
            if dog_era and self.rng.random() < walk_rate:
                drafts.append(self._dog_walk(day, place, evening=main_in_morning))
        return drafts

    # --- one activity per sport -------------------------------------------------------------------------

    def _start(self, day: date, place: Place, earliest: time, latest: time) -> datetime:
        lo = earliest.hour * 3600 + earliest.minute * 60
        hi = latest.hour * 3600 + latest.minute * 60
        seconds = self.rng.randrange(lo, hi)
        local = datetime.combine(day, time(seconds // 3600, seconds // 60 % 60, seconds % 60))
        return local.replace(tzinfo=ZoneInfo(place.timezone)).astimezone(UTC)

    def _main(self, sport: str, day: date, place: Place, dog_era: bool, weekend: bool) -> _Draft:
        if sport == "Run":
            return self._run(day, place, dog_era, weekend)
        if sport == "Ride":
            return self._ride(day, place, weekend)
        if sport == "Swim":
            return self._swim(day, place, weekend)
        return self._leisure_walk(day, place)

    def _run(self, day: date, place: Place, dog_era: bool, weekend: bool) -> _Draft:
        rng = self.rng
        treadmill = rng.random() < TREADMILL_SHARE
        trail = not treadmill and rng.random() < TRAIL_RUN_SHARE
        race = not treadmill and weekend and rng.random() < 0.05
        manual = treadmill and rng.random() < MANUAL_TREADMILL_SHARE
        if weekend:
            start = self._start(day, place, time(8, 0), time(10, 30))
            long_run = rng.random() < (0.3 if dog_era else 0.35)
            km = rng.uniform(12, 16 if dog_era else 21) if long_run else rng.uniform(5, 10)
        else:
            evening = rng.random() < 0.7
            start = self._start(day, place, *((time(17, 15), time(19, 45)) if evening else (time(6), time(7, 15))))
            long_run = False
            km = rng.triangular(3.5, 9 if dog_era else 10, 6.0 if dog_era else 6.5)
        if race:
            km = rng.choice((5.0, 10.0, 21.0975)) * rng.uniform(1.0, 1.02)
        pace = draw_run_pace(rng, dog_era, slower_by=(0.4 if long_run else 0.0) + (1.0 if trail else 0.0))
        if race:
            pace = max(8.2, pace - 0.6)
        metres = km * 1000
        moving = round(metres / METRES_PER_MILE * pace * 60)
        # Stops (lights, a shoelace) lengthen elapsed time; the elapsed pace still stays under 12 min/mi.
        elapsed = min(round(moving * rng.uniform(1.0, 1.04)), math.floor(metres / METRES_PER_MILE * 12 * 60))
        workout_type: int | None = WORKOUT_TYPE_RUN_DEFAULT
        if race:
            workout_type = WORKOUT_TYPE_RACE
        elif long_run and rng.random() < 0.5:
            workout_type = WORKOUT_TYPE_LONG_RUN
        elif rng.random() < 0.05:
            workout_type = WORKOUT_TYPE_WORKOUT
        elif rng.random() < 0.08:
            workout_type = None
        hr_avg = min(178.0, max(125.0, 150 + (9.5 - pace) * 6 + (3 if long_run else 0) + rng.gauss(0, 4)))
        fields = self._common(
            sport_type="TrailRun" if trail else "Run",
            activity_type="Run",
            start=start,
            place=place,
            metres=metres,
            moving=moving,
            elapsed=moving if manual else elapsed,
            indoor=treadmill,
            climb=place.climb_m_per_km * (6 if trail else 1),
            device="manual" if manual else "garmin",
            hr=None if manual else (hr_avg, rng.uniform(8, 25)),
            cadence=None if manual else (79.0, 2.0),
            race=race,
        )
        fields["workout_type"] = workout_type
        fields["gear_id"] = self._shoe(day) if rng.random() < 0.9 else None
        if race:
            fields["name"] = rng.choice(RACE_NAMES)
        if not treadmill and rng.random() < 0.3:
            fields["achievement_count"] = rng.randint(1, 6)
            fields["pr_count"] = rng.randint(0, fields["achievement_count"])
        return self._draft(start, fields)

    def _dog_walk(self, day: date, place: Place, evening: bool) -> _Draft:
        rng = self.rng
        window = (time(19, 30), time(21, 0)) if evening else (time(6, 45), time(8, 15))
        start = self._start(day, place, *window)
        metres, seconds = draw_dog_walk(rng)
        moving = round(seconds)
        # Sniff stops: the elapsed pace stays under 28 min/mi (the moving pace is at most 26.8).
        elapsed = min(round(moving * rng.uniform(1.0, 1.04)), math.floor(metres / METRES_PER_MILE * 27.9 * 60))
        watch = rng.random() < 0.35
        manual = rng.random() < MANUAL_WALK_SHARE
        fields = self._common(
            sport_type="Walk",
            activity_type="Walk",
            start=start,
            place=place,
            metres=metres,
            moving=moving,
            elapsed=moving if manual else elapsed,
            indoor=False,
            climb=place.climb_m_per_km * 0.6,
            device="manual" if manual else "garmin" if watch else "phone",
            hr=(rng.uniform(92, 108), rng.uniform(10, 25)) if watch and not manual else None,
            cadence=(54.0, 2.0) if watch and not manual else None,
            race=False,
            near_home=True,
        )
        if rng.random() < 0.2:
            fields["name"] = rng.choice(WALK_NAMES)
        if rng.random() < 0.1:
            fields["total_photo_count"] = rng.randint(1, 3)
        return self._draft(start, fields)

    def _leisure_walk(self, day: date, place: Place) -> _Draft:
        rng = self.rng
        start = self._start(day, place, time(14, 0), time(16, 0))
        metres = rng.uniform(3500, 7000)
        moving = round(metres / METRES_PER_MILE * rng.uniform(17.0, 19.5) * 60)
        fields = self._common(
            sport_type="Walk",
            activity_type="Walk",
            start=start,
            place=place,
            metres=metres,
            moving=moving,
            elapsed=round(moving * rng.uniform(1.02, 1.15)),
            indoor=False,
            climb=place.climb_m_per_km,
            device="phone",
            hr=None,
            cadence=None,
            race=False,
        )
        return self._draft(start, fields)

    def _ride(self, day: date, place: Place, weekend: bool) -> _Draft:
        rng = self.rng
        indoor = rng.random() < INDOOR_RIDE_SHARE
        commute = not weekend and not indoor and rng.random() < COMMUTE_RIDE_SHARE
        if weekend or indoor:
            start = self._start(day, place, time(8, 30), time(10, 0))
            metres, kmh = rng.uniform(15_000, 60_000), rng.uniform(22, 28)
        else:
            window = (time(7, 30), time(8, 15)) if commute else (time(17, 30), time(18, 30))
            start = self._start(day, place, *window)
            metres, kmh = rng.uniform(6_000, 25_000), rng.uniform(18, 24)
        moving = round(metres / (kmh / 3.6))
        fields = self._common(
            sport_type="Ride",
            activity_type="Ride",
            start=start,
            place=place,
            metres=metres,
            moving=moving,
            elapsed=round(moving * rng.uniform(1.0, 1.12)),
            indoor=indoor,
            climb=place.climb_m_per_km * 1.2,
            device="garmin",
            hr=(rng.uniform(120, 145), rng.uniform(15, 30)),
            cadence=None,
            race=False,
        )
        if indoor:  # a trainer without a speed sensor: Strava stores no distance and integer zeros
            fields.update(distance=0.0, average_speed=0.0, max_speed=0)
        fields["workout_type"] = WORKOUT_TYPE_RIDE_DEFAULT if rng.random() < 0.85 else None
        fields["commute"] = commute
        fields["gear_id"] = self.bike
        return self._draft(start, fields)

    def _swim(self, day: date, place: Place, weekend: bool) -> _Draft:
        rng = self.rng
        window = (time(10, 0), time(10, 45)) if weekend else (time(12, 0), time(12, 45))
        start = self._start(day, place, *window)
        metres = rng.randrange(30, 100) * 25.0
        moving = round(metres / 100 * rng.uniform(115, 160))
        manual = rng.random() < MANUAL_SWIM_SHARE
        fields = self._common(
            sport_type="Swim",
            activity_type="Swim",
            start=start,
            place=place,
            metres=metres,
            moving=moving,
            elapsed=moving if manual else round(moving * rng.uniform(1.05, 1.25)),
            indoor=True,
            climb=0.0,
            device="manual" if manual else "garmin",
            hr=None if manual else (rng.uniform(105, 125), rng.uniform(15, 40)),
            cadence=None,
            race=False,
        )
        if not manual and rng.random() >= SWIM_NO_MAX_SPEED_SHARE:
            fields["max_speed"] = round(rng.uniform(0.9, 2.2), 3)
        else:
            fields["max_speed"] = 0
        if not manual:
            fields["average_temp"] = rng.choice((27, 28))
        fields["trainer"] = not manual
        return self._draft(start, fields)

    # --- shared parts -------------------------------------------------------------------------------------

    def _shoe(self, day: date) -> str:
        months = day.year * 12 + day.month - 1
        return self.shoes[(months // SHOE_LIFE_MONTHS) % len(self.shoes)]

    def _common(
        self,
        *,
        sport_type: str,
        activity_type: str,
        start: datetime,
        place: Place,
        metres: float,
        moving: int,
        elapsed: int,
        indoor: bool,
        climb: float,
        device: str,
        hr: tuple[float, float] | None,
        cadence: tuple[float, float] | None,
        race: bool,
        near_home: bool = False,
    ) -> dict[str, Any]:
        """Every field but the ids; optional keys only when the activity has them."""
        rng = self.rng
        zone = ZoneInfo(place.timezone)
        local = start.astimezone(zone)
        manual = device == "manual"
        gps = not indoor and not manual
        distance = round(metres, 1)
        average_speed = round(distance / moving, 3)
        fields: dict[str, Any] = {
            "resource_state": 2,
            "athlete": {"id": self.athlete_id, "resource_state": 1},
            "name": f"{_time_of_day_name(local.hour)} {activity_type}",
            "distance": distance,
            "moving_time": moving,
            "elapsed_time": elapsed,
            "type": activity_type,
            "sport_type": sport_type,
            "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_date_local": local.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timezone": timezone_label(zone, start),
            "utc_offset": local.utcoffset().total_seconds(),  # type: ignore[union-attr]
            "location_city": None,
            "location_state": None,
            "location_country": None,
            "achievement_count": 0,
            "comment_count": 0,
            "athlete_count": 1,
            "photo_count": 0,
            "trainer": indoor and not manual,
            "commute": False,
            "manual": manual,
            "private": False,
            "visibility": "everyone",
            "flagged": False,
            "gear_id": None,
            "average_speed": average_speed,
            "has_heartrate": hr is not None,
            "heartrate_opt_out": False,
            "display_hide_heartrate_option": hr is not None,
            "from_accepted_tag": False,
            "pr_count": 0,
            "total_photo_count": 0,
            "has_kudoed": False,
        }
        if rng.random() < 0.25 and not race:
            names = {"Run": RUN_NAMES, "TrailRun": RUN_NAMES, "Ride": RIDE_NAMES, "Swim": SWIM_NAMES}
            if sport_type in names:
                fields["name"] = rng.choice(names[sport_type])
        if gps:
            spread = 300 if near_home else 2000
            lat, lng = _offset(place.lat, place.lng, rng.uniform(-spread, spread), rng.uniform(-spread, spread))
            path = _loop(rng, lat, lng, metres)
            fields["start_latlng"], fields["end_latlng"] = list(path[0]), list(path[-1])
            fields["polyline"] = encode_polyline(path)
            gain = round(metres / 1000 * climb * rng.uniform(0.6, 1.5), 1)
            fields["total_elevation_gain"] = gain
            low = round(place.altitude_m + rng.gauss(0, 3), 1)
            fields["elev_low"] = low
            fields["elev_high"] = round(low + min(gain, gain * rng.uniform(0.2, 0.6) + 2), 1)
            glitch = rng.random() < GPS_GLITCH_SHARE
            fields["max_speed"] = round(rng.uniform(8, 30) if glitch else average_speed * rng.uniform(1.25, 1.9), 3)
        else:
            fields["start_latlng"], fields["end_latlng"] = [], []
            fields["polyline"] = ""
            fields["total_elevation_gain"] = 0
            fields["max_speed"] = 0 if manual else round(average_speed * rng.uniform(1.05, 1.3), 3)
        if device == "garmin":
            fields["external_id"] = (
                f"garmin_ping_{rng.randrange(10**11, 10**12)}"
                if rng.random() < 0.75
                else f"garmin_push_{rng.randrange(10**9, 10**10)}"
            )
            fields["upload"] = True
            if sport_type != "Swim":
                fields["average_temp"] = _temperature(rng, place, local.date())
        elif device == "phone":
            fields["external_id"] = f"{uuid.UUID(int=rng.getrandbits(128), version=4)}".upper() + "-activity.fit"
            fields["upload"] = True
        else:
            fields["external_id"] = None
            fields["upload"] = False
        if cadence is not None and rng.random() < 0.8:
            fields["average_cadence"] = round(rng.gauss(*cadence), 1)
        if hr is not None:
            avg, spread_up = hr
            fields["average_heartrate"] = round(avg, 1)
            fields["max_heartrate"] = float(round(avg + spread_up))
            minutes = moving / 60
            fields["suffer_score"] = float(max(1, round(minutes * max(0.05, (avg - 95) / 55) ** 2 * 1.7)))
        if sport_type == "Swim" and not manual and rng.random() < 0.25:
            fields["elev_low"] = fields["elev_high"] = 0.0  # some pool swims carry flat zero elevations
        if rng.random() < PRIVATE_SHARE:
            fields.update(private=True, visibility="only_me")
        weekend = local.weekday() >= 5
        if not fields["private"]:
            fields["kudos_count"] = self._kudos(sport_type, metres, start, weekend, race)
            if rng.random() < 0.08 * (3 if race else 1):
                fields["comment_count"] = rng.randint(1, 3)
        else:
            fields["kudos_count"] = 0
        if gps and weekend and sport_type in {"Run", "TrailRun", "Ride"} and rng.random() < 0.2:
            fields["athlete_count"] = rng.randint(2, 4)
        return fields

    def _kudos(self, sport_type: str, metres: float, start: datetime, weekend: bool, race: bool) -> int:
        years = (start.date() - FOLLOWER_EPOCH).days / 365.25
        followers = self.followers * max(FOLLOWER_FLOOR, 1 + FOLLOWER_GROWTH_PER_YEAR * years)
        mean = followers * KUDOS_PER_FOLLOWER * KUDOS_SPORT_FACTOR[sport_type]
        mean *= 0.6 + 0.4 * min(metres / 8000, 3.0)
        mean *= KUDOS_WEEKEND_FACTOR if weekend else 1.0
        mean *= KUDOS_RACE_FACTOR if race else 1.0
        return max(0, round(self.rng.gauss(mean, math.sqrt(mean) + 0.5)))

    def _draft(self, start: datetime, fields: dict[str, Any]) -> _Draft:
        return _Draft(self.athlete_id, start, self.rng.randrange(IDS_PER_SECOND), fields)


def _finalise(draft: _Draft, activity_id: int) -> dict[str, Any]:
    """Add ids, map and upload fields, then lay the keys out in the real order."""
    fields = dict(draft.fields)
    fields["id"] = activity_id
    fields["map"] = {"id": f"a{activity_id}", "summary_polyline": fields.pop("polyline"), "resource_state": 2}
    if fields.pop("upload"):
        fields["upload_id"] = activity_id + UPLOAD_ID_OFFSET
        fields["upload_id_str"] = str(fields["upload_id"])
    else:
        fields["upload_id"] = None
    return {key: fields[key] for key in KEY_ORDER if key in fields}


def generate_activities(settings: SampleSettings) -> list[dict[str, Any]]:
    """Every athlete's activities from start_date to end_date, newest first, as the list endpoint sends."""
    drafts: list[_Draft] = []
    for index, athlete_id in enumerate(settings.athlete_ids):
        drafts.extend(_Athlete(settings, athlete_id, index).generate())
    drafts.sort(key=lambda d: (d.start_utc, d.athlete_id))
    activities = []
    previous = 0
    for draft in drafts:
        seconds = int((draft.start_utc - ID_EPOCH).total_seconds())
        activity_id = max(previous + 1, seconds * IDS_PER_SECOND + draft.id_jitter)
        activities.append(_finalise(draft, activity_id))
        previous = activity_id
    activities.reverse()
    return activities
