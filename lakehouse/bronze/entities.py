"""The landing entities bronze knows, each with its table, file pattern, JSON Schema and natural key."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable

from lakehouse.bronze.parse import EntityFormat


@dataclass(frozen=True)
class BronzeEntity:
    """One bronze table fed by one folder of the landing zone."""

    table: str  # bronze table name
    landing_prefix: str  # folder under the landing root, read recursively
    file_glob: str  # which files in it are data
    kind: str  # "json" (array of objects) or "csv"
    schema_file: str  # under schemas/
    key_fields: tuple[str, ...]  # natural key, for duplicate detection within a file
    csv_required: tuple[tuple[str, ...], ...] = ()

    def format(self, schemas_dir: Traversable) -> EntityFormat:
        """The parsing rules, with the JSON Schema text read from `schemas_dir`."""
        schema_json = (schemas_dir / self.schema_file).read_text(encoding="utf-8")
        return EntityFormat(self.kind, schema_json, self.key_fields, self.csv_required)


STRAVA_ACTIVITIES = BronzeEntity(
    table="strava_activities",
    landing_prefix="strava/activities/",
    file_glob="*.json",
    kind="json",
    schema_file="strava_summary_activity.schema.json",
    key_fields=("athlete.id", "id"),
)

FITBIT_INTRADAY = BronzeEntity(
    table="fitbit_intraday",
    landing_prefix="fitbit/",
    file_glob="*.json",
    kind="json",
    schema_file="fitbit_intraday_day.schema.json",
    key_fields=("user_id", "resource", "date"),
)

GOOGLE_HEALTH_DATAPOINTS = BronzeEntity(
    table="google_health_datapoints",
    landing_prefix="google_health/",
    file_glob="*.json",
    kind="json",
    schema_file="google_health_datapoint.schema.json",
    key_fields=("user_id", "data_type", "point_id"),
)

MAPMYRUN_WORKOUTS = BronzeEntity(
    table="mapmyrun_workouts",
    landing_prefix="mapmyrun/workouts/",
    file_glob="*.csv",
    kind="csv",
    schema_file="mapmyrun_workout.schema.json",
    key_fields=("Link",),
    csv_required=(
        ("Date Submitted",),
        ("Workout Date",),
        ("Activity Type",),
        ("Calories Burned (kCal)",),
        ("Distance (km)", "Distance (mi)"),
        ("Workout Time (seconds)",),
        ("Avg Pace (min/km)", "Avg Pace (min/mi)"),
        ("Max Pace (min/km)", "Max Pace (min/mi)", "Max Pace"),
        ("Avg Speed (km/h)", "Avg Speed (mi/h)"),
        ("Max Speed (km/h)", "Max Speed (mi/h)", "Max Speed"),
        ("Avg Heart Rate",),
        ("Steps",),
        ("Notes",),
        ("Source",),
        ("Link",),
    ),
)

STRAVA_ACTIVITY_DETAILS = BronzeEntity(
    table="strava_activity_details",
    landing_prefix="strava/activity_details/",
    file_glob="*.json",
    kind="json",
    schema_file="strava_detailed_activity.schema.json",
    key_fields=("athlete.id", "id"),
)

STRAVA_ACTIVITY_STREAMS = BronzeEntity(
    table="strava_activity_streams",
    landing_prefix="strava/activity_streams/",
    file_glob="*.json",
    kind="json",
    schema_file="strava_activity_streams.schema.json",
    key_fields=("activity_id",),
)

API_CALLS = BronzeEntity(
    table="api_calls",
    landing_prefix="_ledger/",
    file_glob="*.json",
    kind="json",
    schema_file="api_call.schema.json",
    key_fields=("run_id", "source", "seq"),
)

ENTITIES: dict[str, BronzeEntity] = {
    entity.table: entity
    for entity in (
        STRAVA_ACTIVITIES,
        STRAVA_ACTIVITY_DETAILS,
        STRAVA_ACTIVITY_STREAMS,
        FITBIT_INTRADAY,
        GOOGLE_HEALTH_DATAPOINTS,
        MAPMYRUN_WORKOUTS,
        API_CALLS,
    )
}
