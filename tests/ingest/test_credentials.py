"""Secrets stay secret: token files are 0600 and outside the repository, and no token string reaches a log
line, a progress line, a report, the ledger or a landed file."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
from ingest_support import generate_activities

from lakehouse.config import REPO_ROOT
from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret, TokenFile, TokenSet, redact
from lakehouse.sources.errors import CredentialsError
from lakehouse.sources.fitbit import FitbitSettings, sync_fitbit
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.standins.fitbit import FitbitFaults, FitbitStandin
from lakehouse.standins.strava import StravaFaults, StravaStandin


def test_a_secret_never_prints_itself() -> None:
    secret = Secret("s3cr3t-value")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", repr({"token": secret})]
    assert all("s3cr3t-value" not in text for text in shown)
    assert secret.reveal() == "s3cr3t-value"
    assert redact("echo s3cr3t-value back", [secret, None]) == "echo *** back"


def test_the_token_file_is_written_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "strava-token.json"
    old_umask = os.umask(0)
    try:
        TokenFile(path).save(TokenSet(refresh_token=Secret("r1"), access_token=Secret("a1"), expires_at=1))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = TokenFile(path).load()
    assert loaded is not None and loaded.refresh_token == Secret("r1") and loaded.expires_at == 1


def test_a_loose_token_file_is_tightened_on_load(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps({"refresh_token": "r"}))
    path.chmod(0o644)
    TokenFile(path).load()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_token_file_inside_the_repository_is_refused() -> None:
    with pytest.raises(CredentialsError, match="inside the repository"):
        TokenFile(REPO_ROOT / "strava-token.json")


def test_settings_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "STRAVA_CLIENT_ID": "12345",
        "STRAVA_CLIENT_SECRET": "client-secret-value",
        "STRAVA_REFRESH_TOKEN": "refresh-value",
        "XDG_CONFIG_HOME": str(tmp_path),
        "STRAVA_FETCH_DETAILS": "1",
    }
    settings = StravaSettings.from_env(environ)
    assert settings.token_file == tmp_path / "fitness-lakehouse" / "strava-token.json"
    assert (
        settings.base_url == "https://www.strava.com"
        and settings.token_url == "https://www.strava.com/oauth/token"
    )
    assert settings.fetch_details and not settings.fetch_streams
    assert "client-secret-value" not in repr(settings) and "refresh-value" not in repr(settings)
    fitbit = FitbitSettings.from_env(
        {"FITBIT_CLIENT_ID": "23ABCD", "FITBIT_CLIENT_SECRET": "x", "FITBIT_RESOURCES": "heart,steps",
         "FITBIT_START_DATE": "2024-05-01", "FITBIT_TOKEN_FILE": str(tmp_path / "f.json")}
    )  # fmt: skip
    assert fitbit.resources == ("heart", "steps") and fitbit.start_date == date(2024, 5, 1)
    assert fitbit.token_url == "https://api.fitbit.com/oauth2/token"
    with pytest.raises(CredentialsError, match="STRAVA_CLIENT_SECRET"):
        StravaSettings.from_env({"STRAVA_CLIENT_ID": "1"})


def test_no_refresh_token_anywhere_fails_before_any_call(
    clock: ManualClock, landing: LandingZone, strava_settings: Callable[..., StravaSettings]
) -> None:
    with StravaStandin([], clock=clock) as standin:
        settings = strava_settings(standin, refresh_token=None)
        with pytest.raises(CredentialsError, match="STRAVA_REFRESH_TOKEN"):
            sync_strava(settings, landing, clock=clock, progress=None)
    assert standin.requests == []


def test_a_refused_stored_token_falls_back_to_a_newly_set_environment_token(
    clock: ManualClock, landing: LandingZone, strava_settings: Callable[..., StravaSettings]
) -> None:
    data = generate_activities(10, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    with StravaStandin(data, clock=clock) as standin:
        settings = strava_settings(standin)
        TokenFile(settings.token_file).save(TokenSet(refresh_token=Secret("stale-after-reauthorising")))
        report = sync_strava(settings, landing, clock=clock, progress=None)
        assert json.loads(settings.token_file.read_text())["refresh_token"] == standin.refresh_token
    assert report.completed, report.message


def test_strava_refusals_say_what_to_do(
    clock: ManualClock, landing: LandingZone, strava_settings: Callable[..., StravaSettings]
) -> None:
    with StravaStandin([], clock=clock) as standin:
        stale = sync_strava(
            strava_settings(standin, refresh_token=Secret("stale")), landing, clock=clock, progress=None
        )
        bad_client = sync_strava(
            strava_settings(standin, client_secret=Secret("wrong")),
            landing,
            clock=clock,
            progress=None,
            force=True,
        )
    assert stale.stopped_reason == "reauthorization_required"
    assert "re-authorise" in stale.message and "STRAVA_REFRESH_TOKEN" in stale.message
    assert "STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET" in bad_client.message


def test_no_token_appears_in_logs_progress_reports_ledger_or_landed_files(
    clock: ManualClock,
    landing: LandingZone,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    strava_settings: Callable[..., StravaSettings],
    fitbit_settings: Callable[..., FitbitSettings],
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's request lines included
    progress = StringIO()
    data = generate_activities(120, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
    texts: list[str] = []
    strava_faults = StravaFaults(expire_tokens_after_calls=2, server_error_pages={2: 1})
    with StravaStandin(data, clock=clock, faults=strava_faults) as strava:
        settings = strava_settings(strava, per_page=50, fetch_details=True, fetch_streams=True)
        texts.append(repr(settings))
        reports = [sync_strava(settings, landing, clock=clock, progress=progress)]
        stale = strava_settings(
            strava, refresh_token=Secret("stale-strava-refresh"), token_file=tmp_path / "s2.json"
        )
        reports.append(sync_strava(stale, landing, clock=clock, progress=progress, force=True))
        secrets = [*strava.issued_tokens, strava.client_secret, "stale-strava-refresh"]
    with FitbitStandin({}, clock=clock, faults=FitbitFaults(expire_tokens_after_calls=3)) as fitbit:
        settings_f = fitbit_settings(fitbit, resources=("steps", "heart"), start_date=date(2024, 5, 1))
        reports.append(
            sync_fitbit(settings_f, landing, clock=clock, progress=progress, today=date(2024, 5, 4))
        )
        stale_f = fitbit_settings(
            fitbit, refresh_token=Secret("stale-fitbit-refresh"), token_file=tmp_path / "f2.json"
        )
        reports.append(sync_fitbit(stale_f, landing, clock=clock, progress=progress, force=True))
        secrets += [*fitbit.issued_tokens, fitbit.client_secret, "stale-fitbit-refresh"]

    assert [r.stopped_reason for r in reports] == [
        "completed", "reauthorization_required", "completed", "reauthorization_required",
    ]  # fmt: skip
    texts += [caplog.text, progress.getvalue(), *(repr(r) for r in reports)]
    texts += [p.read_text(encoding="utf-8") for p in Path(landing.store.root).rglob("*") if p.is_file()]
    assert len(secrets) > 10 and caplog.text and any('"endpoint"' in t for t in texts)
    leaks = [(secret[:6] + "...", text[:60]) for secret in secrets for text in texts if secret in text]
    assert not leaks
