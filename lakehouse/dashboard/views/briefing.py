"""Intelligence briefing: this week against the usual, streak status, load zone, anomalies and a
recommendation, every sentence with the numbers behind it."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from lakehouse.dashboard.briefing import weekly_briefing
from lakehouse.dashboard.common import Context, pick_person, sentence_with_numbers
from lakehouse.dashboard.data import for_person

WORKOUTS = ("silver", "workouts")
STREAKS = ("gold", "streaks")
LOAD = ("gold", "training_load_daily")
ANOMALIES = ("gold", "workout_anomalies")


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(WORKOUTS)
    workouts = lake.df(*WORKOUTS)
    person = pick_person(workouts)
    workouts = for_person(workouts, person)
    if workouts.empty:
        st.info("No workouts for this person yet.")
        return
    last = pd.Timestamp(workouts["workout_date"].max()).date()
    as_of = st.date_input("as of", value=last, key="briefing_as_of",
                          help="defaults to the day of the latest workout in the lakehouse")

    def optional(table: tuple[str, str]) -> pd.DataFrame | None:
        return for_person(lake.df(*table), person) if lake.exists(*table) else None

    sentences = weekly_briefing(as_of, workouts, optional(STREAKS), optional(LOAD), optional(ANOMALIES))
    monday = as_of - timedelta(days=as_of.weekday())
    st.subheader(f"Week of Monday {monday:%d %B %Y}, as of {as_of:%a %d %b}")
    for i, sentence in enumerate(sentences):
        sentence_with_numbers(sentence.text, sentence.numbers, key=f"briefing_{i}")
