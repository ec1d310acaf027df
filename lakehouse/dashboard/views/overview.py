"""Overview: the monthly summary, a calendar heatmap of workouts, streaks and Eddington numbers."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, plot, table
from lakehouse.dashboard.data import for_person

TABLES = (("gold", "activity_summary_monthly"), ("silver", "workouts"), ("gold", "streaks"), ("gold", "eddington"))


def calendar(workouts: pd.DataFrame) -> pd.DataFrame:
    """Workouts per day laid out as a calendar: one row per day with its ISO week start and weekday."""
    per_day = workouts.groupby(pd.to_datetime(workouts["workout_date"]).dt.normalize()).size().rename("workouts")
    if per_day.empty:
        return pd.DataFrame(columns=["date", "week_start", "weekday", "workouts"])
    spine = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D")
    frame = per_day.reindex(spine, fill_value=0).rename_axis("date").reset_index()
    frame["week_start"] = frame["date"] - pd.to_timedelta(frame["date"].dt.weekday, unit="D")
    frame["weekday"] = frame["date"].dt.day_name().str[:3]
    return frame


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(TABLES[0])
    monthly = lake.df(*TABLES[0])
    person = pick_person(monthly)
    monthly = for_person(monthly, person)

    totals = monthly.groupby("month", as_index=False)[["activities", "distance_km", "moving_time_h", "kudos"]].sum()
    last = totals.sort_values("month").tail(1)
    cols = st.columns(4)
    cols[0].metric("activities", int(monthly["activities"].sum()))
    cols[1].metric("distance", f"{monthly['distance_km'].sum():,.0f} km")
    cols[2].metric("moving time", f"{monthly['moving_time_h'].sum():,.0f} h")
    if not last.empty:
        cols[3].metric(f"last month ({last['month'].iloc[0]:%b %Y})", f"{int(last['activities'].iloc[0])} activities")

    st.subheader("Monthly summary")
    plot(px.bar(monthly, x="month", y="distance_km", color="sport_type", title="distance per month (km)"), "monthly")
    table(monthly.sort_values(["month", "sport_type"], ascending=[False, True]))

    if lake.exists(*TABLES[1]):
        st.subheader("Calendar")
        workouts = for_person(lake.df(*TABLES[1]), person)
        grid = calendar(workouts)
        if not grid.empty:
            years = sorted(grid["date"].dt.year.unique())
            year = st.selectbox("year", years, index=len(years) - 1, key="overview_year")
            shown = grid[grid["date"].dt.year == year]
            heat = px.density_heatmap(
                shown, x="week_start", y="weekday", z="workouts", histfunc="sum", nbinsx=60,
                category_orders={"weekday": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]},
                color_continuous_scale="Greens", title=f"workouts per day, {year}",
            )
            plot(heat, "calendar")
    cols = st.columns(2)
    if lake.exists(*TABLES[2]):
        with cols[0]:
            st.subheader("Streaks")
            table(for_person(lake.df(*TABLES[2]), person))
    if lake.exists(*TABLES[3]):
        with cols[1]:
            st.subheader("Eddington numbers")
            edd = for_person(lake.df(*TABLES[3]), person)
            table(edd.pivot_table(index="sport", columns="unit", values="eddington").reset_index())
