"""The era story (seed 002, "the Choco effect"): monthly frequency coloured before/after the event date,
pace over time showing the two clusters, the event marker, before/after cards, the classification mix and
sample classifications with their confidence."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, plot, table
from lakehouse.dashboard.data import for_person

TRENDS = ("gold", "trends_monthly")
LABELS = ("gold", "workout_classification")
BEFORE_AFTER = ("gold", "before_after")
METRIC_NAMES = {"workouts_per_month": "workouts per month", "mean_distance_m": "mean distance (m)",
                "mean_pace_min_per_km": "mean pace (min/km)"}


def _mark_event(figure, event: pd.Timestamp) -> None:
    figure.add_vline(x=event.timestamp() * 1000, line_dash="dash", line_color="black")
    figure.add_annotation(x=event, y=1, yref="paper", text="event", showarrow=False, yshift=10)


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(TRENDS, LABELS)
    event = pd.Timestamp(ctx.settings.analytics.event_date)
    trends = lake.df(*TRENDS)
    person = pick_person(trends)
    trends = for_person(trends, person)
    if "event_date" in (before_after := lake.df(*BEFORE_AFTER) if lake.exists(*BEFORE_AFTER) else pd.DataFrame()):
        dates = for_person(before_after, person)["event_date"].dropna()
        event = pd.Timestamp(dates.iloc[0]) if len(dates) else event
    st.caption(f"event date: {event:%d %B %Y} (`[analytics] event_date` in the settings)")

    monthly = trends.groupby("month", as_index=False)["workouts"].sum()
    monthly["era"] = monthly["month"].map(lambda m: "after" if m >= event else "before")
    figure = px.bar(monthly, x="month", y="workouts", color="era", title="workouts per month, before and after",
                    color_discrete_map={"before": "#1565c0", "after": "#ef6c00"})
    _mark_event(figure, event)
    plot(figure, "era_frequency")

    labels = for_person(lake.df(*LABELS), person)
    labels["pace_min_per_km"] = labels["pace_min_per_mile"] / 1.609344
    figure = px.scatter(labels, x="workout_date", y="pace_min_per_km", color="label", opacity=0.7,
                        hover_data=["workout_id", "confidence", "method"],
                        title="pace of every on-foot workout (min/km): two clusters appear")
    _mark_event(figure, event)
    plot(figure, "era_pace")

    if len(before_after):
        before_after = for_person(before_after, person)
        st.subheader("Before and after")
        shown = before_after[before_after["metric"].isin(METRIC_NAMES)]
        cols = st.columns(max(1, min(4, len(shown))))
        for i, (_, row) in enumerate(shown.sort_values(["sport", "metric"]).iterrows()):
            change = row.get("change_factor")
            cols[i % len(cols)].metric(
                f"{row['sport']}: {METRIC_NAMES[row['metric']]}",
                f"{row['after']:.2f}" if row["after"] == row["after"] else "-",
                # A signed change, so the arrow points the way the number moved; a slower pace (more min/km) is red.
                None if change != change or change is None else f"{change - 1:+.0%} (before {row['before']:.2f})",
                delta_color="inverse" if row["metric"] == "mean_pace_min_per_km" else "normal",
            )

    st.subheader("Classification mix")
    labels["era"] = labels["workout_date"].map(lambda d: "after" if d >= event else "before")
    mix = labels.groupby(["era", "label"], as_index=False).size()
    plot(px.bar(mix, x="era", y="size", color="label", category_orders={"era": ["before", "after"]},
                title="labels before and after the event"), "era_mix")
    st.subheader("Sample classifications")
    st.caption("per label: the two most confident and the least confident")
    picks = [pd.concat([g.nlargest(2, "confidence"), g.nsmallest(1, "confidence")]) for _, g in labels.groupby("label")]
    sample = pd.concat(picks).drop_duplicates("workout_id")
    table(sample[["workout_date", "sport", "label", "confidence", "method", "pace_min_per_km",
                         "distance_mi", "duration_min"]].sort_values("label"))
