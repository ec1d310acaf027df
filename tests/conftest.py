"""Shared fixtures: one Delta-enabled SparkSession for the whole run, and per-test lakehouse settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config import Settings, load_settings
from lakehouse.landing import LandingZone
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.spark import get_spark
from lakehouse.storage import LocalStore


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The `test` environment, rooted in a temporary folder."""
    root = tmp_path_factory.mktemp("lake")
    return load_settings("test", environ={"LAKEHOUSE_ROOT": str(root)})


@pytest.fixture(scope="session")
def spark(base_settings: Settings) -> Iterator[SparkSession]:
    """One SparkSession for the whole test run: Delta enabled, 2 shuffle partitions, UI off; table names in the
    run's own local metastore (a Derby server started on demand, stopped at the end)."""
    session = get_spark(base_settings)
    yield session
    session.stop()
    stop_server(local_metastore(base_settings))


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose landing zone and tables live in this test's own temporary folder."""
    return base_settings.with_roots(str(tmp_path / "landing"), str(tmp_path / "tables"))


@pytest.fixture
def landing(settings: Settings) -> LandingZone:
    """The landing zone of this test."""
    return LandingZone(LocalStore(settings.landing_root))
