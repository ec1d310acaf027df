"""Fitbit: heart rate by hour and day, minutes in each heart-rate zone, resting heart rate."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, plot, table
from lakehouse.dashboard.data import for_person

ZONES = ("gold", "hr_zone_minutes_daily")
SUMMARY = ("gold", "fitbit_daily_summary")
INTRADAY = ("silver", "fitbit_intraday")


def hourly_heart_rate(intraday: pd.DataFrame) -> pd.DataFrame:
    """Mean heart rate per local day and hour, from the intraday samples."""
    heart = intraday[intraday["metric"] == "heart_rate_bpm"]
    local = pd.to_datetime(heart["ts_local"])
    return (
        heart.assign(day=local.dt.normalize(), hour=local.dt.hour)
        .groupby(["day", "hour"], as_index=False)["value"].mean()
        .rename(columns={"value": "mean_bpm"})
    )


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(ZONES)
    zones = lake.df(*ZONES)
    person = pick_person(zones)
    zones = for_person(zones, person).sort_values("date")

    if lake.exists(*INTRADAY):
        intraday = for_person(lake.df(*INTRADAY), person)
        grid = hourly_heart_rate(intraday)
        if not grid.empty:
            heat = px.density_heatmap(grid, x="hour", y="day", z="mean_bpm", histfunc="avg", nbinsx=24,
                                      color_continuous_scale="Reds", title="mean heart rate by hour and day (bpm)")
            plot(heat, "hr_heatmap")

    minutes = [c for c in ("out_of_range_min", "fat_burn_min", "cardio_min", "peak_min") if c in zones.columns]
    long = zones.melt(id_vars=["date"], value_vars=minutes, var_name="zone", value_name="minutes")
    long["zone"] = long["zone"].str.removesuffix("_min").str.replace("_", " ")
    active = long[long["zone"] != "out of range"]
    plot(px.bar(active, x="date", y="minutes", color="zone", title="minutes in heart-rate zones per day"), "zones")
    if "resting_heart_rate_bpm" in zones.columns:
        plot(px.line(zones, x="date", y="resting_heart_rate_bpm", markers=True, title="resting heart rate (bpm)"),
             "resting")
    if lake.exists(*SUMMARY):
        summary = for_person(lake.df(*SUMMARY), person)
        st.subheader("Daily totals")
        table(summary.pivot_table(index="date", columns="metric", values=["total", "mean"]).reset_index())
