"""Landing data for one benchmark size: `people` people, each with their own history, in one landing zone.

1x is one person: `years` of Strava and MapMyRun history and `fitbit_days` of Fitbit minute data (the issue's
"ten years of one athlete plus one year of Fitbit minutes"). 4x and 16x are 4 and 16 such people (a household,
a club): one athlete's history cannot honestly get 4x denser, while more people is how a lakehouse like this
one grows, and it multiplies every table (and every per-person gold computation) by the same factor.

Each person is the demo sample with their own seed, Strava athlete id, Fitbit user id and MapMyRun export
name, landed exactly where the real ingesters land theirs. The people live in a time zone without daylight
saving (`BENCH_TIMEZONE`): the spring-forward hour's local minutes map onto the next hour's instants, and which
of two such duplicates an engine keeps is arbitrary, which would make the DuckDB-vs-ours check flaky.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from lakehouse.config import Person, SampleSettings, Settings
from lakehouse.landing import LandingZone, landing_key
from lakehouse_demo.sample import fitbit, mapmyrun, strava

BENCH_TIMEZONE = "Asia/Tokyo"
FIRST_ATHLETE_ID = 1021301
COLD_RUN = "20250101T000000Z-bench"  # run ids sort by time: the weekly run's files are the later ones
WEEK_RUN = "20250108T000000Z-bench"
WEEK_DAYS = 7
REPULLED = 5  # the weekly pull also brings back the last activities with their new kudos (a real sync's overlap)


@dataclass(frozen=True)
class HistorySize:
    """What one size lands: `people` people, each with `years` of activities and `fitbit_days` of minutes."""

    people: int
    years: int
    fitbit_days: int
    mapmyrun_workouts: int
    end_date: date = date(2024, 12, 31)


@dataclass(frozen=True)
class Landed:
    """Counts of what was landed: files and records per source (Fitbit: envelopes and intraday points)."""

    files: int
    strava_activities: int
    fitbit_envelopes: int
    fitbit_points: int
    mapmyrun_workouts: int

    @property
    def records(self) -> int:
        """Every landed row the pipeline reads: activities, intraday points and workouts."""
        return self.strava_activities + self.fitbit_points + self.mapmyrun_workouts


def person_key(index: int) -> str:
    """`p00`, `p01`, ...: the person's id and the tail of their landing files' run ids."""
    return f"p{index:02d}"


def sample_for(size: HistorySize, index: int, base: SampleSettings) -> SampleSettings:
    """The sample settings of person `index`: their own seed and ids, the size's span."""
    return replace(
        base,
        seed=base.seed + index,
        start_date=date(size.end_date.year - size.years + 1, 1, 1),
        end_date=size.end_date,
        athlete_ids=(FIRST_ATHLETE_ID + index,),
        dog_era_start=date(size.end_date.year - max(size.years // 2, 1) + 1, 6, 1),
        fitbit_user_id=f"BENCH{index:02d}",
        fitbit_days=size.fitbit_days,
        fitbit_timezone=BENCH_TIMEZONE,
        mapmyrun_workouts=size.mapmyrun_workouts,
    )


def bench_settings(settings: Settings, size: HistorySize) -> Settings:
    """`settings` with the size's people (ids in every source, their zone) and no race."""
    people = tuple(
        Person(
            id=person_key(i),
            name=f"Bench person {i}",
            strava_athlete_id=FIRST_ATHLETE_ID + i,
            fitbit_user_ids=(f"BENCH{i:02d}",),
            mapmyrun_files=(f"*-{person_key(i)}.csv",),
            timezone=BENCH_TIMEZONE,
        )
        for i in range(size.people)
    )
    return replace(settings, people=people, race=replace(settings.race, pipeline_stages=()))


def land_history(landing: LandingZone, size: HistorySize, base: SampleSettings) -> Landed:
    """Generate and land every person's history (the cold run's files)."""
    files = activities = envelopes = points = workouts = 0
    for index in range(size.people):
        sample = sample_for(size, index, base)
        run_id = f"{COLD_RUN}-{person_key(index)}"
        person_activities = strava.generate_activities(sample)
        files += len(landing.write_json_by_month("strava", "activities", run_id, person_activities, strava.month_of))
        activities += len(person_activities)
        days = fitbit.generate_days(sample, person_activities)
        for resource in fitbit.RESOURCES:
            of_resource = [e for e in days if e["resource"] == resource]
            files += len(landing.write_json_by_month("fitbit", resource, run_id, of_resource, fitbit.month_of))
        envelopes += len(days)
        points += sum(_points(e) for e in days)
        twins = mapmyrun.twins_of(person_activities, sample.seed)
        for month, (text, rows) in mapmyrun.generate_csv_by_month(sample, "metric", twins).items():
            landing.write_bytes(landing_key("mapmyrun", "workouts", month, run_id, ext="csv"), text.encode(), rows)
            files += 1
            workouts += rows
    return Landed(files, activities, envelopes, points, workouts)


def land_week(landing: LandingZone, size: HistorySize, base: SampleSettings) -> Landed:
    """One more week for every person: a week of new activities, and the last few pulled again with more kudos."""
    files = records = 0
    for index in range(size.people):
        sample = sample_for(size, index, base)
        newest_first = strava.generate_activities(sample)
        new = [strava.shifted(a, WEEK_DAYS, int(a["id"]) + 10_000_000) for a in newest_first[:WEEK_DAYS]]
        again = [{**a, "kudos_count": int(a["kudos_count"]) + 1} for a in newest_first[:REPULLED]]
        run_id = f"{WEEK_RUN}-{person_key(index)}"
        files += len(landing.write_json_by_month("strava", "activities", run_id, new + again, strava.month_of))
        records += len(new) + len(again)
    return Landed(files, records, 0, 0, 0)


def _points(envelope: dict[str, Any]) -> int:
    body = envelope["response"].get(f"activities-{envelope['resource']}-intraday") or {}
    return len(body.get("dataset") or [])
