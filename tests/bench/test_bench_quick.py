"""`python -m bench --quick --like-for-like`: the command runs every phase, writes the JSON with every field, and
DuckDB's tables equal ours. Not a timing test: the figures are only checked for being there and making sense.
`--like-for-like` keeps our gold to the peer's two tables, which keeps the test short (the whole pipeline runs in
tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from bench.run_all import main

PHASE_FIELDS = {"phase", "ours", "duckdb", "ratio", "ratio_same_tables"}
OURS_FIELDS = {"wall_seconds", "same_tables_seconds", "records", "rows_per_second", "rows_written", "memory", "stages"}
MEMORY_FIELDS = {"driver_rss_mb", "jvm_rss_mb", "jvm_heap_peak_mb"}
PEER_TABLES = {"silver_strava_activities", "silver_fitbit_intraday", "gold_activity_summary_monthly",
               "gold_fitbit_daily_summary"}  # fmt: skip
INGESTION_FIELDS = {"source", "records", "record_kind", "api_calls", "wall_seconds", "records_per_second",
                    "backfill_hours_real_limits"}  # fmt: skip


@pytest.mark.bench
def test_quick_bench_writes_every_field_and_duckdb_equals_ours(spark: SparkSession, tmp_path: Path) -> None:
    argv = ["--quick", "--sizes", "1", "--like-for-like"]
    assert main(argv, spark=spark, results_dir=tmp_path, workdir=tmp_path / "lake") == 0
    (written,) = tmp_path.glob("bench-*.json")
    results = json.loads(written.read_text())

    assert {"started_at", "mode", "our_gold", "env", "machine", "profile", "sizes", "ingestion"} <= results.keys()
    (size,) = results["sizes"]
    assert size["size"] == "1x" and size["equal"] is True
    assert [p["phase"] for p in size["phases"]] == ["cold", "rerun", "weekly"]
    for phase in size["phases"]:
        assert PHASE_FIELDS <= phase.keys()
        assert OURS_FIELDS <= phase["ours"].keys()
        assert MEMORY_FIELDS <= phase["ours"]["memory"].keys()
        assert phase["ours"]["memory"]["jvm_rss_mb"] > 0 and phase["ours"]["memory"]["driver_rss_mb"] > 0
        assert phase["ours"]["wall_seconds"] > 0 and phase["duckdb"]["wall_seconds"] > 0
        assert set(phase["duckdb"]["table_rows"]) == PEER_TABLES
        assert set(phase["ours"]["stages"]) == {"bronze", "silver", "gold"}
    _, rerun, weekly = size["phases"]
    assert rerun["ours"]["records"] == 0 and rerun["ours"]["rows_written"] == 0  # nothing new: nothing written
    # The weekly landing: 7 new activities and 5 pulled again (bench.history), for the one person.
    assert weekly["ours"]["records"] == 12
    landed = size["landed"]["strava_activities"]
    assert weekly["duckdb"]["table_rows"]["silver_strava_activities"] == landed + 7
    assert {c["table"] for c in size["equality"]} == PEER_TABLES
    assert all(c["duck_rows"] == c["our_rows"] > 0 and c["equal"] for c in size["equality"])
    assert [r["source"] for r in results["ingestion"]] == [
        "strava (list)", "strava (list + details + streams)", "google health"
    ]
    for rate in results["ingestion"]:
        assert INGESTION_FIELDS <= rate.keys() and rate["records"] > 0 and rate["api_calls"] > 0
    listed, full, _ = results["ingestion"]
    assert full["api_calls"] == listed["api_calls"] + 2 * listed["records"]  # a detail and a stream call each
