"""Shared fixtures: one Delta-enabled SparkSession per test process (one per pytest-xdist worker, one for the
whole run with `-n 0`), and per-test lakehouse settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse.config import Settings, load_settings
from lakehouse.landing import LandingZone
from lakehouse.metastore import local_metastore, stop_server
from lakehouse.spark import get_spark
from lakehouse.storage import LocalStore

# Session fixtures that build a lakehouse (minutes): every test that uses one runs on the worker that built it.
SHARED_BUILDS = {"demo_lakehouse": "demo-lakehouse", "race_template": "race-template", "baseline": "reliability"}
# The groups that take longest, with their seconds in the whole suite on 2 cores (setup and calls summed; a
# timeline of `CI=true pytest` on 2026-12-06, 3,300 s in all). They are handed out first, longest first, and the
# many short groups fill in after, so both workers end near the same time: pytest-xdist's own order (most
# tests first) started a 173 s one-test module in the last five minutes. A group not listed counts a second a
# test; a stale figure only costs balance, never a test. `bench/suite_timeline.py` measures them again.
LONG_GROUPS = {
    "race-template": 729, "demo-lakehouse": 632, "reliability": 446, "tests/hostile/test_hostile_corpus.py": 223,
    "tests/hostile/test_secrets.py": 173, "tests/e2e/test_any_sources.py": 125, "tests/ops/test_sql_server.py": 104,
    "tests/integration/test_bronze_loader.py": 86, "tests/ops/test_table_names.py": 74,
    "tests/integration/test_google_health_silver.py": 66, "tests/quality/test_quality_checks.py": 62,
    "tests/integration/test_s3_end_to_end.py": 51, "tests/integration/test_silver_derived.py": 48,
    "tests/integration/test_strava_archive_silver.py": 48,
}  # fmt: skip


def group_of(item: pytest.Item) -> str:
    """The pytest-xdist group of a test: the shared lakehouse it uses (`SHARED_BUILDS`), else its module."""
    names = getattr(item, "fixturenames", ())
    shared = [group for fixture, group in SHARED_BUILDS.items() if fixture in names]
    return shared[0] if shared else item.nodeid.split("::", 1)[0]


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items` with whole groups in order of their expected seconds (`LONG_GROUPS`, else one a test), longest
    first; within a group, and between groups expected to take as long, the collection's order."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(group_of(item), []).append(item)
    ranked = sorted(groups.items(), key=lambda group: -LONG_GROUPS.get(group[0], len(group[1])))  # stable
    return [item for _, members in ranked for item in members]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`-n auto --dist loadgroup --no-loadscope-reorder`, the default: see pyproject.toml) a
    worker takes whole groups: a test module (its module fixtures are built once), or every test that uses one
    of the session's shared lakehouses (`SHARED_BUILDS`), in file order, so that lakehouse is built once and the
    tests that add data to it run after the ones that read it as built. The groups are queued longest first
    (`longest_first`); pytest-xdist hands them out in that order."""
    items[:] = longest_first(items)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The `test` environment, rooted in a temporary folder."""
    root = tmp_path_factory.mktemp("lake")
    return load_settings("test", environ={"LAKEHOUSE_ROOT": str(root)})


@pytest.fixture(scope="session")
def spark(base_settings: Settings) -> Iterator[SparkSession]:
    """One SparkSession for the whole test run (per xdist worker): Delta enabled, 2 shuffle partitions, UI off;
    table names in the run's own local metastore (a Derby server started on demand, stopped at the end)."""
    session = get_spark(base_settings)
    yield session
    session.stop()
    stop_server(local_metastore(base_settings))


@pytest.fixture(autouse=True, scope="module")
def fresh_caches() -> Iterator[None]:
    """After each test module, let go of Delta's cached table logs (a few MB per table, kept for an hour) and
    Spark's cached frames: one session runs hundreds of tests' lakehouses, and without this the driver's heap
    fills up and the late tests crawl through full garbage collections."""
    yield
    session = SparkSession.getActiveSession()
    if session is not None:
        session.catalog.clearCache()
        session._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # type: ignore[union-attr]


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose landing zone and tables live in this test's own temporary folder."""
    return base_settings.with_roots(str(tmp_path / "landing"), str(tmp_path / "tables"))


@pytest.fixture
def landing(settings: Settings) -> LandingZone:
    """The landing zone of this test."""
    return LandingZone(LocalStore(settings.landing_root))


@dataclass(frozen=True)
class DemoLakehouse:
    """The main job's lakehouse on the `test` sample: its settings, root and the first run's summary rows."""

    settings: Settings
    root: Path
    rows: list[Any]


@pytest.fixture(scope="session")
def demo_lakehouse(
    spark: SparkSession, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> DemoLakehouse:
    """The main job (land the sample, bronze, silver, gold, the small race) built once per test run.

    Shared by the end-to-end tests and the dashboard's tests. Users that change it (the e2e incremental test)
    only add data; tests that must change models or tables work on a copy.
    """
    from jobs.pipeline import STAGES, run

    # A developer's shortcut for the dashboard tests: an existing `test` env build
    # (LAKEHOUSE_ENV=test LAKEHOUSE_ROOT=DIR python -m jobs.pipeline). No summary rows: not for tests/e2e.
    prebuilt = os.environ.get("LAKEHOUSE_TEST_DEMO_ROOT")
    if prebuilt:
        root = Path(prebuilt)
        return DemoLakehouse(base_settings.with_roots(str(root / "landing"), str(root / "tables")), root, [])
    root = tmp_path_factory.mktemp("demo-lake")
    settings = base_settings.with_roots(str(root / "landing"), str(root / "tables"))
    return DemoLakehouse(settings, root, run(settings, STAGES, spark=spark))
