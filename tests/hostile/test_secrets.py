"""No credential leaks anywhere: logs, landing files, tables, exception texts, the Spark event log (issue 13, 8).

Every API source runs against its stand-in with recognisable fake credentials (`SECRET-...`), the tokens the
stand-ins issue on top, and a webhook URL whose path is the secret. The main job (`jobs.run`: ingest ->
bronze -> silver) runs as its own process with Spark's event log on (Spark's own `spark-defaults.conf` in a
`SPARK_CONF_DIR`), and its webhook answers 500, so the warning path runs too. The error paths of each
client run in this process: a server that keeps failing, a refused client secret, the legacy Fitbit API's
410. Then every file under the lakehouse root, the log folder and the event log folder, every row of every
Delta table, the job's stdout and stderr, the captured logs and every exception text are searched for each
secret, as it is and URL-encoded, base64-encoded, and as the HTTP Basic `id:secret` pair.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import sys
import traceback
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config import REPO_ROOT, Settings
from lakehouse.landing import LandingZone
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.sources.credentials import Secret
from lakehouse.sources.fitbit import FitbitSettings, sync_fitbit
from lakehouse.sources.google_health import GoogleHealthSettings, sync_google_health
from lakehouse.sources.http import HttpSettings
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.storage import LocalStore
from lakehouse_demo.standins._server import Reply, Request, StandinServer
from lakehouse_demo.standins.fitbit import ALWAYS, FitbitFaults, FitbitStandin
from lakehouse_demo.standins.google_health import GoogleHealthFaults, GoogleHealthStandin, demo_points
from lakehouse_demo.standins.strava import StravaFaults, StravaStandin

STRAVA_ID, STRAVA_SECRET, STRAVA_REFRESH = "4242", "SECRET-strava-client-9f8e7d", "SECRET-strava-refresh-6c5b4a"
GOOGLE_ID = "777-hostile.apps.googleusercontent.com"
GOOGLE_SECRET, GOOGLE_REFRESH = "SECRET-google-client-3e2d1c", "1//SECRET-google-refresh-0a9b8c"
FITBIT_ID, FITBIT_SECRET, FITBIT_REFRESH = "23HOST", "SECRET-fitbit-client-7f6e5d", "SECRET-fitbit-refresh-4d3c2b"
WEBHOOK_TOKEN = "SECRET-webhook-2b1a0f"
WRONG_SECRET = "SECRET-strava-wrong-client-1c2d3e"
FAST_HTTP = HttpSettings(connect_timeout=2.0, read_timeout=10.0, max_retries=1, backoff_factor=0.001, trust_env=False)
JOB_TIMEOUT_S = 1800  # a Spark job of its own; on a machine shared by several Spark runs it is slow


class Webhook(StandinServer):
    """A webhook receiver that answers 500: the job must warn without printing the URL."""

    def __init__(self) -> None:
        super().__init__()
        self.posts = 0

    def handle(self, request: Request) -> Reply:
        self.posts += 1
        return Reply(500, b"receiver down")


def activities(count: int) -> list[dict[str, Any]]:
    """A few recent SummaryActivities of one athlete."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    return [
        {
            "id": 9_100_000 + i, "athlete": {"id": 4_242_000}, "name": f"Run {i}", "distance": 5000.0 + i,
            "moving_time": 1500, "elapsed_time": 1550, "type": "Run", "sport_type": "Run",
            "start_date": (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_date_local": (start + timedelta(hours=i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kudos_count": i,
        }
        for i in range(count)
    ]  # fmt: skip


def forms(secret: str, client_id: str | None = None) -> list[str]:
    """The secret as it is, URL-encoded, base64-encoded, and as the HTTP Basic pair with its client id."""
    out = {secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode()}
    if client_id:
        out.add(base64.b64encode(f"{client_id}:{secret}".encode()).decode())
    return sorted(out)


