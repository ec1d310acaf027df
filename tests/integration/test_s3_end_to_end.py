"""An S3 landing zone end to end: ingestion writes through boto3, bronze and silver read through s3a.

The S3 server is moto's, in server mode: a real HTTP server on loopback, spoken to by boto3 and by
Hadoop's S3A connector exactly as they would speak to AWS or MinIO.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pyspark.sql import SparkSession

from jobs.ingest import demo
from lakehouse.bronze.entities import FITBIT_INTRADAY, STRAVA_ACTIVITIES
from lakehouse.bronze.loader import load_entity
from lakehouse.config import S3Settings, Settings
from lakehouse.landing import LandingZone
from lakehouse.race.bronze import load_telemetry
from lakehouse.silver.run import SPECS, run_silver_table
from lakehouse.storage import S3Store, open_store
from lakehouse.tables import Tables, read_table
from lakehouse_demo.sample import strava as sample_strava
from tests.race.odd_files import FILES, LOADED, QUARANTINED, assert_odd_files_read, land_odd_files

BUCKET = "lake"
KEY, SECRET = "testing-key", "testing-secret"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(spark: SparkSession, settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Landing zone and tables both in the S3 bucket; Spark's s3a pointed at the server for this bucket."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
        client.create_bucket(Bucket=BUCKET)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # per-bucket s3a settings
    for key, value in {
        "endpoint": s3_endpoint,
        "path.style.access": "true",
        "connection.ssl.enabled": "false",
        "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "access.key": KEY,
        "secret.key": SECRET,
        "endpoint.region": "us-east-1",
    }.items():
        hadoop.set(f"fs.s3a.bucket.{BUCKET}.{key}", value)
    prefix = f"s3://{BUCKET}/{settings.tables_root.rsplit('/', 2)[-2]}"  # unique per test
    small = replace(settings.sample, start_date=settings.sample.end_date.replace(month=1, day=1), fitbit_days=2)
    return replace(
        settings,
        landing_root=f"{prefix}/landing",
        tables_root=f"{prefix}/tables",
        s3=S3Settings(endpoint_url=s3_endpoint, path_style=True),
        sample=small,
    )


def test_store_round_trip(s3_settings: Settings) -> None:
    store = open_store(s3_settings.landing_root, s3_settings.s3)
    assert isinstance(store, S3Store)
    store.write_bytes("a/b.json", b"[1]")
    assert store.read_bytes("a/b.json") == b"[1]"
    assert [(f.key, f.size) for f in store.list_files("a/")] == [("a/b.json", 3)]


def test_api_ingestion_to_s3_then_bronze_and_silver_through_s3a(spark: SparkSession, s3_settings: Settings) -> None:
    reports = demo(s3_settings, quiet=True)
    assert all(r.completed for r in reports)
    expected_ids = sorted(a["id"] for a in sample_strava.generate_activities(s3_settings.sample))

    strava = load_entity(spark, s3_settings, STRAVA_ACTIVITIES, run_id="s3")
    fitbit = load_entity(spark, s3_settings, FITBIT_INTRADAY, run_id="s3")
    again = load_entity(spark, s3_settings, STRAVA_ACTIVITIES, run_id="s3-again")

    assert strava.records_loaded == len(expected_ids) and strava.records_quarantined == 0
    assert fitbit.records_loaded == 2 * 6  # two days, six resources
    assert again.batch_id is None
    tables = Tables(s3_settings)
    assert tables.ref("bronze", "strava_activities").location.startswith("s3a://lake/")
    bronze = read_table(spark, tables.ref("bronze", "strava_activities"))
    assert sorted(json.loads(r["record"])["id"] for r in bronze.collect()) == expected_ids

    spec = next(s for s in SPECS if s.name == "strava_activities")
    run_silver_table(spark, s3_settings, spec, "s3")
    silver = read_table(spark, tables.ref("silver", "strava_activities"))
    assert sorted(r["activity_id"] for r in silver.select("activity_id").collect()) == expected_ids


def test_landing_zone_refuses_to_rewrite_a_file_on_s3(s3_settings: Settings) -> None:
    landing = LandingZone(open_store(s3_settings.landing_root, s3_settings.s3))
    first = landing.write_json_month("strava", "activities", "2024-05", "r1", [{"id": 1}])
    same = landing.write_json_month("strava", "activities", "2024-05", "r1", [{"id": 1}])
    assert (first.written, same.written) == (True, False)
    with pytest.raises(RuntimeError, match="immutable"):
        landing.write_json_month("strava", "activities", "2024-05", "r1", [{"id": 2}])


def test_race_telemetry_with_odd_headers_and_names_through_s3a(spark: SparkSession, s3_settings: Settings) -> None:
    """tests/race/odd_files.py on S3: first bytes by ranged GETs, names with spaces, `%`, `+` and glob characters
    read through s3a."""
    land_odd_files(s3_settings)

    loaded = load_telemetry(spark, s3_settings, run_id="s3")

    assert (loaded.files_loaded, loaded.rows_loaded, loaded.rows_quarantined) == (len(FILES), LOADED, QUARANTINED)
    assert_odd_files_read(spark, s3_settings)
