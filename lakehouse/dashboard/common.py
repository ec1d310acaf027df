"""What every dashboard page shares: the settings and lake, the login gate, the person picker, messages."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from lakehouse.config import Settings, load_settings
from lakehouse.dashboard.data import Lake, MissingTablesError, load_hint, people, person_column

PASSWORD_ENV = "LAKEHOUSE_DASHBOARD_PASSWORD"
CHART_HEIGHT = 360


@dataclass(frozen=True)
class Context:
    """What a page needs: the settings and the lake to read."""

    settings: Settings
    lake: Lake


def context() -> Context:
    """Settings from conf/<env>.toml and the LAKEHOUSE_* variables (the launcher sets them)."""
    settings = load_settings()
    return Context(settings, Lake(settings))


def password_ok(given: str, expected: str) -> bool:
    """Constant-time comparison of a typed password with the configured one."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def login_gate() -> bool:
    """True when the visitor may see the pages: no password configured, or the right one typed."""
    expected = os.environ.get(PASSWORD_ENV)
    if not expected or st.session_state.get("authenticated"):
        return True
    box = st.empty()
    with box.container():
        st.title("Sign in")
        with st.form("login"):
            typed = st.text_input("Password", type="password")
            submitted = st.form_submit_button("Sign in")
        if submitted and not password_ok(typed, expected):
            st.error("Wrong password.")
    if submitted and password_ok(typed, expected):
        st.session_state["authenticated"] = True
        box.empty()  # the sign-in form goes; the page renders in this same run
        return True
    return False


def pick_person(frame: pd.DataFrame, label: str | None = None) -> Any:
    """A sidebar picker when `frame` holds several people; returns the chosen id (None: no person column)."""
    column = person_column(frame)
    choices = people(frame)
    if column is None or not choices:
        return None
    if len(choices) == 1:
        return choices[0]
    names = {"person_id": "Person", "athlete_id": "Athlete (Strava id)", "user_id": "Fitbit user"}
    return st.sidebar.selectbox(label or names[column], choices, key=f"person_{column}")


def show_missing(error: MissingTablesError) -> None:
    """The page's "what to load" message, one line per missing table."""
    st.info("This page has nothing to show yet.")
    for layer, name in error.missing:
        st.markdown(f"- `{layer}.{name}` is not there yet. Fill it with: `{load_hint(layer, name)}`")


def show_or_hint(table: tuple[str, str]) -> None:
    """One line saying a table is missing and what fills it (for a section of a page)."""
    st.caption(f"`{table[0]}.{table[1]}` is not there yet. Fill it with: `{load_hint(*table)}`")


def render_page(render: Callable[[Context], None], ctx: Context) -> None:
    """Run a page; tables it needs that are missing become the "what to load" message, never a trace."""
    try:
        render(ctx)
    except MissingTablesError as error:
        show_missing(error)


def plot(figure: Any, key: str | None = None) -> None:
    """A Plotly chart at full width."""
    figure.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(figure, key=key)


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates shown as dates: datetime columns whose values all fall on midnight lose the time."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values) and values.dt.tz is None:
            present = values.dropna()
            if len(present) and (present == present.dt.normalize()).all():
                out[column] = values.dt.date
    return out


def table(frame: pd.DataFrame, **kwargs: Any) -> None:
    """A data frame on the page, dates tidied, without the index."""
    st.dataframe(tidy(frame), hide_index=True, **kwargs)


def sentence_with_numbers(text: str, numbers: pd.DataFrame | dict[str, Any], key: str) -> None:
    """A sentence with the numbers behind it one click away."""
    st.markdown(f"- {text}")
    with st.expander("the numbers behind it", expanded=False):
        if isinstance(numbers, dict):
            numbers = pd.DataFrame([numbers])
        table(numbers, key=key)
