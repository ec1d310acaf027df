"""The peer: DuckDB building the same silver and gold tables from the same landing files, as a DuckDB stack would.

Read the landed JSON, deduplicate by key (the latest landed file wins: run ids sort by time), aggregate:
- `silver_strava_activities`: one row per (athlete, activity), from `strava/activities/**.json`;
- `silver_fitbit_intraday`: one row per (user, metric, UTC instant), from `fitbit/<resource>/**.json`;
- `gold_activity_summary_monthly`: like ours, one row per (athlete, month, sport);
- `gold_fitbit_daily_summary`: like ours, one row per (user, local day, metric).
Every build is a full rebuild (`CREATE OR REPLACE`): that is the DuckDB way; there is no incremental state.

`compare` then reads our Delta tables (with the `deltalake` reader, not Spark) into the same DuckDB and checks
the two builds agree: same row count, same keys, and the same column sums (within the rounding of the columns'
own precision, since the engines round doubles differently at exact halves).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
from deltalake import DeltaTable

# Fitbit resource -> (metric, factor to SI), as in `lakehouse.silver.fitbit.METRICS`.
FITBIT_METRICS = {
    "heart": ("heart_rate_bpm", 1.0),
    "steps": ("steps", 1.0),
    "calories": ("calories_kcal", 1.0),
    "distance": ("distance_m", 1000.0),
    "elevation": ("elevation_m", 1.0),
    "floors": ("floors", 1.0),
}


@dataclass(frozen=True)
class PeerTable:
    """One table both engines build: DuckDB's name, ours (`layer.name`), its keys, the sums compared."""

    duck: str
    ours: tuple[str, str]
    keys: tuple[str, ...]
    sums: Mapping[str, float]  # column -> tolerance per row (half a unit of its rounding), 0 for exact


TABLES = (
    PeerTable("silver_strava_activities", ("silver", "strava_activities"), ("athlete_id", "activity_id"),
              {"distance_m": 0.0, "moving_time_s": 0.0, "kudos_count": 0.0}),
    PeerTable("silver_fitbit_intraday", ("silver", "fitbit_intraday"), ("user_id", "metric", "ts_utc"),
              {"value": 1e-9, "interval_s": 0.0}),
    PeerTable("gold_activity_summary_monthly", ("gold", "activity_summary_monthly"),
              ("athlete_id", "month", "sport_type"),
              {"activities": 0.0, "distance_km": 0.0005, "moving_time_h": 0.0005, "kudos": 0.0}),
    PeerTable("gold_fitbit_daily_summary", ("gold", "fitbit_daily_summary"), ("user_id", "date", "metric"),
              {"total": 0.0005, "mean": 0.0005, "samples": 0.0, "minutes_covered": 0.05}),
)  # fmt: skip


@dataclass(frozen=True)
class TableCheck:
    """DuckDB's table against ours: row counts, keys only one side has, column sums."""

    table: str
    duck_rows: int
    our_rows: int
    keys_only_duck: int
    keys_only_ours: int
    sums: dict[str, tuple[float, float]]  # column -> (DuckDB's sum, ours)
    equal: bool


def _strava_sql(landing: Path) -> str:
    return f"""
    CREATE OR REPLACE TABLE silver_strava_activities AS
    SELECT athlete.id AS athlete_id, id AS activity_id, coalesce(sport_type, type) AS sport_type,
           CAST(strptime(start_date_local, '%Y-%m-%dT%H:%M:%SZ') AS DATE) AS activity_date,
           distance AS distance_m, moving_time AS moving_time_s, total_elevation_gain AS elevation_gain_m,
           coalesce(kudos_count, 0) AS kudos_count
    FROM read_json('{landing}/strava/activities/*/*.json', format = 'array', filename = true, columns = {{
        id: 'BIGINT', athlete: 'STRUCT(id BIGINT)', type: 'VARCHAR', sport_type: 'VARCHAR',
        start_date_local: 'VARCHAR', distance: 'DOUBLE', moving_time: 'BIGINT',
        total_elevation_gain: 'DOUBLE', kudos_count: 'INTEGER'}})
    QUALIFY row_number() OVER (PARTITION BY athlete.id, id ORDER BY parse_filename(filename) DESC) = 1
    """


