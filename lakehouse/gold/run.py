"""Run the gold stage: rebuild each gold table from silver."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.gold import activity_summary_monthly
from lakehouse.tables import Tables, overwrite, read_table, table_exists


@dataclass
class GoldResult:
    """What one gold table build did."""

    table: str
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0


def build_activity_summary_monthly(spark: SparkSession, settings: Settings) -> GoldResult:
    """gold.activity_summary_monthly from silver.strava_activities (full rebuild, one commit)."""
    started = time.monotonic()
    tables = Tables(settings)
    source = tables.ref("silver", "strava_activities")
    result = GoldResult(activity_summary_monthly.NAME)
    if table_exists(spark, source):
        activities = read_table(spark, source)
        summary = activity_summary_monthly.summarise(activities).persist()
        try:
            overwrite(summary, tables.ref("gold", activity_summary_monthly.NAME))
            result.rows_out = summary.count()
        finally:
            summary.unpersist()
        result.rows_in = activities.count()
    result.seconds = time.monotonic() - started
    return result


def run_gold(spark: SparkSession, settings: Settings) -> list[GoldResult]:
    """Every gold table, in order."""
    return [build_activity_summary_monthly(spark, settings)]
