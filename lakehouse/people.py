"""silver.people: who is who across sources, with each person's physiology resolved.

Grain: one row per person. Keys: (`person_id`).

Built from the people file (`Settings.people`) and the identities the data holds. Each record of a source is
attributed to a person by its identity in that source:

- a Strava athlete id, a Fitbit/Google user id, or a MapMyRun export file name (glob patterns) listed for a
  configured person belongs to that person;
- when exactly one person is configured, every identity nobody claims is theirs (one user, no ids to type);
- otherwise an unclaimed identity is a person of its own: `strava-<athlete id>`, `fitbit-<user id>`,
  `mapmyrun` (exports nobody claims), with the `[analytics]` defaults.

Physiology (HR max and rest, threshold HR, Banister k), the event date, the weekly target and the model
settings (k-means k, CTL/ATL days) are resolved here, so gold reads them per person and a change to any of
them is a new version of this table: the gold tables that read it are recomputed (see `lakehouse.gold.run`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import AnalyticsSettings, Person

NAME = "people"
KEYS = ("person_id",)
UNCLAIMED_MAPMYRUN = "mapmyrun"

SCHEMA = T.StructType(
    [
        T.StructField("person_id", T.StringType(), False),
        T.StructField("name", T.StringType()),
        T.StructField("configured", T.BooleanType(), False),
        T.StructField("strava_athlete_ids", T.ArrayType(T.LongType()), False),
        T.StructField("fitbit_user_ids", T.ArrayType(T.StringType()), False),
        T.StructField("mapmyrun_files", T.ArrayType(T.StringType()), False),
        T.StructField("timezone", T.StringType(), False),
        T.StructField("hr_max", T.DoubleType(), False),
        T.StructField("hr_rest", T.DoubleType(), False),
        T.StructField("threshold_hr", T.DoubleType(), False),
        T.StructField("trimp_k", T.DoubleType(), False),
        T.StructField("event_date", T.DateType()),
        T.StructField("weekly_target", T.DoubleType(), False),
        T.StructField("kmeans_k", T.IntegerType(), False),
        T.StructField("ctl_days", T.IntegerType(), False),
        T.StructField("atl_days", T.IntegerType(), False),
    ]
)


def _row(
    person_id: str,
    person: Person | None,
    analytics: AnalyticsSettings,
    strava: Sequence[int] = (),
    fitbit: Sequence[str] = (),
    mapmyrun: Sequence[str] = (),
) -> tuple:
    p = person or Person(id=person_id)

    def pick(value: float | None, default: float) -> float:
        return float(default if value is None else value)

    return (
        person_id,
        p.name or None,
        person is not None,
        sorted(set(strava)),
        sorted(set(fitbit)),
        list(mapmyrun),
        p.timezone,
        pick(p.hr_max, analytics.hr_max),
        pick(p.hr_rest, analytics.hr_rest),
        pick(p.threshold_hr, analytics.threshold_hr),
        pick(p.trimp_k, analytics.trimp_k),
        p.event_date or analytics.event_date,
        pick(p.weekly_target, analytics.weekly_target),
        int(analytics.kmeans_k),
        int(analytics.ctl_days),
        int(analytics.atl_days),
    )


def resolve_people(
    people: Sequence[Person],
    analytics: AnalyticsSettings,
    strava_athletes: Iterable[int] = (),
    fitbit_users: Iterable[str] = (),
    unclaimed_mapmyrun: bool = False,
) -> list[tuple]:
    """Rows of silver.people for the configured `people` and the identities found in the data.

    Example: one configured person and Strava athlete 7 in the data gives one row, with athlete 7 theirs.
    """
    sole = people[0] if len(people) == 1 else None
    claimed_strava = {p.strava_athlete_id for p in people if p.strava_athlete_id}
    claimed_fitbit = {u for p in people for u in p.fitbit_user_ids}
    extra_strava = sorted({int(a) for a in strava_athletes} - claimed_strava)
    extra_fitbit = sorted({str(u) for u in fitbit_users} - claimed_fitbit)
    rows = []
    for p in people:
        strava = [p.strava_athlete_id] if p.strava_athlete_id else []
        fitbit = list(p.fitbit_user_ids)
        mapmyrun = list(p.mapmyrun_files)
        if p is sole:
            strava += extra_strava
            fitbit += extra_fitbit
            mapmyrun = [*mapmyrun, "*"] if "*" not in mapmyrun else mapmyrun  # unclaimed exports are theirs too
        rows.append(_row(p.id, p, analytics, strava, fitbit, mapmyrun))
    if sole is None:
        rows += [_row(f"strava-{a}", None, analytics, strava=[a]) for a in extra_strava]
        rows += [_row(f"fitbit-{u}", None, analytics, fitbit=[u]) for u in extra_fitbit]
        if unclaimed_mapmyrun:
            rows.append(_row(UNCLAIMED_MAPMYRUN, None, analytics, mapmyrun=["*"]))
    return rows


def people_frame(spark: SparkSession, rows: Sequence[tuple]) -> DataFrame:
    """silver.people rows as a DataFrame with the declared schema."""
    return spark.createDataFrame(list(rows), SCHEMA)


def strava_people(people: DataFrame) -> DataFrame:
    """(athlete_id, person_id): whose each Strava athlete id is."""
    return people.select(F.explode("strava_athlete_ids").alias("athlete_id"), "person_id")


def fitbit_people(people: DataFrame) -> DataFrame:
    """(user_id, person_id): whose each Fitbit/Google user id is."""
    return people.select(F.explode("fitbit_user_ids").alias("user_id"), "person_id")


def glob_regex(pattern: str) -> str:
    """A file-name glob as a Java regex (`fnmatch` semantics), for `rlike`."""
    return "^" + fnmatch.translate(pattern)


def mapmyrun_person(export_file: Column, people: Sequence[tuple]) -> Column:
    """The person whose `mapmyrun_files` globs match the export's file name (first listed wins), else null.

    Specific patterns are tried before the catch-all `*` so that a named export is never taken by it.
    """
    patterns = [(row[0], pattern) for row in people for pattern in row[5]]
    patterns.sort(key=lambda item: item[1] == "*")
    out: Column = F.lit(None).cast("string")
    for person_id, pattern in reversed(patterns):
        out = F.when(export_file.rlike(glob_regex(pattern)), F.lit(person_id)).otherwise(out)
    return out


def export_file_name(source_file: Column) -> Column:
    """The original name of a landed MapMyRun export (`<run id>--<name>.csv`), else the landed file's name."""
    base = F.regexp_extract(source_file, r"([^/]+)$", 1)
    original = F.regexp_extract(base, r"^[0-9TZ]+-[0-9a-f]+--(.+)$", 1)
    return F.when(original != "", original).otherwise(base)
