"""Fixtures for the ingestion tests: a manual clock, a local landing zone, settings for the stand-ins.

Pure Python, no Spark. Nothing sleeps for real except the stand-ins' deliberately slow answers (0.3 s at
most, cut short by a 0.1 s client timeout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ingest_support import START_OF_TESTS, TEST_HTTP

from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret
from lakehouse.sources.fitbit import FitbitSettings
from lakehouse.sources.strava import StravaSettings
from lakehouse.storage import LocalStore
from lakehouse_demo.standins.fitbit import FitbitStandin
from lakehouse_demo.standins.strava import StravaStandin


@pytest.fixture
def clock() -> ManualClock:
    """A clock shared by the stand-ins and the clients; sleeping moves it."""
    return ManualClock(START_OF_TESTS)


@pytest.fixture
def landing(tmp_path: Path) -> LandingZone:
    """A landing zone in a temporary folder."""
    return LandingZone(LocalStore(str(tmp_path / "landing")))


@pytest.fixture
def token_dir(tmp_path: Path) -> Path:
    """Where token files go (outside the repository)."""
    return tmp_path / "config"


@pytest.fixture
def strava_settings(token_dir: Path) -> Callable[..., StravaSettings]:
    """Settings pointing at a stand-in, fast retries; keyword overrides apply."""

    def make(standin: StravaStandin, **overrides: Any) -> StravaSettings:
        settings = StravaSettings(
            client_id=standin.client_id,
            client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token),
            token_file=token_dir / "strava-token.json",
            base_url=standin.base_url,
            http=TEST_HTTP,
        )
        return replace(settings, **overrides)

    return make


@pytest.fixture
def fitbit_settings(token_dir: Path) -> Callable[..., FitbitSettings]:
    """Settings pointing at a Fitbit stand-in, fast retries; keyword overrides apply."""

    def make(standin: FitbitStandin, **overrides: Any) -> FitbitSettings:
        settings = FitbitSettings(
            client_id=standin.client_id,
            client_secret=Secret(standin.client_secret),
            refresh_token=Secret(standin.refresh_token),
            token_file=token_dir / "fitbit-token.json",
            base_url=standin.base_url,
            http=TEST_HTTP,
        )
        return replace(settings, **overrides)

    return make
