"""gold.activity_training_load and gold.training_load_daily on literal rows.

TRIMP is checked against Banister's formula written out below, CTL/ATL against a plain-Python recurrence,
ACWR / monotony / strain against plain-Python 7- and 28-day windows (days before an athlete's first day
count as rest days, load 0, as they do in the recurrence), and the incremental form against the full one.
Defaults (AnalyticsSettings): HR max 190, resting 60, threshold 170, k 1.92, CTL 42 days, ATL 7 days.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import AnalyticsSettings
from lakehouse.gold.training_load import activity_load, daily_load, performance_management

PARAMS = AnalyticsSettings()
ZONES = "array<struct<zone: string, min_bpm: int, max_bpm: int, minutes: int, calories_kcal: double>>"
DAILY_OUT = (
    "person_id long, date date, load double, ctl double, atl double, tsb double, ramp_rate double, acwr double,"
    " acwr_zone string, monotony double, strain double"
)


def _banister(minutes: float, hr: float, rest: float) -> float:
    """Banister TRIMP: minutes x HRR x 0.64 x e^(1.92 HRR), HRR = (HR - rest) / (190 - rest)."""
    hrr = (hr - rest) / (190.0 - rest)
    return minutes * hrr * 0.64 * math.exp(1.92 * hrr)


# TRIMP(100)'s unit, 60 minutes at threshold 170 with resting 60: HRR = 110/130 = 0.84615 -> 164.946.
THRESHOLD_HOUR = _banister(60.0, 170.0, 60.0)


def test_trimp_from_fitbit_samples_or_the_average_heart_rate(spark: SparkSession) -> None:
    workouts = spark.createDataFrame(
        [
            # A: average HR only, that day's Fitbit resting HR 55
            ("A", 1, "run", date(2024, 1, 10), datetime(2024, 1, 10, 7), None, 1800.0, 150.0),
            # B: Fitbit covers the whole window (10 one-minute samples): TRIMP from the samples
            ("B", 1, "run", date(2024, 1, 11), datetime(2024, 1, 11, 18), 600.0, 600.0, 140.0),
            # C: Fitbit covers 6 of 20 moving minutes (< 50 %): back to the average HR
            ("C", 1, "walk", date(2024, 1, 12), datetime(2024, 1, 12, 7), 1260.0, 1200.0, 130.0),
            # D: no heart rate at all; E: no start time (a MapMyRun row), so no window: its own average HR
            ("D", 1, "run", date(2024, 1, 13), datetime(2024, 1, 13, 9), 600.0, 600.0, None),
            ("E", 1, "run", date(2024, 1, 14), None, 600.0, 600.0, 150.0),
        ],
        "workout_id string, person_id long, sport string, workout_date date, start_time_utc timestamp,"
        " elapsed_s double, duration_s double, avg_heart_rate_bpm double",
    )
    b_start, c_start = datetime(2024, 1, 11, 18), datetime(2024, 1, 12, 7)
    samples = (
        [(b_start - timedelta(minutes=1), 170.0)]  # before the window
        + [(b_start + timedelta(minutes=i), 100.0 if i < 5 else 160.0) for i in range(10)]
        + [(b_start + timedelta(minutes=10), 170.0)]  # the window's end is exclusive
        + [(c_start + timedelta(minutes=i), 120.0) for i in range(5)]
        + [(c_start + timedelta(minutes=20, seconds=30), 120.0)]  # inside the elapsed time, after the moving time
    )
    heart_rate = spark.createDataFrame(
        # Local time is UTC-5: the same calendar day for every sample here.
        [(ts, ts - timedelta(hours=5), hr, 60) for ts, hr in samples],
        "ts_utc timestamp, ts_local timestamp_ntz, value double, interval_s int",
    )
    zones = [
        ("Out of Range", 30, 94, 0, 0.0),
        ("Fat Burn", 94, 132, 0, 0.0),
        ("Cardio", 132, 160, 0, 0.0),
        ("Peak", 160, 220, 0, 0.0),
    ]
    fitbit_daily = spark.createDataFrame(
        [
            (date(2024, 1, 10), "heart_rate_bpm", 55, zones),
            (date(2024, 1, 11), "heart_rate_bpm", None, zones),  # no resting HR: the default 60
            (date(2024, 1, 12), "heart_rate_bpm", 58, zones),
            (date(2024, 1, 13), "steps", None, None),
        ],
        f"date date, metric string, resting_heart_rate_bpm int, heart_rate_zones {ZONES}",
    )
    # A: HRR (150 - 55) / 135 = 0.7037 -> 30 x 0.7037 x 0.64 x e^1.3511 = 52.176; / 164.946 -> 31.632.
    # B: 5 min at HRR 40/130 (0.3555 each) + 5 min at HRR 100/130 (2.1560 each) = 12.558 -> 7.613;
    #    100 bpm is Fat Burn, 160 bpm is Peak (zones are [min, max)); mean HR 130.
    # C: HRR (130 - 58) / 132 = 0.5455 -> 20 x 0.5455 x 0.64 x e^1.0473 = 19.897 -> 12.063; 6 samples seen.
    # E: HRR (150 - 60) / 130 = 0.6923 -> 10 x 0.6923 x 0.64 x e^1.3292 = 16.740 -> 10.149.
    a = _banister(30.0, 150.0, 55.0)
    b = 5 * _banister(1.0, 100.0, 60.0) + 5 * _banister(1.0, 160.0, 60.0)
    c = _banister(20.0, 130.0, 58.0)
    e = _banister(10.0, 150.0, 60.0)
    expected = spark.createDataFrame(
        [
            ("A", 1, "run", date(2024, 1, 10), 30.0, "activity", 0, 150.0, 55.0, a, 100 * a / THRESHOLD_HOUR,
             None, None, None, None),
            ("B", 1, "run", date(2024, 1, 11), 10.0, "fitbit", 10, 130.0, 60.0, b, 100 * b / THRESHOLD_HOUR,
             0.0, 5.0, 0.0, 5.0),
            ("C", 1, "walk", date(2024, 1, 12), 20.0, "activity", 6, 130.0, 58.0, c, 100 * c / THRESHOLD_HOUR,
             None, None, None, None),
            ("D", 1, "run", date(2024, 1, 13), 10.0, "none", 0, None, 60.0, None, None, None, None, None, None),
            ("E", 1, "run", date(2024, 1, 14), 10.0, "activity", 0, 150.0, 60.0, e, 100 * e / THRESHOLD_HOUR,
             None, None, None, None),
        ],
        "workout_id string, person_id long, sport string, workout_date date, duration_min double,"
        " hr_source string, hr_samples long, avg_hr double, resting_hr double, trimp double, trimp100 double,"
        " out_of_range_min double, fat_burn_min double, cardio_min double, peak_min double",
    )  # fmt: skip
    assert abs(a - 52.176) < 1e-3 and abs(b - 12.558) < 1e-3 and abs(c - 19.897) < 1e-3 and abs(e - 16.740) < 1e-3
    assert_approx_df_equality(
        activity_load(workouts, heart_rate, fitbit_daily, PARAMS),
        expected,
        1e-3,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_daily_load_covers_every_calendar_day(spark: SparkSession) -> None:
    loads = spark.createDataFrame(
        [
            (1, date(2024, 1, 10), 50.0),
            (1, date(2024, 1, 10), 25.0),
            (1, date(2024, 1, 12), None),  # a workout without heart rate adds nothing
            (1, date(2024, 1, 13), 40.0),
            (2, date(2024, 1, 14), 20.0),
        ],
        "person_id long, workout_date date, trimp100 double",
    )
    expected = spark.createDataFrame(
        [
            (1, date(2024, 1, 10), 75.0),
            (1, date(2024, 1, 11), 0.0),
            (1, date(2024, 1, 12), 0.0),
            (1, date(2024, 1, 13), 40.0),
            (1, date(2024, 1, 14), 0.0),
            (1, date(2024, 1, 15), 0.0),
            (2, date(2024, 1, 14), 20.0),
            (2, date(2024, 1, 15), 0.0),
        ],
        "person_id long, date date, load double",
    )
    assert_approx_df_equality(
        daily_load(loads, until=date(2024, 1, 15)), expected, 1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_first_three_days_by_hand(spark: SparkSession) -> None:
    daily = spark.createDataFrame(
        [(1, date(2024, 1, 1), 100.0), (1, date(2024, 1, 2), 0.0), (1, date(2024, 1, 3), 50.0)],
        "person_id long, date date, load double",
    )
    # e^(-1/42) = 0.976472, e^(-1/7) = 0.866878.
    # CTL: 100 x 0.023528 = 2.35283; x 0.976472 = 2.29747; 50 x 0.023528 + 2.29747 x 0.976472 = 3.41984.
    # ATL: 100 x 0.133122 = 13.3122; x 0.866878 = 11.5400; 50 x 0.133122 + 11.5400 x 0.866878 = 16.6599.
    # Acute = 7-day sum / 7, chronic = 28-day sum / 28: 100/7 over 100/28 = 4.0 on every day ("danger").
    # Monotony, day 1: loads 0,0,0,0,0,0,100: mean 14.2857, population std sqrt(10000/7 - 14.2857^2) =
    # 34.993 -> 0.40825, strain 100 x 0.40825 = 40.825; day 2 the same; day 3: 0,0,0,0,100,0,50: mean
    # 21.4286, std sqrt(12500/7 - 21.4286^2) = 36.4216 -> 0.58835, strain 150 x 0.58835 = 88.252.
    # Ramp rate needs the CTL of 7 days before: none yet.
    expected = spark.createDataFrame(
        [
            (1, date(2024, 1, 1), 100.0, 2.35283, 13.3122, -10.9594, None, 4.0, "danger", 0.4082, 40.825),
            (1, date(2024, 1, 2), 0.0, 2.29747, 11.5400, -9.2425, None, 4.0, "danger", 0.4082, 40.825),
            (1, date(2024, 1, 3), 50.0, 3.41984, 16.6599, -13.2401, None, 4.0, "danger", 0.5883, 88.252),
        ],
        DAILY_OUT,
    )
    assert_approx_df_equality(
        performance_management(daily, PARAMS), expected, 2e-4, ignore_row_order=True, ignore_nullable=True
    )


# 45 days of loads: a build-up, a spike week, a taper; and a second athlete who starts later.
LOADS_1 = [
    60, 0, 45, 80, 0, 120, 30, 55, 0, 70, 65, 0, 130, 20, 50, 40, 0, 90, 60, 0, 140,
    35, 0, 60, 75, 0, 110, 25, 160, 150, 0, 170, 140, 180, 90, 0, 20, 0, 30, 0, 0, 40,
    10, 0, 25,
]  # fmt: skip
LOADS_2 = [100, 100, 100, 100, 100, 100, 100, 0, 0, 50]
START_1, START_2 = date(2024, 3, 1), date(2024, 3, 30)


def _daily(spark: SparkSession) -> DataFrame:
    rows = [(1, START_1 + timedelta(days=i), float(x)) for i, x in enumerate(LOADS_1)]
    rows += [(2, START_2 + timedelta(days=i), float(x)) for i, x in enumerate(LOADS_2)]
    return spark.createDataFrame(rows, "person_id long, date date, load double")


def _zone(acwr: float | None) -> str | None:
    if acwr is None:
        return None
    return "low" if acwr < 0.8 else "sweet_spot" if acwr <= 1.3 else "caution" if acwr < 1.5 else "danger"


def _pmc(athlete: int, first: date, loads: list[int]) -> list[tuple]:
    """The expected rows by plain Python: the recurrence day by day, zero-padded 7- and 28-day windows."""
    ctl_decay, atl_decay = math.exp(-1 / 42), math.exp(-1 / 7)
    ctl = atl = 0.0
    ctls, rows = [], []
    for i, load in enumerate(loads):
        ctl = load * (1 - ctl_decay) + ctl * ctl_decay
        atl = load * (1 - atl_decay) + atl * atl_decay
        ctls.append(ctl)
        week = ([0] * 7 + loads[: i + 1])[-7:]
        month = ([0] * 28 + loads[: i + 1])[-28:]
        acute, chronic = sum(week) / 7, sum(month) / 28
        acwr = acute / chronic if chronic > 0 else None
        std = math.sqrt(sum((x - acute) ** 2 for x in week) / 7)
        monotony = acute / std if std > 0 else None
        rows.append(
            (
                athlete, first + timedelta(days=i), float(load), ctl, atl, ctl - atl,
                ctl - ctls[i - 7] if i >= 7 else None,
                acwr, _zone(acwr), monotony, sum(week) * monotony if monotony is not None else None,
            )
        )  # fmt: skip
    return rows


def test_performance_management_matches_a_plain_python_recurrence(spark: SparkSession) -> None:
    expected = spark.createDataFrame(_pmc(1, START_1, LOADS_1) + _pmc(2, START_2, LOADS_2), DAILY_OUT)
    # Spot checks of the plain-Python rows: the spike week ends in "danger", the taper in "low".
    zones = {r[1]: r[8] for r in _pmc(1, START_1, LOADS_1)}
    assert zones[START_1 + timedelta(days=33)] == "danger" and zones[START_1 + timedelta(days=44)] == "low"
    assert_approx_df_equality(
        performance_management(_daily(spark), PARAMS), expected, 1e-3, ignore_row_order=True, ignore_nullable=True
    )


def test_incremental_performance_management_equals_the_full_computation(spark: SparkSession) -> None:
    daily = _daily(spark)
    full = performance_management(daily, PARAMS).persist()
    start = START_1 + timedelta(days=35)  # athlete 2 starts 6 days before, and has history too
    history = full.where(F.col("date") < F.lit(start)).select("person_id", "date", "ctl", "atl")
    incremental = performance_management(
        daily.where(F.col("date") >= F.lit(start - timedelta(days=28))), PARAMS, history=history, start=start
    )
    assert_approx_df_equality(
        incremental, full.where(F.col("date") >= F.lit(start)), 1e-9, ignore_row_order=True, ignore_nullable=True
    )
    full.unpersist()


def test_incremental_after_rest_days_continues_from_the_last_stored_day(spark: SparkSession) -> None:
    # The stored table ended with the last workout then (10 days); 9 rest days later new workouts arrive,
    # and the gold run starts one day before the first new one: the day before `start` was never stored.
    old = [80.0, 0.0, 60.0, 100.0, 0.0, 40.0, 90.0, 0.0, 70.0, 50.0]
    new = [0.0] * 9 + [0.0, 120.0, 30.0, 0.0, 60.0]
    first = date(2024, 5, 1)
    stored = performance_management(
        spark.createDataFrame(
            [(1, first + timedelta(days=i), x) for i, x in enumerate(old)], "person_id long, date date, load double"
        ),
        PARAMS,
    ).select("person_id", "date", "ctl", "atl")
    daily = spark.createDataFrame(
        [(1, first + timedelta(days=i), x) for i, x in enumerate(old + new)], "person_id long, date date, load double"
    )
    start = first + timedelta(days=len(old) + 9)  # new[9]: the day before the first new workout
    expected = spark.createDataFrame(
        [r for r in _pmc(1, first, [int(x) for x in old + new]) if r[1] >= start], DAILY_OUT
    )
    assert_approx_df_equality(
        performance_management(
            daily.where(F.col("date") >= F.lit(start - timedelta(days=28))), PARAMS, history=stored, start=start
        ),
        expected,
        1e-3,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_two_people_never_share_heart_rate(spark: SparkSession) -> None:
    # Ana and Ben each do a 10-minute session at the same time; each wears a Fitbit (users UA and UB).
    # Ana: HR max 200, rest 50, k 1.67; Ben: HR max 180, rest 60, k 1.92; thresholds 170 and 160.
    from lakehouse.config import Person
    from lakehouse.people import people_frame, resolve_people

    people = people_frame(spark, resolve_people(
        [Person("ana", fitbit_user_ids=("UA",), hr_max=200, hr_rest=50, trimp_k=1.67, threshold_hr=170),
         Person("ben", fitbit_user_ids=("UB",), hr_max=180, hr_rest=60, trimp_k=1.92, threshold_hr=160)],
        PARAMS,
    ))  # fmt: skip
    start = datetime(2024, 3, 1, 10)
    workouts = spark.createDataFrame(
        [("ana-1", "ana", "run", date(2024, 3, 1), start, 600.0, 600.0, None),
         ("ben-1", "ben", "run", date(2024, 3, 1), start, 600.0, 600.0, None)],
        "workout_id string, person_id string, sport string, workout_date date, start_time_utc timestamp,"
        " elapsed_s double, duration_s double, avg_heart_rate_bpm double",
    )  # fmt: skip
    samples = [
        (user, start + timedelta(minutes=i), hr) for user, hr in (("UA", 150.0), ("UB", 120.0)) for i in range(10)
    ]
    heart_rate = spark.createDataFrame(
        [(user, ts, ts, hr, 60) for user, ts, hr in samples],
        "user_id string, ts_utc timestamp, ts_local timestamp_ntz, value double, interval_s int",
    )
    fitbit_daily = spark.createDataFrame([], f"user_id string, date date, metric string, resting_heart_rate_bpm int,"
                                             f" heart_rate_zones {ZONES}")  # fmt: skip

    def banister(minutes: float, hr: float, rest: float, hr_max: float, k: float) -> float:
        hrr = (hr - rest) / (hr_max - rest)
        return minutes * hrr * 0.64 * math.exp(k * hrr)

    # Ana: 10 one-minute samples at HRR (150-50)/150 = 0.6667 -> 10 x 0.6667 x 0.64 x e^(1.67 x 0.6667) = 12.99.
    # Ben: HRR (120-60)/120 = 0.5 -> 10 x 0.5 x 0.64 x e^0.96 = 8.36. Each from their own samples only.
    ana, ben = banister(10, 150, 50, 200, 1.67), banister(10, 120, 60, 180, 1.92)
    ana_unit, ben_unit = banister(60, 170, 50, 200, 1.67), banister(60, 160, 60, 180, 1.92)
    assert abs(ana - 12.99) < 0.01 and abs(ben - 8.36) < 0.01
    actual = activity_load(workouts, heart_rate, fitbit_daily, PARAMS, people).select(
        "workout_id", "hr_source", "hr_samples", "avg_hr", "resting_hr", "trimp", "trimp100"
    )
    expected = spark.createDataFrame(
        [("ana-1", "fitbit", 10, 150.0, 50.0, ana, 100 * ana / ana_unit),
         ("ben-1", "fitbit", 10, 120.0, 60.0, ben, 100 * ben / ben_unit)],
        "workout_id string, hr_source string, hr_samples long, avg_hr double, resting_hr double, trimp double,"
        " trimp100 double",
    )  # fmt: skip
    assert_approx_df_equality(actual, expected, 1e-3, ignore_row_order=True, ignore_nullable=True)


def test_without_fitbit_trimp_comes_from_the_workouts_own_heart_rate(spark: SparkSession) -> None:
    # A Strava-only lakehouse: no Fitbit tables at all. 30 min at average HR 150, default physiology:
    # HRR (150 - 60) / 130 = 0.6923 -> 30 x 0.6923 x 0.64 x e^(1.92 x 0.6923) = 50.22.
    workouts = spark.createDataFrame(
        [("A", "me", "run", date(2024, 1, 10), datetime(2024, 1, 10, 7), None, 1800.0, 150.0)],
        "workout_id string, person_id string, sport string, workout_date date, start_time_utc timestamp,"
        " elapsed_s double, duration_s double, avg_heart_rate_bpm double",
    )
    a = _banister(30.0, 150.0, 60.0)
    assert abs(a - 50.22) < 0.01
    row = activity_load(workouts, None, None, PARAMS).select("hr_source", "trimp", "trimp100").first()
    assert row["hr_source"] == "activity"
    assert abs(row["trimp"] - a) < 1e-3 and abs(row["trimp100"] - 100 * a / THRESHOLD_HOUR) < 1e-3


def test_a_workout_without_a_start_time_uses_its_own_heart_rate(spark: SparkSession) -> None:
    # MapMyRun rows carry a date, no start time: no Fitbit sample can fall inside them. B: 30 min at average
    # HR 150 -> 50.22 as above (even with Fitbit samples that day); C: no heart rate at all -> no TRIMP.
    workouts = spark.createDataFrame(
        [("B", "me", "run", date(2024, 1, 10), None, None, 1800.0, 150.0),
         ("C", "me", "walk", date(2024, 1, 11), None, None, 600.0, None)],
        "workout_id string, person_id string, sport string, workout_date date, start_time_utc timestamp,"
        " elapsed_s double, duration_s double, avg_heart_rate_bpm double",
    )  # fmt: skip
    heart = spark.createDataFrame(
        [("u1", datetime(2024, 1, 10, 7, m), datetime(2024, 1, 10, 7, m), 170.0, 60.0) for m in range(30)],
        "user_id string, ts_utc timestamp, ts_local timestamp_ntz, value double, interval_s double",
    )
    rows = {r["workout_id"]: r for r in activity_load(workouts, heart, None, PARAMS).collect()}
    a = _banister(30.0, 150.0, 60.0)
    assert (rows["B"]["hr_source"], rows["B"]["hr_samples"]) == ("activity", 0)
    assert abs(rows["B"]["trimp"] - a) < 1e-3
    assert (rows["C"]["hr_source"], rows["C"]["trimp"], rows["C"]["trimp100"]) == ("none", None, None)
