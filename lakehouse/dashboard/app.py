"""The dashboard's Streamlit app: `streamlit run lakehouse/dashboard/app.py` (or `python -m jobs.dashboard`).

Each page is a function `render(ctx)` in `lakehouse/dashboard/views/`; `st.navigation` lists them, and
`run_page(slug)` renders one alone (Streamlit's AppTest uses it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from lakehouse.dashboard.common import Context, context, login_gate, render_page
from lakehouse.dashboard.views import (
    briefing,
    data_health,
    era,
    fitbit,
    kudos,
    models,
    overview,
    race_questions,
    sql_explorer,
    tour,
    training_load,
    trends,
)


@dataclass(frozen=True)
class PageSpec:
    """One page: its URL path, title, icon and render function."""

    slug: str
    title: str
    icon: str
    render: Callable[[Context], None]


PAGES = (
    PageSpec("overview", "Overview", ":material/dashboard:", overview.render),
    PageSpec("kudos", "Kudos", ":material/thumb_up:", kudos.render),
    PageSpec("training-load", "Training load", ":material/monitor_heart:", training_load.render),
    PageSpec("era", "The era story", ":material/pets:", era.render),
    PageSpec("trends", "Trends and forecast", ":material/trending_up:", trends.render),
    PageSpec("briefing", "Intelligence briefing", ":material/summarize:", briefing.render),
    PageSpec("models", "Models and transparency", ":material/model_training:", models.render),
    PageSpec("fitbit", "Fitbit", ":material/favorite:", fitbit.render),
    PageSpec("data-health", "Data health", ":material/health_and_safety:", data_health.render),
    PageSpec("sql", "SQL explorer", ":material/terminal:", sql_explorer.render),
    PageSpec("tour", "The Tour", ":material/directions_bike:", tour.render),
    PageSpec("race-questions", "Race questions", ":material/quiz:", race_questions.render),
)
BY_SLUG = {page.slug: page for page in PAGES}


def _page_function(page: PageSpec, ctx: Context) -> Callable[[], None]:
    def show() -> None:
        st.title(page.title)
        render_page(page.render, ctx)

    show.__name__ = page.slug.replace("-", "_")
    return show


def run_page(slug: str) -> None:
    """Render the one page `slug` (with the login gate): what AppTest drives."""
    st.set_page_config(page_title=f"{BY_SLUG[slug].title} - lakehouse", layout="wide")
    if not login_gate():
        return
    _page_function(BY_SLUG[slug], context())()


def main() -> None:
    """The multipage app."""
    st.set_page_config(page_title="Fitness lakehouse", layout="wide")
    if not login_gate():
        return
    ctx = context()
    st.sidebar.caption(f"tables: `{ctx.settings.tables_root}`")
    navigation = st.navigation(
        [st.Page(_page_function(p, ctx), title=p.title, icon=p.icon, url_path=p.slug, default=i == 0)
         for i, p in enumerate(PAGES)]
    )
    navigation.run()


if __name__ == "__main__":
    main()
