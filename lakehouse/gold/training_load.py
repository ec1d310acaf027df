"""gold.activity_training_load and gold.training_load_daily: TRIMP per workout, fitness and fatigue per day.

activity_training_load
    Grain: one row per workout with a start time. Keys: (`workout_id`).
    Banister TRIMP from the Fitbit heart-rate samples inside the workout's time window when they cover at
    least `MIN_FITBIT_COVERAGE` of it (sum over samples of minutes x HRR x 0.64 x e^(k HRR)), else from the
    workout's average heart rate (duration x HRR_avg x 0.64 x e^(k HRR_avg)), else none. HRR uses the day's
    Fitbit resting heart rate when there is one. TRIMP(100) = 100 x TRIMP / TRIMP of 60 min at threshold
    HR (about hrTSS). Minutes in each Fitbit heart-rate zone (that day's zone bounds) from the same samples.
training_load_daily
    Grain: one row per person per calendar day, from the first workout to the last (rest days load 0).
    Keys: (`person_id`, `date`). load = the day's TRIMP(100);
    CTL_d = load_d (1 - e^(-1/42)) + CTL_(d-1) e^(-1/42); ATL likewise over 7 days;
    TSB_d = CTL_d - ATL_d (this table's convention: end-of-day form; GoldenCheetah shows the previous day's);
    ramp rate = CTL_d - CTL_(d-7); ACWR = 7-day mean load / 28-day mean load;
    monotony = 7-day mean load / its population standard deviation; strain = 7-day load x monotony.
    The 7- and 28-day windows always span 7 and 28 calendar days: days before the athlete's first day are
    rest days (load 0), as they are for the CTL/ATL recurrence that starts from 0 (Runalyze's Monotony
    divides by 7 days whatever the data holds).
"""

from __future__ import annotations

import math
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import AnalyticsSettings
from lakehouse.exact import exact_avg, exact_sum

ACTIVITY_NAME = "activity_training_load"
ACTIVITY_KEYS = ("workout_id",)
DAILY_NAME = "training_load_daily"
DAILY_KEYS = ("person_id", "date")
BANISTER_A = 0.64
MIN_FITBIT_COVERAGE = 0.5
ACWR_SWEET_SPOT = (0.8, 1.3)
ACWR_DANGER = 1.5
ZONES = {
    "Out of Range": "out_of_range_min",
    "Fat Burn": "fat_burn_min",
    "Cardio": "cardio_min",
    "Peak": "peak_min",
}

PMC_TYPE = T.ArrayType(
    T.StructType(
        [
            T.StructField("date", T.DateType()),
            T.StructField("ctl", T.DoubleType()),
            T.StructField("atl", T.DoubleType()),
        ]
    )
)


def _hrr(hr: Column, rest: Column) -> Column:
    """Heart-rate reserve fraction, clipped to 0..1 (the person's `hr_max` column)."""
    return F.greatest(F.lit(0.0), F.least(F.lit(1.0), (hr - rest) / (F.col("hr_max") - rest)))


def _banister(minutes: Column, hrr: Column) -> Column:
    return minutes * hrr * BANISTER_A * F.exp(F.col("trimp_k") * hrr)


def threshold_hour_trimp(params: AnalyticsSettings) -> float:
    """TRIMP of 60 minutes at threshold heart rate with the default resting HR (the TRIMP(100) unit)."""
    hrr = (params.threshold_hr - params.hr_rest) / (params.hr_max - params.hr_rest)
    return 60 * hrr * BANISTER_A * math.exp(params.trimp_k * hrr)


def _threshold_hour_trimp() -> Column:
    """`threshold_hour_trimp` per row, from the person's physiology columns."""
    hrr = (F.col("threshold_hr") - F.col("hr_rest")) / (F.col("hr_max") - F.col("hr_rest"))
    return 60 * hrr * BANISTER_A * F.exp(F.col("trimp_k") * hrr)


PHYSIOLOGY = ("hr_max", "hr_rest", "threshold_hr", "trimp_k")


def physiology(params: AnalyticsSettings, person_ids: DataFrame) -> DataFrame:
    """(person_id, hr_max, hr_rest, threshold_hr, trimp_k) with the same values for everybody in `person_ids`."""
    return person_ids.select("person_id").distinct().select(
        "person_id", *[F.lit(float(getattr(params, name))).alias(name) for name in PHYSIOLOGY]
    )


