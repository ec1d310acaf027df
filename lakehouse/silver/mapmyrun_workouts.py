"""silver.mapmyrun_workouts: MapMyRun workouts from CSV exports, typed and in SI units.

Grain: one row per workout. Keys: (`workout_id`), parsed from the Link URL (`.../workout/<id>`).
Metric (km) and imperial (mi) exports land in the same units here: metres, seconds, m/s, s/km. AP-style
dates ("Sept. 30, 2020") are parsed; a `0` or empty heart rate means "no monitor" and becomes null; the
`b''` wrapping that some exports put around Notes is removed.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.silver.readable import finite, parse_errors, unreadable
from lakehouse.tables.merge import latest_per_key, with_row_hash

NAME = "mapmyrun_workouts"
BRONZE_TABLE = "mapmyrun_workouts"
KEYS = ("workout_id",)

METRES_PER_MILE = 1609.344
MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
COLUMNS = (
    "Date Submitted", "Workout Date", "Activity Type", "Calories Burned (kCal)", "Distance (km)",
    "Distance (mi)", "Workout Time (seconds)", "Avg Pace (min/km)", "Avg Pace (min/mi)", "Max Pace (min/km)",
    "Max Pace (min/mi)", "Max Pace", "Avg Speed (km/h)", "Avg Speed (mi/h)", "Max Speed (km/h)",
    "Max Speed (mi/h)", "Max Speed", "Avg Heart Rate", "Steps", "Notes", "Source", "Link",
)  # fmt: skip
RECORD_SCHEMA = T.StructType([T.StructField(c, T.StringType()) for c in COLUMNS])
TEXT_COLUMNS = ("Date Submitted", "Workout Date", "Activity Type", "Notes", "Source", "Link")
NUMBER_COLUMNS = tuple(c for c in COLUMNS if c not in TEXT_COLUMNS)


def ap_date(text: Column) -> Column:
    """An AP-style date ("Sept. 30, 2020", "May 6, 2025", "March 7, 2016") as a DATE; null if unreadable."""
    month_word = F.lower(F.substring(F.regexp_extract(text, r"^\s*([A-Za-z]+)", 1), 1, 3))
    months = F.create_map(*[x for name, number in MONTHS.items() for x in (F.lit(name), F.lit(number))])
    day = F.regexp_extract(text, r"(\d{1,2}),", 1)
    year = F.regexp_extract(text, r"(\d{4})\s*$", 1)
    return F.to_date(
        F.try_make_timestamp(
            F.nullif(year, F.lit("")).try_cast("int"),
            F.try_element_at(months, month_word),
            F.nullif(day, F.lit("")).try_cast("int"),
            F.lit(0), F.lit(0), F.lit(0),
        )
    )  # fmt: skip


def _number(column: str) -> Column:
    """A numeric cell as a double; null when empty, unreadable, NaN or infinite (`_number_errors` names it)."""
    return finite(F.nullif(F.trim(F.col(f"r.`{column}`")), F.lit("")).try_cast("double"))


def _number_errors() -> list[Column]:
    return [
        unreadable(c, F.col(f"r.`{c}`"), _number(c), "a finite number") for c in NUMBER_COLUMNS
    ]


def _notes(column: Column) -> Column:
    """`b'Easy run'` -> `Easy run`; `b''` and empty -> null."""
    unwrapped = F.regexp_replace(column, r"^b(['\"])(.*)\1$", "$2")
    return F.nullif(F.trim(unwrapped), F.lit(""))


def to_silver(bronze: DataFrame) -> DataFrame:
    """Bronze CSV rows -> one typed row per workout, latest ingestion winning."""
    rows = bronze.select(
        F.from_json(F.col("record"), RECORD_SCHEMA).alias("r"),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    imperial = F.col("r.`Distance (mi)`").isNotNull()
    distance_unit_m = F.when(imperial, F.lit(METRES_PER_MILE)).otherwise(F.lit(1000.0))
    distance = F.coalesce(_number("Distance (km)"), _number("Distance (mi)"))
    avg_pace_min = F.coalesce(_number("Avg Pace (min/km)"), _number("Avg Pace (min/mi)"))
    max_pace_min = F.coalesce(_number("Max Pace (min/km)"), _number("Max Pace (min/mi)"), _number("Max Pace"))
    avg_speed = F.coalesce(_number("Avg Speed (km/h)"), _number("Avg Speed (mi/h)"))
    max_speed = F.coalesce(_number("Max Speed (km/h)"), _number("Max Speed (mi/h)"), _number("Max Speed"))
    heart_rate = _number("Avg Heart Rate")
    workout_id = F.nullif(F.regexp_extract(F.col("r.Link"), r"/workout/(\d+)", 1), F.lit("")).try_cast("long")
    workout_date = ap_date(F.col("r.`Workout Date`"))
    submitted_date = ap_date(F.col("r.`Date Submitted`"))
    steps = _number("Steps").try_cast("long")
    typed = rows.select(
        workout_id.alias("workout_id"),
        workout_date.alias("workout_date"),
        submitted_date.alias("submitted_date"),
        F.trim(F.col("r.`Activity Type`")).alias("activity_type"),
        _number("Calories Burned (kCal)").alias("calories_kcal"),
        (distance * distance_unit_m).alias("distance_m"),
        _number("Workout Time (seconds)").alias("duration_s"),
        # pace: minutes per km or mile -> seconds per km
        (avg_pace_min * 60 * 1000 / distance_unit_m).alias("avg_pace_s_per_km"),
        (max_pace_min * 60 * 1000 / distance_unit_m).alias("max_pace_s_per_km"),
        # speed: km/h or mi/h -> m/s
        (avg_speed * distance_unit_m / 3600).alias("avg_speed_mps"),
        (max_speed * distance_unit_m / 3600).alias("max_speed_mps"),
        F.when(heart_rate > 0, heart_rate).alias("avg_heart_rate_bpm"),
        steps.alias("steps"),
        _notes(F.col("r.Notes")).alias("notes"),
        F.nullif(F.trim(F.col("r.Source")), F.lit("")).alias("source"),
        F.col("r.Link").alias("link"),
        F.when(imperial, F.lit("imperial")).otherwise(F.lit("metric")).alias("unit_system"),
        parse_errors(
            _number_errors(),
            unreadable("Link", F.col("r.Link"), workout_id, "a workout URL ending in a workout id that fits a long"),
            unreadable("Workout Date", F.col("r.`Workout Date`"), workout_date, "a calendar date"),
            unreadable("Date Submitted", F.col("r.`Date Submitted`"), submitted_date, "a calendar date"),
            unreadable("Steps", F.col("r.Steps"), steps, "a step count that fits a long"),
        ),
        "_source_file",
        "_batch_id",
        "_record_index",
        "_ingested_at",
    )
    return with_row_hash(latest_per_key(typed, KEYS).drop("_record_index"))
