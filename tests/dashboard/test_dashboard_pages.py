"""Every page renders with Streamlit's AppTest: on the demo lakehouse (charts, no exception) and on an empty
one (the "what to load" message, no exception); the login gate; the SQL explorer refuses writes."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lakehouse.config import Settings
from lakehouse.dashboard.app import PAGES

SLUGS = [p.slug for p in PAGES]
TIMEOUT_S = 120


def page(slug: str) -> AppTest:
    """An AppTest running one page of the app, as the navigation would."""
    return AppTest.from_string(f"from lakehouse.dashboard.app import run_page\nrun_page({slug!r})",
                               default_timeout=TIMEOUT_S)


def charts(at: AppTest) -> list[object]:
    """The Plotly charts on the page."""
    return [e for e in at.get("plotly_chart")]


def texts(at: AppTest) -> str:
    """Every message and markdown text of the page, joined."""
    parts = [e.value for kind in ("info", "markdown", "caption", "warning", "error") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


# Pages with a chart on the demo lakehouse (the SQL explorer, the briefing and the race questions are tables
# and sentences; the models page shows tables).
WITH_CHARTS = {"overview", "kudos", "training-load", "era", "trends", "fitbit", "data-health", "tour"}


@pytest.mark.parametrize("slug", SLUGS)
def test_every_page_renders_on_the_demo_lakehouse(slug: str, demo_env: Settings) -> None:
    at = page(slug).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "nothing to show yet" not in texts(at)
    if slug in WITH_CHARTS:
        assert charts(at), f"{slug}: no chart"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_page_says_what_to_load_on_an_empty_lakehouse(slug: str, empty_env: Settings) -> None:
    at = page(slug).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "nothing to show yet" in shown
    assert "python -m jobs." in shown  # the command that fills the missing tables
    assert not charts(at)


def test_the_password_gate(demo_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_DASHBOARD_PASSWORD", "s3cret-horse")
    at = page("overview").run()
    assert not charts(at) and at.text_input
    at.text_input[0].input("wrong")  # typed into the form, then the form submitted
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error)
    assert not charts(at)
    at.text_input[0].input("s3cret-horse")
    at.button[0].click().run()
    assert not at.exception and not at.error and not at.text_input
    assert charts(at)
    assert charts(at.run())  # still signed in on the next run


def test_the_sql_explorer_runs_a_select_and_refuses_a_write(demo_env: Settings) -> None:
    at = page("sql").run()
    at.text_area(key="sql_query").input("SELECT count(*) AS n FROM streaks").run()
    assert not at.error
    assert at.dataframe[0].value["n"].iloc[0] > 0
    at.text_area(key="sql_query").input("DELETE FROM streaks").run()
    assert any("read-only" in e.value for e in at.error)
    at.text_area(key="sql_query").input("SELECT count(*) AS n FROM streaks").run()
    assert at.dataframe[0].value["n"].iloc[0] > 0  # nothing was deleted