def _no_heart_rate(workouts: DataFrame) -> DataFrame:
    """An empty frame shaped like silver.fitbit_intraday's heart-rate rows (no Fitbit data)."""
    return workouts.limit(0).select(
        F.lit(None).cast("string").alias("user_id"), F.lit(None).cast("timestamp").alias("ts_utc"),
        F.lit(None).cast("timestamp_ntz").alias("ts_local"), F.lit(None).cast("double").alias("value"),
        F.lit(None).cast("double").alias("interval_s"),
    )  # fmt: skip


def _no_daily(workouts: DataFrame) -> DataFrame:
    """An empty frame shaped like silver.fitbit_daily (no Fitbit data)."""
    return workouts.limit(0).select(
        F.lit(None).cast("string").alias("user_id"), F.lit(None).cast("string").alias("metric"),
        F.lit(None).cast("date").alias("date"), F.lit(None).cast("double").alias("resting_heart_rate_bpm"),
        F.lit(None).cast("array<struct<zone:string,min_bpm:double,max_bpm:double>>").alias("heart_rate_zones"),
    )  # fmt: skip


def activity_load(
    workouts: DataFrame,
    heart_rate: DataFrame | None,
    fitbit_daily: DataFrame | None,
    params: AnalyticsSettings,
    people: DataFrame | None = None,
) -> DataFrame:
    """silver.workouts + Fitbit heart rate (silver.fitbit_intraday rows of heart_rate_bpm) + daily -> TRIMP.

    Heart rate is joined by person: `people` (silver.people) says whose each Fitbit user id is and gives each
    person's physiology. Without it, one person's data is assumed: every Fitbit user's samples may cover any
    workout, and `params` gives the physiology. No Fitbit data (None): TRIMP from each workout's own heart rate.
    """
    heart_rate = _no_heart_rate(workouts) if heart_rate is None else heart_rate
    fitbit_daily = _no_daily(workouts) if fitbit_daily is None else fitbit_daily
    if people is None:
        persons = workouts.select("person_id").distinct()
        heart_rate, fitbit_daily = heart_rate.crossJoin(persons), fitbit_daily.crossJoin(persons)
        body = physiology(params, workouts)
    else:
        owners = people.select(F.explode("fitbit_user_ids").alias("user_id"), "person_id")
        heart_rate = heart_rate.join(owners, on="user_id", how="inner")
        fitbit_daily = fitbit_daily.join(owners, on="user_id", how="inner")
        body = people.select("person_id", *[F.col(name).cast("double") for name in PHYSIOLOGY])
    # A workout without a start time (a MapMyRun export row has a date only) matches no heart-rate sample: its
    # TRIMP comes from its own average heart rate, as without Fitbit.
    timed = workouts.select(
        "workout_id", "person_id", "sport", "workout_date", "start_time_utc",
        (F.col("start_time_utc") + F.make_interval(secs=F.coalesce("elapsed_s", "duration_s"))).alias("end_time_utc"),
        (F.col("duration_s") / 60).alias("duration_min"),
        "avg_heart_rate_bpm",
    ).join(body, on="person_id", how="left")  # fmt: skip
    timed = timed.select(
        *[c for c in timed.columns if c not in PHYSIOLOGY],
        *[F.coalesce(F.col(n), F.lit(float(getattr(params, n)))).alias(n) for n in PHYSIOLOGY],
    )
    daily_hr = fitbit_daily.where(F.col("metric") == "heart_rate_bpm")
    resting = daily_hr.select(
        "person_id",
        F.col("date").alias("workout_date"),
        F.col("resting_heart_rate_bpm").cast("double").alias("rest_fitbit"),
    )
    bounds = daily_hr.select(
        F.col("person_id").alias("zone_person"), F.col("date").alias("zone_date"),
        F.explode("heart_rate_zones").alias("z"),
    )  # fmt: skip
    # Samples inside each workout window, of the workout's own person; the UTC day join keeps it small.
    windows = timed.select(
        "workout_id", "person_id", "workout_date", "start_time_utc", "end_time_utc", *PHYSIOLOGY,
        F.explode(F.sequence(F.to_date("start_time_utc"), F.to_date("end_time_utc"))).alias("utc_day"),
    )  # fmt: skip
    samples = heart_rate.select(
        "person_id", F.col("ts_utc"), F.to_date("ts_utc").alias("utc_day"), F.col("ts_local"),
        F.col("value").alias("hr"), F.col("interval_s"),
    )  # fmt: skip
    inside = windows.join(samples, on=["person_id", "utc_day"], how="inner").where(
        (F.col("ts_utc") >= F.col("start_time_utc")) & (F.col("ts_utc") < F.col("end_time_utc"))
    )
    with_rest = inside.join(resting, on=["person_id", "workout_date"], how="left").withColumn(
        "rest", F.coalesce("rest_fitbit", F.col("hr_rest"))
    )
    zoned = with_rest.join(
        bounds,
        on=(F.col("zone_person") == F.col("person_id"))
        & (F.col("zone_date") == F.to_date("ts_local"))
        & (F.col("hr") >= F.col("z.min_bpm"))
        & (F.col("hr") < F.col("z.max_bpm")),
        how="left",
    )
    per_workout = zoned.groupBy("workout_id").agg(
        F.count(F.lit(1)).alias("hr_samples"),
        exact_sum(F.col("interval_s") / 60).alias("covered_min"),
        exact_sum(_banister(F.col("interval_s") / 60, _hrr(F.col("hr"), F.col("rest")))).alias("trimp_fitbit"),
        exact_avg("hr").alias("fitbit_avg_hr"),
        *[exact_sum(F.when(F.col("z.zone") == zone, F.col("interval_s") / 60).otherwise(0.0)).alias(col)
          for zone, col in ZONES.items()],
    )  # fmt: skip
    joined = (
        timed.join(per_workout, on="workout_id", how="left")
        .join(resting, on=["person_id", "workout_date"], how="left")
        .withColumn("rest", F.coalesce("rest_fitbit", F.col("hr_rest")))
    )
    use_fitbit = F.coalesce(F.col("covered_min") / F.col("duration_min") >= MIN_FITBIT_COVERAGE, F.lit(False))
    from_average = _banister(F.col("duration_min"), _hrr(F.col("avg_heart_rate_bpm"), F.col("rest")))
    trimp = F.when(use_fitbit, F.col("trimp_fitbit")).when(F.col("avg_heart_rate_bpm").isNotNull(), from_average)
    source = (
        F.when(use_fitbit, F.lit("fitbit")).when(F.col("avg_heart_rate_bpm").isNotNull(), F.lit("activity"))
        .otherwise(F.lit("none"))
    )  # fmt: skip
    unit = _threshold_hour_trimp()
    return joined.select(
        "workout_id", "person_id", "sport", "workout_date",
        F.round("duration_min", 2).alias("duration_min"),
        source.alias("hr_source"),
        F.coalesce("hr_samples", F.lit(0)).cast("long").alias("hr_samples"),
        F.round(F.when(use_fitbit, F.col("fitbit_avg_hr")).otherwise(F.col("avg_heart_rate_bpm")), 1).alias("avg_hr"),
        F.col("rest").alias("resting_hr"),
        F.round(trimp, 3).alias("trimp"),
        F.round(trimp / unit * 100, 3).alias("trimp100"),
        *[F.when(use_fitbit, F.round(col, 2)).alias(col) for col in ZONES.values()],
    )  # fmt: skip


