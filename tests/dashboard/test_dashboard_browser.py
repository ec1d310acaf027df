"""Smoke test in a real headless browser (Debian's chromium through Playwright): the dashboard started as a
user starts it, every page opened, a chart found where the page has one, a screenshot saved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakehouse.dashboard.app import PAGES
from lakehouse.dashboard.browser import CHROMIUM, running_dashboard, screenshot_pages
from tests.conftest import DemoLakehouse
from tests.dashboard.test_dashboard_pages import WITH_CHARTS

pytest.importorskip("playwright")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: scripts/setup.sh installs Debian's chromium")


def test_every_page_opens_in_chromium_with_its_chart(demo_lakehouse: DemoLakehouse, tmp_path: Path) -> None:
    out = [tmp_path / "screenshots"]
    if os.environ.get("DASHBOARD_SCREENSHOTS"):
        out.append(Path(os.environ["DASHBOARD_SCREENSHOTS"]))
    with running_dashboard(str(demo_lakehouse.root), env_name="test") as base:
        shots = screenshot_pages(base, [p.slug for p in PAGES], out, WITH_CHARTS)
    assert [s.slug for s in shots] == [p.slug for p in PAGES]
    for shot in shots:
        assert shot.screenshot.stat().st_size > 10_000, shot.slug
        assert shot.exceptions == 0, shot.slug
        if shot.slug in WITH_CHARTS:
            assert shot.charts >= 1, shot.slug
