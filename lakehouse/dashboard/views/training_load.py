"""Training load: CTL (fitness), ATL (fatigue), TSB (form) and ACWR over time, with the zones people know."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, plot, table
from lakehouse.dashboard.data import for_person

TABLE = ("gold", "training_load_daily")
# ACWR zones (Gabbett): below 0.8 under-training, 0.8-1.3 the sweet spot, 1.3-1.5 caution, above 1.5 danger.
ACWR_ZONES = ((0.0, 0.8, "low", "rgba(120,144,156,0.15)"), (0.8, 1.3, "sweet spot", "rgba(76,175,80,0.18)"),
              (1.3, 1.5, "caution", "rgba(255,193,7,0.2)"), (1.5, 3.0, "danger", "rgba(244,67,54,0.18)"))
# TSB (form) bands as TrainingPeaks/GoldenCheetah users read them.
TSB_ZONES = ((-80.0, -30.0, "high risk", "rgba(244,67,54,0.15)"), (-30.0, -10.0, "optimal training",
             "rgba(76,175,80,0.15)"), (-10.0, 5.0, "grey zone", "rgba(158,158,158,0.12)"),
             (5.0, 25.0, "fresh", "rgba(33,150,243,0.12)"), (25.0, 80.0, "transition", "rgba(255,193,7,0.15)"))


def _bands(figure: go.Figure, zones: tuple[tuple[float, float, str, str], ...], low: float, high: float) -> None:
    for start, end, label, colour in zones:
        if end < low or start > high:
            continue
        figure.add_hrect(y0=max(start, low), y1=min(end, high), fillcolor=colour, line_width=0,
                         annotation_text=label, annotation_position="top left")


def render(ctx: Context) -> None:
    """The page."""
    daily = ctx.lake.df(*TABLE)
    person = pick_person(daily)
    daily = for_person(daily, person).sort_values("date")
    if daily.empty:
        st.info("No training load yet: workouts with heart rate (Strava or Fitbit) fill it.")
        return
    latest = daily.iloc[-1]
    cols = st.columns(4)
    cols[0].metric("fitness (CTL)", f"{latest['ctl']:.1f}")
    cols[1].metric("fatigue (ATL)", f"{latest['atl']:.1f}")
    cols[2].metric("form (TSB)", f"{latest['tsb']:.1f}")
    acwr = latest["acwr"]
    cols[3].metric("ACWR", "-" if acwr != acwr else f"{acwr:.2f}", latest.get("acwr_zone") or "")

    pmc = go.Figure()
    pmc.add_bar(x=daily["date"], y=daily["load"], name="daily load (TRIMP100)", marker_color="lightgrey")
    pmc.add_scatter(x=daily["date"], y=daily["ctl"], name="CTL (fitness, 42 d)", line={"color": "#1565c0"})
    pmc.add_scatter(x=daily["date"], y=daily["atl"], name="ATL (fatigue, 7 d)", line={"color": "#e91e63"})
    pmc.update_layout(title="performance management chart")
    plot(pmc, "pmc")

    tsb = go.Figure()
    tsb.add_scatter(x=daily["date"], y=daily["tsb"], name="TSB (form)", line={"color": "#ff9800"})
    _bands(tsb, TSB_ZONES, float(daily["tsb"].min()) - 5, float(daily["tsb"].max()) + 5)
    tsb.update_layout(title="form (TSB = CTL - ATL) and its zones")
    plot(tsb, "tsb")

    ratio = daily.dropna(subset=["acwr"])
    acwr_fig = go.Figure()
    acwr_fig.add_scatter(x=ratio["date"], y=ratio["acwr"], name="ACWR", line={"color": "#6a1b9a"})
    _bands(acwr_fig, ACWR_ZONES, 0.0, max(2.0, float(ratio["acwr"].max()) + 0.1) if len(ratio) else 2.0)
    acwr_fig.update_layout(title="acute:chronic workload ratio (7 d / 28 d) and its zones")
    plot(acwr_fig, "acwr")
    with st.expander("the daily numbers"):
        table(daily.sort_values("date", ascending=False))
