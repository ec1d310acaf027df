"""Kudos (seed 000): weekly kudos change by sport, kudos over time and by place, the kudos model's
predicted vs actual, and its held-out error against the naive baseline across retrains."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, plot, show_or_hint, table
from lakehouse.dashboard.data import for_person

WEEKLY = ("gold", "kudos_weekly")
ACTIVITIES = ("silver", "strava_activities")
PREDICTIONS = ("gold", "kudos_predictions")
RUNS = ("ops", "kudos_model_runs")


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(WEEKLY)
    weekly = lake.df(*WEEKLY)
    person = pick_person(weekly)
    weekly = for_person(weekly, person).sort_values("week_start")
    sports = sorted(weekly["sport_type"].unique().tolist())
    chosen = st.multiselect("sports", sports, default=sports, key="kudos_sports")
    weekly = weekly[weekly["sport_type"].isin(chosen)]

    last_week = weekly["week_start"].max()
    latest = weekly[weekly["week_start"] == last_week]
    cols = st.columns(max(1, min(4, len(latest))))
    for col, (_, row) in zip(cols, latest.head(4).iterrows(), strict=False):
        change = row["kudos_change_pct"]
        col.metric(f"{row['sport_type']}, week of {last_week:%d %b %Y}", int(row["kudos"]),
                   None if change != change else f"{change:+.0f} % vs the week before")
    plot(px.bar(weekly, x="week_start", y="kudos_change_pct", color="sport_type", barmode="group",
                title="weekly kudos change from the week before (%)"), "kudos_change")
    plot(px.line(weekly, x="week_start", y="kudos", color="sport_type", title="kudos per week"), "kudos_weekly")

    if lake.exists(*ACTIVITIES):
        activities = for_person(lake.df(*ACTIVITIES), person).dropna(subset=["start_lat", "start_lng"])
        activities = activities[activities["sport_type"].isin(chosen)]
        if len(activities):
            st.subheader("Kudos by place")
            on_tiles = st.toggle("on a street map (loads map tiles from the internet)", key="kudos_tiles")
            if on_tiles:
                figure = px.scatter_map(activities, lat="start_lat", lon="start_lng", size="kudos_count",
                                        color="sport_type", hover_data=["activity_date"], zoom=10)
            else:
                figure = px.scatter(activities, x="start_lng", y="start_lat", size="kudos_count", color="sport_type",
                                    hover_data=["activity_date", "kudos_count"])
                figure.update_yaxes(scaleanchor="x")
            figure.update_layout(title="activity starts, sized by kudos")
            plot(figure, "kudos_map")

    st.subheader("The kudos model")
    if lake.exists(*PREDICTIONS):
        predictions = for_person(lake.df(*PREDICTIONS), person)
        figure = px.scatter(predictions, x="actual_kudos", y="predicted_kudos", color="split", opacity=0.6,
                            title="predicted vs actual kudos per activity")
        top = float(max(predictions["actual_kudos"].max(), predictions["predicted_kudos"].max(), 1))
        figure.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect", line={"dash": "dot"}))
        plot(figure, "kudos_pred")
    else:
        show_or_hint(PREDICTIONS)
    if lake.exists(*RUNS):
        runs = lake.df(*RUNS).sort_values("trained_at")
        if len(runs):
            long = runs.melt(id_vars=["trained_at", "model_version"], value_vars=["mae", "baseline_mae"],
                             var_name="error", value_name="held-out MAE")
            plot(px.line(long, x="trained_at", y="held-out MAE", color="error", markers=True,
                         title="held-out MAE of each retrain vs the naive baseline"), "kudos_runs")
            table(runs)
