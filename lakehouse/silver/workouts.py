"""silver.workouts: one conformed table of workouts across sources, with lineage.

Grain: one row per workout (a training session), whichever sources recorded it.
Keys: (`workout_id`): `strava:<activity id>` when Strava has the session, else `mapmyrun:<workout id>`.
Built from whichever of the two sources exist (either alone, or both). `person_id` says whose workout it is
(`lakehouse.people`): the Strava athlete's person, else the person whose MapMyRun export it came from.

The same session recorded by Strava and MapMyRun is one workout: both sources on the same local date, in
the same sport family, with durations within `DURATION_TOLERANCE` and distances within
`DISTANCE_TOLERANCE` of each other (MapMyRun exports carry a date but no start time, so the overlap test
is date + duration + distance) and, when the export's person is known, the same person. Pairs are
matched one-to-one, best duration match first. Strava's values win where both have one (it has the start
time, heart rate and kudos); `sources` keeps the lineage.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.people import UNCLAIMED_MAPMYRUN, export_file_name, mapmyrun_person, strava_people
from lakehouse.tables.merge import with_row_hash

NAME = "workouts"
KEYS = ("workout_id",)

DURATION_TOLERANCE = 0.10  # relative
DURATION_SLACK_S = 120  # absolute slack on top, for short workouts
DISTANCE_TOLERANCE = 0.10
DISTANCE_SLACK_M = 100

# Strava sport types and MapMyRun activity types -> sport family.
SPORT_FAMILIES: dict[str, str] = {
    "Run": "run", "TrailRun": "run", "VirtualRun": "run", "Indoor Run / Jog": "run",
    "Walk": "walk", "Hike": "walk",
    "Ride": "ride", "VirtualRide": "ride", "MountainBikeRide": "ride", "GravelRide": "ride", "EBikeRide": "ride",
    "EMountainBikeRide": "ride", "Bike Ride": "ride",
    "Swim": "swim",
}  # fmt: skip


def sport_family(sport: Column) -> Column:
    """A source's sport name -> run, walk, ride, swim or other."""
    families = F.create_map(*[x for k, v in SPORT_FAMILIES.items() for x in (F.lit(k), F.lit(v))])
    return F.coalesce(F.try_element_at(families, sport), F.lit("other"))


STRAVA_SIDE = T.StructType(
    [
        T.StructField("athlete_id", T.LongType()),
        T.StructField("person_id", T.StringType()),
        T.StructField("strava_activity_id", T.LongType()),
        T.StructField("sport", T.StringType()),
        T.StructField("sport_detail", T.StringType()),
        T.StructField("workout_date", T.DateType()),
        T.StructField("start_time_utc", T.TimestampType()),
        T.StructField("start_time_local", T.TimestampNTZType()),
        T.StructField("distance_m", T.DoubleType()),
        T.StructField("duration_s", T.DoubleType()),
        T.StructField("elapsed_s", T.DoubleType()),
        T.StructField("elevation_gain_m", T.DoubleType()),
        T.StructField("avg_heart_rate_bpm", T.DoubleType()),
        T.StructField("max_heart_rate_bpm", T.DoubleType()),
        T.StructField("kudos_count", T.LongType()),
    ]
)
MAPMYRUN_SIDE = T.StructType(
    [
        T.StructField("person_id", T.StringType()),
        T.StructField("mapmyrun_workout_id", T.LongType()),
        T.StructField("sport", T.StringType()),
        T.StructField("sport_detail", T.StringType()),
        T.StructField("workout_date", T.DateType()),
        T.StructField("distance_m", T.DoubleType()),
        T.StructField("duration_s", T.DoubleType()),
        T.StructField("avg_heart_rate_bpm", T.DoubleType()),
    ]
)