def file_texts(*folders: Path) -> dict[str, str]:
    """Every file under the folders, decoded leniently (binary files too: a secret in them is still bytes)."""
    return {
        str(path): path.read_bytes().decode("utf-8", errors="replace")
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def table_texts(spark: SparkSession, tables_root: Path) -> dict[str, str]:
    """Every row of every Delta table as JSON lines (Parquet pages are compressed: grep alone would miss)."""
    out = {}
    for log in sorted(tables_root.rglob("_delta_log")):
        table = log.parent
        df = spark.read.format("delta").load(str(table))
        rows = [r[0] for r in df.select(F.to_json(F.struct("*"))).collect()]
        out[f"table {table.relative_to(tables_root)}"] = "\n".join(rows)
    return out


def failure_texts(exc: BaseException) -> list[str]:
    """What an exception can show: its text, repr and full traceback (with its causes)."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def run_error_paths(tmp: Path, landing: LandingZone, texts: dict[str, str]) -> list[str]:
    """Each client's failures in this process; returns the tokens the stand-ins issued."""
    issued: list[str] = []
    progress = StringIO()
    config = tmp / "config-errors"

    def attempt(name: str, call: Any) -> None:
        try:
            texts[f"{name} report"] = repr(call())
        except Exception as exc:  # the failure's own text is what is searched
            texts[f"{name} exception"] = "\n".join(failure_texts(exc))

    failing = StravaFaults(server_error_pages={1: ALWAYS}, server_error_status=500)
    with StravaStandin(activities(3), client_id=STRAVA_ID, client_secret=STRAVA_SECRET,
                       refresh_token=STRAVA_REFRESH, faults=failing) as strava:  # fmt: skip
        settings = StravaSettings(STRAVA_ID, Secret(STRAVA_SECRET), Secret(STRAVA_REFRESH),
                                  config / "strava.json", base_url=strava.base_url, http=FAST_HTTP)  # fmt: skip
        texts["strava settings"] = repr(settings) + str(settings)
        attempt("strava 500s", lambda: sync_strava(settings, landing, progress=progress))
        wrong = StravaSettings(STRAVA_ID, Secret(WRONG_SECRET), Secret(STRAVA_REFRESH), config / "strava-2.json",
                               base_url=strava.base_url, http=FAST_HTTP)  # fmt: skip
        attempt("strava refused client", lambda: sync_strava(wrong, landing, progress=progress))
        issued += strava.issued_tokens
    google_faults = GoogleHealthFaults(server_error_pages={("steps", 0): ALWAYS})
    first = date.today() - timedelta(days=1)
    with GoogleHealthStandin(demo_points(first, 1), client_id=GOOGLE_ID, client_secret=GOOGLE_SECRET,
                             refresh_token=GOOGLE_REFRESH, faults=google_faults) as google:  # fmt: skip
        settings_g = GoogleHealthSettings(
            GOOGLE_ID, Secret(GOOGLE_SECRET), Secret(GOOGLE_REFRESH), config / "google.json", user_id="ana",
            base_url=google.base_url, token_url=google.token_url, start_date=first, http=FAST_HTTP,
        )
        texts["google settings"] = repr(settings_g) + str(settings_g)
        attempt("google 503s", lambda: sync_google_health(settings_g, landing, progress=progress))
        issued += google.issued_tokens
    with FitbitStandin({}, client_id=FITBIT_ID, client_secret=FITBIT_SECRET, refresh_token=FITBIT_REFRESH,
                       faults=FitbitFaults(gone=True)) as fitbit:  # fmt: skip
        settings_f = FitbitSettings(FITBIT_ID, Secret(FITBIT_SECRET), Secret(FITBIT_REFRESH), config / "fitbit.json",
                                    base_url=fitbit.base_url, start_date=first, http=FAST_HTTP)  # fmt: skip
        texts["fitbit settings"] = repr(settings_f) + str(settings_f)
        attempt("fitbit 410", lambda: sync_fitbit(settings_f, landing, progress=progress))
        issued += fitbit.issued_tokens
    texts["error-path progress"] = progress.getvalue()
    return issued


def run_job(tmp: Path, settings: Settings, strava: StravaStandin, google: GoogleHealthStandin,
            hook: Webhook) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`python -m jobs.run --stages ingest,bronze,silver` with the fake credentials and the event log on."""
    spark_conf = tmp / "spark-conf"
    spark_conf.mkdir()
    (spark_conf / "spark-defaults.conf").write_text(
        # Uncompressed (Spark 4 compresses event logs with zstd by default): the same events, searchable.
        f"spark.eventLog.enabled true\nspark.eventLog.dir {(tmp / 'events').as_uri()}\n"
        "spark.eventLog.compress false\n",
        encoding="utf-8",
    )
    (tmp / "events").mkdir()
    env = {
        **os.environ,
        "LAKEHOUSE_ENV": "test",
        "LAKEHOUSE_LANDING_ROOT": settings.landing_root,
        "LAKEHOUSE_TABLES_ROOT": settings.tables_root,
        "LAKEHOUSE_LOG_DIR": str(tmp / "logs"),
        "SPARK_CONF_DIR": str(spark_conf),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "STRAVA_CLIENT_ID": STRAVA_ID, "STRAVA_CLIENT_SECRET": STRAVA_SECRET, "STRAVA_REFRESH_TOKEN": STRAVA_REFRESH,
        "STRAVA_BASE_URL": strava.base_url, "STRAVA_FETCH_STREAMS": "1",
        "GOOGLE_HEALTH_CLIENT_ID": GOOGLE_ID, "GOOGLE_HEALTH_CLIENT_SECRET": GOOGLE_SECRET,
        "GOOGLE_HEALTH_REFRESH_TOKEN": GOOGLE_REFRESH, "GOOGLE_HEALTH_BASE_URL": google.base_url,
        "GOOGLE_HEALTH_TOKEN_URL": google.token_url,
        "GOOGLE_HEALTH_START_DATE": (date.today() - timedelta(days=1)).isoformat(),
        "LAKEHOUSE_WEBHOOK_URL": f"{hook.base_url}/services/T0/B0/{WEBHOOK_TOKEN}",
    }  # fmt: skip
    command = [sys.executable, "-m", "jobs.run", "--stages", "ingest,bronze,silver"]
    # Its own process group: on a timeout the job and its JVM are stopped together.
    with subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as job:  # fmt: skip
        try:
            out, err = job.communicate(timeout=JOB_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            out, err = job.communicate()
            raise AssertionError(f"jobs.run did not finish in {JOB_TIMEOUT_S}s: {err[-2000:]}") from None
    return subprocess.CompletedProcess(command, job.returncode, out, err)


@pytest.mark.e2e
def test_no_secret_in_files_tables_logs_event_log_or_errors(
    spark: SparkSession, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's request lines included
    logging.getLogger("py4j").setLevel(logging.WARNING)  # not the gateway's chatter
    texts: dict[str, str] = {}
    landing_errors = LandingZone(LocalStore(str(tmp_path / "landing-errors")))
    issued = run_error_paths(tmp_path, landing_errors, texts)

    first = date.today() - timedelta(days=1)
    with (
        StravaStandin(activities(3), client_id=STRAVA_ID, client_secret=STRAVA_SECRET,
                      refresh_token=STRAVA_REFRESH) as strava,
        GoogleHealthStandin(demo_points(first, 1), client_id=GOOGLE_ID, client_secret=GOOGLE_SECRET,
                            refresh_token=GOOGLE_REFRESH) as google,
        Webhook() as hook,
    ):  # fmt: skip
        try:
            job = run_job(tmp_path, settings, strava, google, hook)
        finally:
            stop_server(local_metastore(settings))
        issued += strava.issued_tokens + google.issued_tokens
        posts = hook.posts
    texts |= {"job stdout": job.stdout, "job stderr": job.stderr, "captured logs": caplog.text}

    # The run did what it should: data from both APIs in silver, the webhook tried, the event log written.
    assert job.returncode == 0, job.stderr[-3000:]
    assert "silver.strava_activities" in job.stdout and "silver.fitbit_intraday" in job.stdout, job.stdout
    assert posts >= 1 and "quality webhook to 127.0.0.1" in job.stdout + job.stderr + "".join(
        file_texts(tmp_path / "logs").values()
    )
    events = file_texts(tmp_path / "events")
    assert events and any("SparkListenerApplicationStart" in t for t in events.values())
    for failure in ("strava 500s", "strava refused client", "google 503s", "fitbit 410"):
        assert any(k.startswith(failure) for k in texts), failure
    assert "410" in texts.get("fitbit 410 exception", texts.get("fitbit 410 report", ""))

    texts |= file_texts(tmp_path / "landing", tmp_path / "landing-errors", tmp_path / "tables",
                        tmp_path / "logs", tmp_path / "events")  # fmt: skip
    texts |= table_texts(spark, tmp_path / "tables")
    assert any(k.startswith("table ") and "9100001" in t for k, t in texts.items())  # the rows were searched

    secrets = [*forms(STRAVA_SECRET, STRAVA_ID), *forms(STRAVA_REFRESH), *forms(WRONG_SECRET, STRAVA_ID),
               *forms(GOOGLE_SECRET, GOOGLE_ID), *forms(GOOGLE_REFRESH), *forms(FITBIT_SECRET, FITBIT_ID),
               *forms(FITBIT_REFRESH), *forms(WEBHOOK_TOKEN)]  # fmt: skip
    secrets += [form for token in issued for form in forms(token)]
    assert len(issued) >= 4
    leaks = sorted({(secret[:14] + "...", where) for secret in secrets for where, text in texts.items()
                    if secret in text})  # fmt: skip
    assert not leaks
