"""A ten-year first sync against the stand-in with Strava's real limits: several runs, no limit exceeded,
and silver then holds every activity exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.ingest import demo
from lakehouse.bronze.entities import API_CALLS, STRAVA_ACTIVITIES, STRAVA_ACTIVITY_DETAILS
from lakehouse.bronze.loader import load_entity
from lakehouse.config import Settings
from lakehouse.silver.run import SPECS, run_silver_table
from lakehouse.tables import Tables, read_table
from lakehouse_demo.sample import strava as sample_strava


def test_ten_year_backfill_resumes_across_days_and_lands_everything_once(
    spark: SparkSession, settings: Settings
) -> None:
    decade = replace(
        settings,
        sample=replace(settings.sample, start_date=date(2015, 1, 1), end_date=date(2024, 12, 31), fitbit_days=1),
    )
    expected = sorted(a["id"] for a in sample_strava.generate_activities(decade.sample))
    assert 3 * len(expected) > 2000  # a detail and streams each: more calls than two days of read budget

    reports = [r for r in demo(decade, quiet=True, details=True, streams=True) if r.source == "strava"]

    assert len(reports) >= 2 and reports[-1].completed
    assert all(r.stopped_reason in ("completed", "daily_limit") for r in reports)
    load_entity(spark, decade, STRAVA_ACTIVITIES, run_id="decade")
    details = load_entity(spark, decade, STRAVA_ACTIVITY_DETAILS, run_id="decade")
    assert details.records_loaded == len(expected)
    spec = next(s for s in SPECS if s.name == "strava_activities")
    run_silver_table(spark, decade, spec, "decade")
    tables = Tables(decade)
    silver = read_table(spark, tables.ref("silver", "strava_activities"))
    assert sorted(r[0] for r in silver.select("activity_id").collect()) == expected
    # No call was refused: the ledger has no 429 and the read usage never passed the limits.
    spec_calls = next(s for s in SPECS if s.name == "api_calls")
    load_entity(spark, decade, API_CALLS, run_id="decade")
    run_silver_table(spark, decade, spec_calls, "decade")
    calls = read_table(spark, tables.ref("silver", "api_calls")).where(F.col("source") == "strava")
    assert calls.where(F.col("status") == 429).count() == 0
    worst = calls.agg(F.max("read_usage_15min"), F.max("read_usage_daily")).first()
    assert worst[0] <= 100 and worst[1] <= 1000
