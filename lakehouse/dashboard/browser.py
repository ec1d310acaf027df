"""Start the dashboard and look at it in a real headless browser: every page opened, a chart found, a
screenshot saved. Used by the browser smoke test and the dashboard benchmark.

The browser is Debian's chromium (`/usr/bin/chromium`, installed by scripts/setup.sh) driven by Playwright;
Playwright's own browser download is never used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"
RUNNING = "[data-testid='stStatusWidget']"
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class PageShot:
    """What the browser saw on one page."""

    slug: str
    screenshot: Path
    charts: int
    exceptions: int
    seconds: float


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_dashboard(root: str, env_name: str | None = None, port: int | None = None) -> Iterator[str]:
    """`python -m jobs.dashboard --root ROOT` on a free loopback port; yields its base URL, then stops it."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "jobs.dashboard", "--root", root, "--port", str(port), "--address", "127.0.0.1"]
    if env_name:
        cmd += ["--env", env_name]
    env = {k: v for k, v in os.environ.items() if k not in ("LAKEHOUSE_TABLES_ROOT", "LAKEHOUSE_DASHBOARD_PASSWORD")}
    process = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {base}")
            time.sleep(0.5)
        yield base
    finally:
        # The launcher runs streamlit as its child: stop the whole process group it leads.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def screenshot_pages(base: str, slugs: Sequence[str], out_dirs: Sequence[Path], chart_slugs: set[str],
                     timeout_s: float = 90.0) -> list[PageShot]:
    """Open each page, wait for a Plotly chart where one is expected, save a full-page screenshot."""
    from playwright.sync_api import sync_playwright

    from lakehouse.dashboard.app import PAGES

    default_slug = PAGES[0].slug

    for folder in out_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            for slug in slugs:
                started = time.monotonic()
                path = "" if slug == default_slug else slug  # the default page lives at the root URL
                page.goto(f"{base}/{path}", wait_until="domcontentloaded")
                page.wait_for_selector("h1", timeout=timeout_s * 1000)
                if slug in chart_slugs:
                    page.wait_for_selector(CHART, timeout=timeout_s * 1000)
                # The script has finished when Streamlit's "running" widget is gone and stays gone for a second.
                for _ in range(int(timeout_s)):
                    page.wait_for_selector(RUNNING, state="detached", timeout=timeout_s * 1000)
                    page.wait_for_timeout(1000)
                    if page.locator(RUNNING).count() == 0:
                        break
                seconds = time.monotonic() - started
                first = out_dirs[0] / f"{slug}.png"
                page.screenshot(path=str(first), full_page=True)
                for folder in out_dirs[1:]:
                    (folder / first.name).write_bytes(first.read_bytes())
                shots.append(PageShot(slug, first, page.locator(CHART).count(),
                                      page.locator("[data-testid='stException']").count(), seconds))
        finally:
            browser.close()
    return shots
