"""The declared quality rules of each silver table: row expectations, and staged-versus-production checks.

Keyed by table label (`silver.strava_activities`). How to choose an action:
- `quarantine` when a row cannot be used or merged (a missing key, no start time, an impossible heart rate):
  it leaves the stage and is kept, with the rule's name, in `ops.silver_quarantine` for a look later;
- `drop` when a row carries nothing (a Fitbit point without a value);
- `warn` when a row is suspicious but may be real, or a GPS glitch spoils one field only (speed, moving
  time): the row is merged and the count reported;
- `fail` (expectations) and `halt` (checks) when the whole batch is wrong and merging it would corrupt the
  table: duplicate keys in the staged rows (the MERGE needs one source row per key).

Thresholds are named constants below; each expectation's SQL is TRUE for a good row (NULL counts as bad,
so rules that accept a missing value say `x IS NULL OR ...`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lakehouse.quality.checks import (
    SqlCheck,
    duplicate_keys_check,
    weekly_activity_count_zscore_check,
    weekly_kudos_zscore_check,
)
from lakehouse.quality.expectations import DROP, QUARANTINE, WARN, Expectation
from lakehouse.silver import api_calls, fitbit, mapmyrun_workouts, strava_activities, strava_streams
from lakehouse.silver.readable import PARSE_ERRORS

STRAVA = f"silver.{strava_activities.NAME}"
FITBIT_INTRADAY = f"silver.{fitbit.INTRADAY_NAME}"
FITBIT_DAILY = f"silver.{fitbit.DAILY_NAME}"
MAPMYRUN = f"silver.{mapmyrun_workouts.NAME}"
STRAVA_STREAMS = f"silver.{strava_streams.NAME}"
API_CALLS = f"silver.{api_calls.NAME}"

HEART_RATE_MIN_BPM = 20  # below any living adult's heart rate: a sensor off the wrist
HEART_RATE_MAX_BPM = 250  # above any human maximum heart rate
MOVING_TIME_TOLERANCE_S = 60  # Strava's moving time can exceed elapsed time by a few seconds of rounding
MINUTES_PER_DAY = 1440

# Highest plausible AVERAGE speed (m/s) of a whole activity, by Strava sport type; other sports unchecked.
# Runs: 7.5 m/s is faster than the 1500 m world record pace; walks and hikes: faster than race-walking;
# rides: 20 m/s (72 km/h) is beyond the hour record; swims: faster than the 50 m freestyle record.
MAX_AVERAGE_SPEED_MPS: Mapping[float, tuple[str, ...]] = {
    7.5: ("Run", "TrailRun", "VirtualRun"),
    4.5: ("Walk", "Hike"),
    20.0: ("Ride", "VirtualRide", "GravelRide", "MountainBikeRide", "EBikeRide", "EMountainBikeRide"),
    2.5: ("Swim",),
}
# Highest plausible MAX speed (m/s) in a MapMyRun workout; above it the GPS glitched (real exports have
# 8368 km/h). On foot: 12.5 m/s is Usain Bolt's top speed; on a bike: 30 m/s (108 km/h) downhill.
MAX_SPEED_ON_FOOT_MPS = 12.5
MAX_SPEED_ANY_MPS = 30.0
MAPMYRUN_ON_FOOT = ("Run", "Walk", "Indoor Run / Jog")
MAX_STREAM_SPEED_MPS = 40.0  # 144 km/h: beyond any human-powered sample, a GPS jump


def _quoted(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _speed_by_sport_sql(speed: str, sport: str, limits: Mapping[float, tuple[str, ...]]) -> str:
    """`speed IS NULL OR CASE WHEN sport IN (...) THEN speed <= limit ... ELSE TRUE END`."""
    whens = " ".join(
        f"WHEN {sport} IN ({_quoted(sports)}) THEN {speed} <= {limit}" for limit, sports in limits.items()
    )
    return f"{speed} IS NULL OR CASE {whens} ELSE TRUE END"


def _values_readable(table: str) -> Expectation:
    """Quarantine a row holding a value that was present in bronze but did not read (see `silver.readable`)."""
    return Expectation(
        "values_readable",
        table,
        f"size({PARSE_ERRORS}) = 0",
        QUARANTINE,
        f"a value that is there but does not read (an impossible date, a time past 23:59:59, a number too big"
        f" for its column, NaN): `{PARSE_ERRORS}` in the quarantined row names the field and the value",
    )


def _heart_rate_in_range(column: str) -> str:
    return f"{column} IS NULL OR {column} BETWEEN {HEART_RATE_MIN_BPM} AND {HEART_RATE_MAX_BPM}"


EXPECTATIONS: dict[str, tuple[Expectation, ...]] = {
    STRAVA: (
        _values_readable(STRAVA),
        Expectation(
            "activity_key_present",
            STRAVA,
            "athlete_id IS NOT NULL AND activity_id IS NOT NULL",
            QUARANTINE,
            "a row without its key cannot be merged (bronze already rejects records without an id)",
        ),
        Expectation(
            "start_time_present",
            STRAVA,
            "start_time_utc IS NOT NULL",
            QUARANTINE,
            "an activity without a start time belongs to no day, week or month",
        ),
        Expectation("distance_non_negative", STRAVA, "distance_m IS NULL OR distance_m >= 0", WARN),
        Expectation(
            "moving_time_within_elapsed",
            STRAVA,
            "moving_time_s IS NULL OR elapsed_time_s IS NULL"
            f" OR moving_time_s <= elapsed_time_s + {MOVING_TIME_TOLERANCE_S}",
            WARN,
        ),
        Expectation(
            "plausible_speed_for_sport",
            STRAVA,
            _speed_by_sport_sql("average_speed_mps", "sport_type", MAX_AVERAGE_SPEED_MPS),
            WARN,
            "an average speed no human reaches in this sport: a GPS or unit error",
        ),
        Expectation("heart_rate_plausible", STRAVA, _heart_rate_in_range("average_heartrate_bpm"), WARN),
        Expectation("kudos_non_negative", STRAVA, "kudos_count >= 0", WARN),
    ),
    FITBIT_INTRADAY: (
        _values_readable(FITBIT_INTRADAY),
        Expectation(
            "series_key_present",
            FITBIT_INTRADAY,
            "user_id IS NOT NULL AND metric IS NOT NULL AND ts_utc IS NOT NULL AND ts_local IS NOT NULL",
            QUARANTINE,
            "an unknown resource (no metric) or an unreadable time cannot be merged",
        ),
        Expectation("value_present", FITBIT_INTRADAY, "value IS NOT NULL", DROP, "a point without a value"),
        Expectation(
            "heart_rate_in_range",
            FITBIT_INTRADAY,
            f"metric <> 'heart_rate_bpm' OR {_heart_rate_in_range('value')}",
            QUARANTINE,
            f"a heart rate outside {HEART_RATE_MIN_BPM}..{HEART_RATE_MAX_BPM} bpm is a sensor error",
        ),
        Expectation("value_non_negative", FITBIT_INTRADAY, "value IS NULL OR value >= 0", WARN),
    ),
    FITBIT_DAILY: (
        _values_readable(FITBIT_DAILY),
        Expectation(
            "day_key_present",
            FITBIT_DAILY,
            "user_id IS NOT NULL AND metric IS NOT NULL AND date IS NOT NULL",
            QUARANTINE,
        ),
        Expectation("total_non_negative", FITBIT_DAILY, "total IS NULL OR total >= 0", WARN),
        Expectation(
            "resting_heart_rate_in_range", FITBIT_DAILY, _heart_rate_in_range("resting_heart_rate_bpm"), WARN
        ),
        Expectation(
            "zone_minutes_within_day",
            FITBIT_DAILY,
            "heart_rate_zones IS NULL OR "
            f"aggregate(heart_rate_zones, 0L, (acc, z) -> acc + coalesce(z.minutes, 0)) <= {MINUTES_PER_DAY}",
            WARN,
        ),
    ),
    MAPMYRUN: (
        _values_readable(MAPMYRUN),
        Expectation(
            "workout_id_present",
            MAPMYRUN,
            "workout_id IS NOT NULL",
            QUARANTINE,
            "the id comes from the Link URL; without it the row cannot be merged",
        ),
        Expectation("workout_date_present", MAPMYRUN, "workout_date IS NOT NULL", QUARANTINE),
        Expectation(
            "duration_positive", MAPMYRUN, "duration_s > 0", QUARANTINE, "no duration: no pace, no load"
        ),
        Expectation("distance_non_negative", MAPMYRUN, "distance_m IS NULL OR distance_m >= 0", WARN),
        Expectation(
            "max_speed_not_gps_glitch",
            MAPMYRUN,
            "max_speed_mps IS NULL OR max_speed_mps <= CASE"
            f" WHEN activity_type IN ({_quoted(MAPMYRUN_ON_FOOT)}) THEN {MAX_SPEED_ON_FOOT_MPS}"
            f" ELSE {MAX_SPEED_ANY_MPS} END",
            WARN,
            "a GPS glitch in the max speed (the rest of the workout is fine)",
        ),
        Expectation("heart_rate_plausible", MAPMYRUN, _heart_rate_in_range("avg_heart_rate_bpm"), WARN),
    ),
    STRAVA_STREAMS: (
        _values_readable(STRAVA_STREAMS),
        Expectation(
            "sample_key_present",
            STRAVA_STREAMS,
            "activity_id IS NOT NULL AND point IS NOT NULL",
            QUARANTINE,
            "a sample without its activity or index cannot be merged",
        ),
        # Single samples spike (a strap losing contact, a GPS jump): warn, keep the rest of the stream intact.
        Expectation("heart_rate_in_range", STRAVA_STREAMS, _heart_rate_in_range("heart_rate_bpm"), WARN),
        Expectation(
            "velocity_plausible",
            STRAVA_STREAMS,
            f"velocity_mps IS NULL OR velocity_mps BETWEEN 0 AND {MAX_STREAM_SPEED_MPS}",
            WARN,
        ),
    ),
    # A ledger of the pipeline's own API calls: readable values, and the duplicate-key check below.
    API_CALLS: (_values_readable(API_CALLS),),
}

CHECKS: dict[str, tuple[SqlCheck, ...]] = {
    STRAVA: (
        duplicate_keys_check(STRAVA, strava_activities.KEYS),
        weekly_activity_count_zscore_check(STRAVA),
        weekly_kudos_zscore_check(STRAVA),
    ),
    FITBIT_INTRADAY: (duplicate_keys_check(FITBIT_INTRADAY, fitbit.INTRADAY_KEYS),),
    FITBIT_DAILY: (duplicate_keys_check(FITBIT_DAILY, fitbit.DAILY_KEYS),),
    MAPMYRUN: (duplicate_keys_check(MAPMYRUN, mapmyrun_workouts.KEYS),),
    STRAVA_STREAMS: (duplicate_keys_check(STRAVA_STREAMS, strava_streams.KEYS),),
    API_CALLS: (duplicate_keys_check(API_CALLS, api_calls.KEYS),),
}


def expectations_for(table: str) -> tuple[Expectation, ...]:
    """The expectations declared for `table` (a label like `silver.strava_activities`); none if unknown."""
    return EXPECTATIONS.get(table, ())


def checks_for(table: str) -> tuple[SqlCheck, ...]:
    """The staged-versus-production checks declared for `table`; none if unknown."""
    return CHECKS.get(table, ())
