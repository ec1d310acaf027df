"""The Tour: stage results, the general classification after each stage, rider profiles, the two-rider
segment comparison with its GIF, and live standings that refresh while a stream runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from lakehouse.dashboard.common import Context, plot, show_or_hint, table
from lakehouse.dashboard.data import Lake

RESULTS = ("gold", "race_stage_results")
GC = ("gold", "race_general_classification")
PROFILES = ("gold", "race_rider_profiles")
CLIMBS = ("gold", "race_climb_times")
GAPS = ("gold", "race_segment_gaps")
LIVE = ("gold", "race_live_standings")
RIDERS = ("silver", "race_riders")
GIF_FOLDER = "artifacts/race/segments"
LIVE_REFRESH_S = 5.0
COMPARE_HINT = "python -m jobs.race --step compare --stage 9 --riders 11,21 --segment finale"


def with_names(lake: Lake, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the riders' name and team (when silver.race_riders is there and the frame lacks them)."""
    if "name" in frame.columns or not lake.exists(*RIDERS):
        return frame
    riders = lake.df(*RIDERS)[["rider_id", "name", "team"]]
    return frame.merge(riders, on="rider_id", how="left")


def segment_gifs(tables_root: str) -> list[Path]:
    """The comparison GIFs stored beside the tables (local roots)."""
    folder = Path(tables_root) / GIF_FOLDER
    return sorted(folder.rglob("*.gif")) if folder.is_dir() else []


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(RESULTS)
    results = with_names(lake, lake.df(*RESULTS))
    stages = sorted(results["stage"].unique().tolist())
    stage = st.selectbox("stage", stages, index=len(stages) - 1, key="tour_stage")

    st.subheader(f"Stage {stage} results")
    shown = results[results["stage"] == stage].sort_values("rank", na_position="last")
    columns = [c for c in ("rank", "rider_id", "name", "team", "stage_time", "gap_s", "status") if c in shown]
    table(shown[columns])
    finishers = shown.dropna(subset=["rank"])
    if len(finishers):
        plot(px.bar(finishers.head(20), x="gap_s", y="name" if "name" in finishers else "rider_id", orientation="h",
                    title=f"stage {stage}: gap to the winner (s), first 20"), "stage_gaps")

    if lake.exists(*GC):
        gc = with_names(lake, lake.df(*GC))
        st.subheader(f"General classification after stage {stage}")
        after = gc[gc["after_stage"] == stage].sort_values("rank")
        table(after[[c for c in ("rank", "rider_id", "name", "team", "total_time", "gap_s") if c in after]])
        top = gc[gc["rider_id"].isin(after.head(5)["rider_id"])]
        plot(px.line(top, x="after_stage", y="rank", color="name" if "name" in top else "rider_id", markers=True,
                     title="GC rank of today's top five, stage by stage").update_yaxes(autorange="reversed"), "gc")
    else:
        show_or_hint(GC)

    if lake.exists(*PROFILES):
        profiles = with_names(lake, lake.df(*PROFILES))
        mine = profiles[profiles["stage"] == stage]
        st.subheader("Profiles")
        riders = sorted(mine["rider_id"].unique().tolist())
        default = finishers["rider_id"].head(2).tolist() if len(finishers) else riders[:2]
        chosen = st.multiselect("riders", riders, default=[r for r in default if r in riders], key="tour_riders")
        picked = mine[mine["rider_id"].isin(chosen)]
        if len(picked):
            plot(px.line(picked, x="km", y="speed_kmh", color="name" if "name" in picked else "rider_id",
                         title="speed per km (km/h)"), "profile_speed")
            route = picked.drop_duplicates("km").sort_values("km")
            plot(px.area(route, x="km", y="gradient_pct", title="route gradient per km (%)"), "profile_gradient")
    if lake.exists(*CLIMBS):
        climbs = with_names(lake, lake.df(*CLIMBS))
        mine = climbs[climbs["stage"] == stage]
        if len(mine):
            st.subheader("Climbs")
            table(mine.sort_values(["climb", "rank"]))

    st.subheader("Two riders on a segment")
    if lake.exists(*GAPS):
        gaps = lake.df(*GAPS)
        options = gaps[["stage", "segment", "rider_a", "rider_b"]].drop_duplicates().to_dict("records")
        label = "stage {stage} {segment}: {rider_a} vs {rider_b}"
        pick = st.selectbox("comparison", range(len(options)), key="tour_comparison",
                            format_func=lambda i: label.format(**options[i]))
        chosen = options[pick]
        rows = gaps[(gaps[list(chosen)] == pd.Series(chosen)).all(axis=1)].sort_values("distance_m")
        plot(px.line(rows, x="distance_m", y="gap_s", title="gap along the segment (s, positive: A ahead)"), "gap")
    else:
        st.caption(f"No comparison yet. Make one (and its GIF) with: `{COMPARE_HINT}`")
    for gif in segment_gifs(ctx.settings.tables_root)[-3:]:
        st.image(str(gif), caption=gif.name)

    st.subheader("Live standings")
    if not lake.exists(*LIVE):
        show_or_hint(LIVE)
        st.caption("Live standings appear while `python -m jobs.race_stream` runs.")
        return
    live = st.toggle("refresh every few seconds (while a stream runs)", key="tour_live", value=False)
    _live_standings(lake, stage, LIVE_REFRESH_S if live else None)


def _live_standings(lake: Lake, stage: int, every: float | None) -> None:
    @st.fragment(run_every=every)
    def standings() -> None:
        live = with_names(lake, lake.df(*LIVE))
        mine = live[live["stage"] == stage].sort_values("position")
        if mine.empty:
            st.caption(f"No live standings for stage {stage}.")
            return
        as_of = mine["as_of_ts"].max() if "as_of_ts" in mine else None
        st.caption(f"as of {as_of} (Delta version {lake.version(*LIVE)})")
        table(mine)

    standings()
