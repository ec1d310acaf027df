"""The dashboard's fixtures: the demo lakehouse (built once, shared with tests/e2e) and an empty one, each
exposed to the app through the same LAKEHOUSE_* variables the launcher sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.config import Settings
from lakehouse.dashboard.data import Lake, clear_cache
from tests.conftest import DemoLakehouse


@pytest.fixture
def demo_env(demo_lakehouse: DemoLakehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The app pointed at the demo lakehouse (`test` env settings)."""
    monkeypatch.setenv("LAKEHOUSE_ENV", "test")
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(demo_lakehouse.root))
    monkeypatch.delenv("LAKEHOUSE_TABLES_ROOT", raising=False)
    monkeypatch.delenv("LAKEHOUSE_DASHBOARD_PASSWORD", raising=False)
    yield demo_lakehouse.settings
    clear_cache()


@pytest.fixture
def empty_env(tmp_path: Path, base_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The app pointed at a lakehouse with no tables at all."""
    monkeypatch.setenv("LAKEHOUSE_ENV", "test")
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path))
    monkeypatch.delenv("LAKEHOUSE_TABLES_ROOT", raising=False)
    monkeypatch.delenv("LAKEHOUSE_DASHBOARD_PASSWORD", raising=False)
    yield base_settings.with_roots(str(tmp_path / "landing"), str(tmp_path / "tables"))
    clear_cache()


@pytest.fixture
def demo_lake(demo_lakehouse: DemoLakehouse) -> Lake:
    """The demo lakehouse for reading."""
    return Lake(demo_lakehouse.settings)