def _typed(df: DataFrame, schema: T.StructType) -> DataFrame:
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _strava(activities: DataFrame, people: DataFrame) -> DataFrame:
    owners = strava_people(people)
    projected = activities.join(owners, on="athlete_id", how="left").select(
        F.col("athlete_id"),
        F.coalesce(F.col("person_id"), F.concat(F.lit("strava-"), F.col("athlete_id").cast("string")))
        .alias("person_id"),
        F.col("activity_id").alias("strava_activity_id"),
        sport_family(F.col("sport_type")).alias("sport"),
        F.col("sport_type").alias("sport_detail"),
        F.col("activity_date").alias("workout_date"),
        F.col("start_time_utc"),
        F.col("start_time_local"),
        F.col("distance_m"),
        F.col("moving_time_s").alias("duration_s"),
        F.col("elapsed_time_s").alias("elapsed_s"),
        F.col("elevation_gain_m"),
        F.col("average_heartrate_bpm").alias("avg_heart_rate_bpm"),
        F.col("max_heartrate_bpm").alias("max_heart_rate_bpm"),
        F.col("kudos_count"),
    )
    return _typed(projected, STRAVA_SIDE)


def _mapmyrun(workouts: DataFrame, people_rows: Sequence[tuple]) -> DataFrame:
    projected = workouts.select(
        mapmyrun_person(export_file_name(F.col("_source_file")), people_rows).alias("person_id"),
        F.col("workout_id").alias("mapmyrun_workout_id"),
        sport_family(F.col("activity_type")).alias("sport"),
        F.col("activity_type").alias("sport_detail"),
        F.col("workout_date"),
        F.col("distance_m"),
        F.col("duration_s"),
        F.col("avg_heart_rate_bpm"),
    )
    return _typed(projected, MAPMYRUN_SIDE)


def _mutual_best(candidates: DataFrame) -> DataFrame:
    """The candidate pairs that are each other's best (smallest duration gap, then lowest ids)."""
    order = [F.col("gap_s").asc(), F.col("strava_activity_id").asc(), F.col("mapmyrun_workout_id").asc()]
    best_for_strava = Window.partitionBy("strava_activity_id").orderBy(*order)
    best_for_mapmyrun = Window.partitionBy("mapmyrun_workout_id").orderBy(*order)
    return (
        candidates.withColumn("rs", F.row_number().over(best_for_strava))
        .withColumn("rm", F.row_number().over(best_for_mapmyrun))
        .where((F.col("rs") == 1) & (F.col("rm") == 1))
        .select("strava_activity_id", "mapmyrun_workout_id", "gap_s")
    )


def match_sessions(strava: DataFrame, mapmyrun: DataFrame) -> DataFrame:
    """Pairs (strava_activity_id, mapmyrun_workout_id) recording the same session, one-to-one."""
    s, m = strava.alias("s"), mapmyrun.alias("m")
    close = (
        (F.abs(F.col("s.duration_s") - F.col("m.duration_s"))
         <= F.col("s.duration_s") * DURATION_TOLERANCE + DURATION_SLACK_S)
        & (F.abs(F.col("s.distance_m") - F.col("m.distance_m"))
           <= F.col("s.distance_m") * DISTANCE_TOLERANCE + DISTANCE_SLACK_M)
    )  # fmt: skip
    # A MapMyRun export belongs to one person: when we know whose, only their Strava sessions can match.
    same_athlete = F.col("m.person_id").isNull() | (F.col("s.person_id") == F.col("m.person_id"))
    candidates = s.join(
        m,
        on=(F.col("s.workout_date") == F.col("m.workout_date")) & (F.col("s.sport") == F.col("m.sport"))
        & same_athlete & close,
        how="inner",
    ).select(
        F.col("s.strava_activity_id").alias("strava_activity_id"),
        F.col("m.mapmyrun_workout_id").alias("mapmyrun_workout_id"),
        F.abs(F.col("s.duration_s") - F.col("m.duration_s")).alias("gap_s"),
    )  # fmt: skip
    # Best duration match first (greedy): pairs that are each other's best are matched, then the rest choose
    # again among what is left, until no candidate remains. Each round matches at least the overall best pair.
    remaining = candidates.localCheckpoint()
    matched = remaining.limit(0)
    while not remaining.isEmpty():
        best = _mutual_best(remaining).localCheckpoint()
        matched = matched.unionByName(best)
        remaining = (
            remaining.join(best.select("strava_activity_id"), on="strava_activity_id", how="left_anti")
            .join(best.select("mapmyrun_workout_id"), on="mapmyrun_workout_id", how="left_anti")
            .localCheckpoint()
        )
    return matched.select("strava_activity_id", "mapmyrun_workout_id")