def daily_load(activity_loads: DataFrame, until: date | None = None) -> DataFrame:
    """Per athlete, every calendar day from the first workout to the last (or `until`): the day's load."""
    per_day = activity_loads.groupBy("person_id", F.col("workout_date").alias("date")).agg(
        F.coalesce(exact_sum("trimp100"), F.lit(0.0)).alias("load")
    )
    end = F.greatest(F.max("date"), F.lit(until)) if until else F.max("date")
    spine = (
        per_day.groupBy("person_id")
        .agg(F.min("date").alias("first"), end.alias("last"))
        .select("person_id", F.explode(F.sequence("first", "last")).alias("date"))
    )
    return spine.join(per_day, on=["person_id", "date"], how="left").select(
        "person_id", "date", F.coalesce("load", F.lit(0.0)).alias("load")
    )


def _pmc_udf(ctl_days: int, atl_days: int):
    ctl_decay, atl_decay = math.exp(-1 / ctl_days), math.exp(-1 / atl_days)

    def recur(
        days: list, seed_date: date | None, ctl0: float | None, atl0: float | None
    ) -> list[tuple[date, float, float]]:
        ctl, atl = ctl0 or 0.0, atl0 or 0.0
        previous = seed_date
        out = []
        for day in sorted(days, key=lambda d: d["date"]):
            # Calendar days missing between two rows (or since the seed) are rest days: load 0, decay only.
            skipped = (day["date"] - previous).days - 1 if previous is not None else 0
            if skipped > 0:
                ctl, atl = ctl * ctl_decay**skipped, atl * atl_decay**skipped
            previous = day["date"]
            ctl = day["load"] * (1 - ctl_decay) + ctl * ctl_decay
            atl = day["load"] * (1 - atl_decay) + atl * atl_decay
            out.append((day["date"], ctl, atl))
        return out

    return F.udf(recur, PMC_TYPE, useArrow=False)