def _fitbit_sql(landing: Path, zones: Mapping[str, str]) -> str:
    reads = []
    for resource, (metric, factor) in FITBIT_METRICS.items():
        if not any((landing / "fitbit" / resource).glob("*/*.json")):
            continue
        series = f'"activities-{resource}-intraday"'
        reads.append(f"""
        SELECT user_id, '{metric}' AS metric, {factor} AS factor, "date", timezone, filename,
               response.{series}.dataset AS dataset,
               response.{series}.datasetInterval
                 * CASE WHEN response.{series}.datasetType = 'second' THEN 1 ELSE 60 END AS interval_s
        FROM read_json('{landing}/fitbit/{resource}/*/*.json', format = 'array', filename = true, columns = {{
            user_id: 'VARCHAR', "date": 'DATE', timezone: 'VARCHAR',
            response: 'STRUCT({series} STRUCT(dataset STRUCT("time" VARCHAR, "value" DOUBLE)[],
                                              datasetInterval INTEGER, datasetType VARCHAR))'}})""")
    people = ", ".join(f"('{user}', '{zone}')" for user, zone in zones.items()) or "(NULL, NULL)"
    union = " UNION ALL ".join(reads) or "SELECT NULL AS user_id WHERE false"
    return f"""
    CREATE OR REPLACE TABLE silver_fitbit_intraday AS
    WITH days AS ({union}),
    zones(user_id, zone) AS (VALUES {people}),
    points AS (
        SELECT d.user_id, d.metric, d."date", d.factor, d.interval_s, d.filename,
               coalesce(d.timezone, z.zone, 'UTC') AS zone, unnest(d.dataset) AS p
        FROM days d LEFT JOIN zones z ON z.user_id = d.user_id
    ),
    typed AS (
        SELECT user_id, metric, "date",
               "date" + CAST(CASE WHEN length(p."time") = 5 THEN p."time" || ':00' ELSE p."time" END AS TIME)
                 AS ts_local,
               p."value" * factor AS "value", interval_s, zone, filename
        FROM points
    )
    SELECT user_id, metric, timezone(zone, ts_local) AS ts_utc, "date", "value", interval_s
    FROM typed
    QUALIFY row_number() OVER (PARTITION BY user_id, metric, ts_utc ORDER BY parse_filename(filename) DESC) = 1
    """


GOLD_SQL = """
CREATE OR REPLACE TABLE gold_activity_summary_monthly AS
SELECT athlete_id, CAST(date_trunc('month', activity_date) AS DATE) AS month, sport_type,
       count(*) AS activities,
       round(sum(distance_m) / 1000, 3) AS distance_km,
       round(sum(moving_time_s) / 3600, 3) AS moving_time_h,
       round(coalesce(sum(elevation_gain_m), 0.0), 1) AS elevation_gain_m,
       round(CASE WHEN sum(moving_time_s) > 0 THEN sum(distance_m) / sum(moving_time_s) * 3.6 END, 3)
         AS mean_speed_kmh,
       round(CASE WHEN sum(distance_m) > 0 THEN (sum(moving_time_s) / 60) / (sum(distance_m) / 1000) END, 3)
         AS mean_pace_min_per_km,
       CAST(sum(kudos_count) AS BIGINT) AS kudos,
       round(sum(kudos_count) / count(*), 2) AS kudos_per_activity
FROM silver_strava_activities
GROUP BY athlete_id, CAST(date_trunc('month', activity_date) AS DATE), sport_type;

CREATE OR REPLACE TABLE gold_fitbit_daily_summary AS
SELECT user_id, "date", metric,
       CASE WHEN metric <> 'heart_rate_bpm' THEN round(sum("value"), 3) END AS total,
       round(avg("value"), 3) AS mean, min("value") AS min, max("value") AS max,
       count(*) AS samples, round(sum(interval_s) / 60, 1) AS minutes_covered
FROM silver_fitbit_intraday
GROUP BY user_id, "date", metric;
"""


def connect(database: Path, memory_limit: str = "2GB", threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A DuckDB database file with the same memory and cores our Spark driver gets."""
    con = duckdb.connect(str(database))
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    return con


def build(con: duckdb.DuckDBPyConnection, landing: Path, zones: Mapping[str, str]) -> dict[str, int]:
    """Rebuild every peer table from the landing files; returns each table's row count."""
    con.execute(_strava_sql(landing))
    con.execute(_fitbit_sql(landing, zones))
    con.execute(GOLD_SQL)
    return {t.duck: con.execute(f"SELECT count(*) FROM {t.duck}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def compare(con: duckdb.DuckDBPyConnection, tables_root: str) -> list[TableCheck]:
    """Each peer table against our Delta table of the same name (read by `deltalake`, not by Spark)."""
    checks = []
    for table in TABLES:
        layer, name = table.ours
        ours = DeltaTable(f"{tables_root}/{layer}/{name}").to_pyarrow_table(  # read by DuckDB by name
            columns=[*table.keys, *table.sums]
        )
        con.register("ours", ours)
        keys = ", ".join(table.keys)
        only_duck, only_ours = con.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT {keys} FROM {table.duck} EXCEPT SELECT {keys} FROM ours)),
                   (SELECT count(*) FROM (SELECT {keys} FROM ours EXCEPT SELECT {keys} FROM {table.duck}))
        """).fetchone()  # type: ignore[misc]
        duck_rows = con.execute(f"SELECT count(*) FROM {table.duck}").fetchone()[0]  # type: ignore[index]
        our_rows = con.execute("SELECT count(*) FROM ours").fetchone()[0]  # type: ignore[index]
        sums: dict[str, tuple[float, float]] = {}
        equal = duck_rows == our_rows and only_duck == 0 and only_ours == 0
        for column, tolerance in table.sums.items():
            total = f"coalesce(sum({column}), 0)"
            d, o = con.execute(
                f"SELECT (SELECT {total} FROM {table.duck}), (SELECT {total} FROM ours)"
            ).fetchone()  # type: ignore[misc]
            sums[column] = (float(d), float(o))
            equal = equal and abs(float(d) - float(o)) <= tolerance * max(duck_rows, 1) + 1e-9 * abs(float(o))
        con.unregister("ours")
        checks.append(TableCheck(table.duck, duck_rows, our_rows, only_duck, only_ours, sums, equal))
    return checks