def conform(
    activities: DataFrame | None,
    mapmyrun_workouts: DataFrame | None,
    people: DataFrame,
    people_rows: Sequence[tuple],
) -> DataFrame:
    """silver.strava_activities and/or silver.mapmyrun_workouts -> one row per workout with its sources.

    Either source may be absent (None): the workouts are then those of the other alone. `people` is
    silver.people (`people_rows` its rows, for the MapMyRun export patterns).
    """
    spark = people.sparkSession
    strava = (
        _strava(activities, people) if activities is not None else spark.createDataFrame([], STRAVA_SIDE)
    )
    mapmyrun = (
        _mapmyrun(mapmyrun_workouts, people_rows)
        if mapmyrun_workouts is not None
        else spark.createDataFrame([], MAPMYRUN_SIDE)
    )
    pairs = match_sessions(strava, mapmyrun)
    joined = (
        strava.join(pairs, on="strava_activity_id", how="full")
        .join(mapmyrun.alias("m"), on="mapmyrun_workout_id", how="full")
        .select(
            strava["athlete_id"],
            F.coalesce(strava["person_id"], F.col("m.person_id"), F.lit(UNCLAIMED_MAPMYRUN)).alias("person_id"),
            "strava_activity_id",
            "mapmyrun_workout_id",
            F.coalesce(strava["sport"], F.col("m.sport")).alias("sport"),
            F.coalesce(strava["sport_detail"], F.col("m.sport_detail")).alias("sport_detail"),
            F.coalesce(strava["workout_date"], F.col("m.workout_date")).alias("workout_date"),
            strava["start_time_utc"],
            strava["start_time_local"],
            F.coalesce(strava["distance_m"], F.col("m.distance_m")).alias("distance_m"),
            F.coalesce(strava["duration_s"], F.col("m.duration_s")).alias("duration_s"),
            strava["elapsed_s"],
            strava["elevation_gain_m"],
            F.coalesce(strava["avg_heart_rate_bpm"], F.col("m.avg_heart_rate_bpm")).alias("avg_heart_rate_bpm"),
            strava["max_heart_rate_bpm"],
            strava["kudos_count"],
        )
    )
    # A MapMyRun-only workout carries its person's Strava athlete id, when they have one.
    athletes = people.select(
        F.col("person_id").alias("p_id"), F.try_element_at("strava_athlete_ids", F.lit(1)).alias("p_athlete")
    )
    joined = joined.join(athletes, on=F.col("person_id") == F.col("p_id"), how="left").select(
        F.coalesce(F.col("athlete_id"), F.col("p_athlete")).alias("athlete_id"),
        *[c for c in joined.columns if c != "athlete_id"],
    )
    sources = F.filter(
        F.array(
            F.when(F.col("strava_activity_id").isNotNull(), F.lit("strava")),
            F.when(F.col("mapmyrun_workout_id").isNotNull(), F.lit("mapmyrun")),
        ),
        lambda x: x.isNotNull(),
    )
    out = joined.select(
        F.when(F.col("strava_activity_id").isNotNull(), F.concat(F.lit("strava:"), F.col("strava_activity_id")))
        .otherwise(F.concat(F.lit("mapmyrun:"), F.col("mapmyrun_workout_id")))
        .alias("workout_id"),
        "*",
        F.when(F.col("duration_s") > 0, F.col("distance_m") / F.col("duration_s")).alias("avg_speed_mps"),
        F.when(F.col("distance_m") > 0, F.col("duration_s") / (F.col("distance_m") / 1000)).alias("pace_s_per_km"),
        sources.alias("sources"),
    )
    return with_row_hash(out)
