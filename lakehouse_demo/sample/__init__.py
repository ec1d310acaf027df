"""Deterministic sample data for every source, landed exactly where the real ingesters land theirs.

Layout (see `lakehouse.landing`):
- `strava/activities/month=YYYY-MM/<run_id>.json`: JSON array of SummaryActivity, by UTC month of `start_date`
- `fitbit/<resource>/month=YYYY-MM/<run_id>.json`: JSON array of envelopes, one entity per resource
  (heart, steps, calories, distance, elevation, floors), by the envelope's local `date`
- `mapmyrun/workouts/month=YYYY-MM/<run_id>.csv`: a metric export (header + that month's rows, newest first)

The same seed and settings give byte-identical files, so landing the sample again writes nothing.
"""

from __future__ import annotations

from lakehouse.config import SampleSettings
from lakehouse.landing import LandedFile, LandingZone, landing_key
from lakehouse_demo.sample import fitbit, mapmyrun, strava

DEFAULT_RUN_ID = "sample"
MAPMYRUN_UNITS = "metric"  # the variant seen in real exports

__all__ = ["DEFAULT_RUN_ID", "land_sample"]


def land_sample(landing: LandingZone, settings: SampleSettings, run_id: str = DEFAULT_RUN_ID) -> list[LandedFile]:
    """Generate and land all three sources' samples, e.g. `land_sample(LandingZone(store), settings)`."""
    landed: list[LandedFile] = []
    activities = strava.generate_activities(settings)
    landed += landing.write_json_by_month("strava", "activities", run_id, activities, strava.month_of)
    envelopes = fitbit.generate_days(settings, activities)
    for resource in fitbit.RESOURCES:
        of_resource = [e for e in envelopes if e["resource"] == resource]
        landed += landing.write_json_by_month("fitbit", resource, run_id, of_resource, fitbit.month_of)
    twins = mapmyrun.twins_of(activities, settings.seed)
    for month, (text, rows) in mapmyrun.generate_csv_by_month(settings, MAPMYRUN_UNITS, twins).items():
        key = landing_key("mapmyrun", "workouts", month, run_id, ext="csv")
        landed.append(landing.write_bytes(key, text.encode("utf-8"), rows))
    return landed
