"""Trends and forecast: each monthly series with its linear trend and 95 % interval, and the next months
forecast with prediction intervals (gold.forecast_monthly, statsmodels OLS); the slopes of gold.trend_fits."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, plot, table
from lakehouse.dashboard.data import for_person

FORECAST = ("gold", "forecast_monthly")
FITS = ("gold", "trend_fits")
UNITS = {"workouts": "workouts per month", "distance_km": "km per month"}


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(FORECAST)
    forecast = lake.df(*FORECAST)
    person = pick_person(forecast)
    forecast = for_person(forecast, person)
    cols = st.columns(2)
    sports = sorted(forecast["sport"].unique())
    busiest = forecast[forecast["metric"] == "workouts"].groupby("sport")["actual"].sum()
    default = sports.index(busiest.idxmax()) if len(busiest) else 0
    sport = cols[0].selectbox("sport", sports, index=default, key="trend_sport")
    metric = cols[1].selectbox("metric", sorted(forecast["metric"].unique()), key="trend_metric",
                               format_func=lambda m: UNITS.get(m, m))
    series = forecast[(forecast["sport"] == sport) & (forecast["metric"] == metric)].sort_values("month")
    history, ahead = series[series["kind"] == "history"], series[series["kind"] == "forecast"]

    figure = go.Figure()
    figure.add_scatter(mode="lines", x=series["month"], y=series["pred_high"], line={"width": 0}, showlegend=False,
                       hoverinfo="skip")
    figure.add_scatter(mode="lines", x=series["month"], y=series["pred_low"], fill="tonexty", line={"width": 0},
                       fillcolor="rgba(239,108,0,0.15)", name="95 % prediction interval")
    figure.add_scatter(mode="lines", x=series["month"], y=series["mean_high"], line={"width": 0}, showlegend=False,
                       hoverinfo="skip")
    figure.add_scatter(mode="lines", x=series["month"], y=series["mean_low"], fill="tonexty", line={"width": 0},
                       fillcolor="rgba(21,101,192,0.25)", name="95 % interval of the trend")
    figure.add_scatter(mode="lines", x=history["month"], y=history["fitted"], name="trend", line={"color": "#1565c0"})
    figure.add_scatter(mode="lines", x=ahead["month"], y=ahead["fitted"], name="forecast",
                       line={"color": "#ef6c00", "dash": "dash"})
    figure.add_bar(x=history["month"], y=history["actual"], name="actual", marker_color="rgba(0,0,0,0.35)")
    figure.update_layout(title=f"{sport}: {UNITS.get(metric, metric)}, trend and forecast")
    plot(figure, "forecast")
    if len(ahead):
        st.caption(f"model: {series['model'].iloc[0]} over {int(series['n_months'].iloc[0])} months (statsmodels)")
        table(ahead[["month", "fitted", "pred_low", "pred_high"]].rename(
            columns={"fitted": "forecast", "pred_low": "95 % low", "pred_high": "95 % high"}))
    if lake.exists(*FITS):
        st.subheader("Slopes (OLS per month, 95 % CI)")
        table(for_person(lake.df(*FITS), person))