def performance_management(
    daily: DataFrame, params: AnalyticsSettings, history: DataFrame | None = None, start: date | None = None
) -> DataFrame:
    """Daily loads -> CTL, ATL, TSB, ramp rate, ACWR, monotony and strain per (athlete, day).

    Incremental form: with `start` and `history` (the stored person_id, date, ctl, atl of the days before
    `start`), only days from `start` on are returned, continuing the recurrence from the athlete's latest
    stored day exactly as a full computation would (stored days may end before `start - 1`: the athlete's
    series ended with a workout, and the days since are rest days); `daily` must then reach back at least
    27 days before `start`.
    """
    if start is None:
        grouped = daily.groupBy("person_id").agg(F.collect_list(F.struct("date", "load")).alias("days"))
        grouped = (
            grouped.withColumn("seed_date", F.lit(None).cast("date"))
            .withColumn("ctl0", F.lit(None).cast("double"))
            .withColumn("atl0", F.lit(None).cast("double"))
        )
    else:
        if history is None:
            raise ValueError("an incremental computation (start=...) needs the stored history")
        latest_first = Window.partitionBy("person_id").orderBy(F.col("date").desc())
        seeds = (
            history.where(F.col("date") < F.lit(start))
            .withColumn("_latest", F.row_number().over(latest_first))
            .where(F.col("_latest") == 1)
            .select("person_id", F.col("date").alias("seed_date"), F.col("ctl").alias("ctl0"),
                    F.col("atl").alias("atl0"))
        )  # fmt: skip
        # Recompute every day after the seed (days between it and `start` feed the recurrence and the ramp
        # rate's look-back); without a seed the athlete is new and starts from 0 at `start`.
        grouped = (
            daily.join(seeds, on="person_id", how="left")
            .where(F.coalesce(F.col("date") > F.col("seed_date"), F.col("date") >= F.lit(start)))
            .groupBy("person_id", "seed_date", "ctl0", "atl0")
            .agg(F.collect_list(F.struct("date", "load")).alias("days"))
        )
    recurrence = _pmc_udf(params.ctl_days, params.atl_days)
    days = F.explode(recurrence("days", "seed_date", "ctl0", "atl0"))
    pmc = grouped.select("person_id", days.alias("p")).select("person_id", "p.date", "p.ctl", "p.atl")
    if start is not None and history is not None:
        # Every stored day before `start` is on or before its athlete's seed: no overlap with `pmc`.
        pmc = pmc.unionByName(history.where(F.col("date") < F.lit(start)).select("person_id", "date", "ctl", "atl"))
    by_day = Window.partitionBy("person_id").orderBy("date")
    last7, last28 = by_day.rowsBetween(-6, 0), by_day.rowsBetween(-27, 0)
    # `daily` has one row per calendar day, so a window's missing rows are the days before the athlete's
    # first: rest days. Their zeros enter the means and the spread about the 7-day mean.
    seen7, present_mean = F.count("load").over(last7), F.avg("load").over(last7)
    acute = F.sum("load").over(last7) / 7
    squares = (
        F.pow(F.stddev_pop("load").over(last7), 2) * seen7
        + seen7 * F.pow(present_mean - acute, 2)
        + (7 - seen7) * F.pow(acute, 2)
    )
    rolling = daily.select(
        "person_id", "date", "load",
        acute.alias("acute"),
        (F.sum("load").over(last28) / 28).alias("chronic"),
        F.sqrt(squares / 7).alias("std7"),
        F.sum("load").over(last7).alias("week_load"),
    )  # fmt: skip
    joined = rolling.join(pmc, on=["person_id", "date"], how="inner")
    monotony = F.when(F.col("std7") > 0, F.col("acute") / F.col("std7"))
    acwr = F.when(F.col("chronic") > 0, F.col("acute") / F.col("chronic"))
    out = joined.select(
        "person_id", "date",
        F.round("load", 3).alias("load"),
        F.col("ctl"), F.col("atl"),
        F.round(F.col("ctl") - F.col("atl"), 4).alias("tsb"),
        F.round(F.col("ctl") - F.lag("ctl", 7).over(by_day), 4).alias("ramp_rate"),
        F.round(acwr, 4).alias("acwr"),
        F.when(acwr.isNull(), None).when(acwr < ACWR_SWEET_SPOT[0], "low")
        .when(acwr <= ACWR_SWEET_SPOT[1], "sweet_spot").when(acwr < ACWR_DANGER, "caution")
        .otherwise("danger").alias("acwr_zone"),
        F.round(monotony, 4).alias("monotony"),
        F.round(F.col("week_load") * monotony, 3).alias("strain"),
    )  # fmt: skip
    return out if start is None else out.where(F.col("date") >= F.lit(start))
