"""Data health: quality results, quarantined records with reasons, the last runs, the API call ledger and
backfill progress."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from lakehouse.dashboard.common import Context, plot, show_or_hint, table
from lakehouse.dashboard.data import MissingTablesError

CHECKS = ("ops", "check_results")
BRONZE_QUARANTINE = ("bronze", "quarantine")
SILVER_QUARANTINE = ("ops", "silver_quarantine")
LEDGER = ("ops", "bronze_load_ledger")
GOLD_PROGRESS = ("ops", "gold_progress")
API_CALLS = ("silver", "api_calls")


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    present = [t for t in (CHECKS, BRONZE_QUARANTINE, SILVER_QUARANTINE, LEDGER, GOLD_PROGRESS, API_CALLS)
               if lake.exists(*t)]
    if not present:
        raise MissingTablesError([LEDGER, CHECKS])

    st.subheader("Quality checks")
    if lake.exists(*CHECKS):
        checks = lake.df(*CHECKS)
        last_run = checks.sort_values("checked_at")["run_id"].iloc[-1] if len(checks) else None
        latest = checks[checks["run_id"] == last_run]
        cols = st.columns(3)
        cols[0].metric("checks in the last run", len(latest))
        cols[1].metric("failed", int((latest["passed"] == False).sum()))  # noqa: E712 (a nullable column)
        cols[2].metric("rows failing", int(latest["rows_failed"].fillna(0).sum()))
        table(latest.sort_values(["passed", "table_name"]))
        per_run = checks.assign(failed=checks["passed"] == False)  # noqa: E712
        per_run = per_run.groupby("run_id", as_index=False).agg(run_started=("checked_at", "min"),
                                                                failed=("failed", "sum"), checks=("rule", "count"))
        plot(px.bar(per_run.sort_values("run_started"), x="run_id", y="failed", hover_data=["run_started", "checks"],
                    title="failed checks per pipeline run"), "checks")
    else:
        show_or_hint(CHECKS)

    st.subheader("Quarantined records")
    cols = st.columns(2)
    with cols[0]:
        st.caption("bronze: unreadable files and rejected records")
        if lake.exists(*BRONZE_QUARANTINE):
            quarantine = lake.df(*BRONZE_QUARANTINE)
            reasons = quarantine.groupby(["_table", "reason"], as_index=False).size() if len(quarantine) else quarantine
            table(reasons)
            with st.expander(f"{len(quarantine)} records"):
                table(quarantine)
        else:
            show_or_hint(BRONZE_QUARANTINE)
    with cols[1]:
        st.caption("silver: rows a quality rule quarantined")
        if lake.exists(*SILVER_QUARANTINE):
            silver_q = lake.df(*SILVER_QUARANTINE)
            table(silver_q.head(500))
        else:
            st.write("none")

    st.subheader("Last runs")
    if lake.exists(*LEDGER):
        ledger = lake.df(*LEDGER)
        committed = ledger[ledger["status"] == "committed"]
        runs = committed.groupby(["table_name", "batch_id"], as_index=False).agg(
            files=("file_path", "count"), records=("records_loaded", "sum"),
            quarantined=("records_quarantined", "sum"))
        table(runs.sort_values("batch_id", ascending=False).head(50))
    if lake.exists(*GOLD_PROGRESS):
        progress = lake.df(*GOLD_PROGRESS)
        last = progress.sort_values("built_at").groupby("gold_table", as_index=False).last()
        st.caption("gold tables: the silver version each reflects and when it was built")
        table(last[["gold_table", "source_table", "source_version", "mode", "built_at"]])

    st.subheader("API calls and backfill progress")
    if lake.exists(*API_CALLS):
        calls = lake.df(*API_CALLS)
        by_outcome = calls.groupby(["source", "outcome"], as_index=False).size()
        plot(px.bar(by_outcome, x="source", y="size", color="outcome", title="API calls by outcome"), "calls")
        if "usage_daily" in calls.columns and calls["usage_daily"].notna().any():
            usage = calls.dropna(subset=["usage_daily"]).sort_values("started_at")
            plot(px.line(usage, x="started_at", y="usage_daily", color="source",
                         title="daily rate-limit usage (calls so far today)"), "usage")
        per_run = calls.groupby(["source", "run_id"], as_index=False).agg(
            calls=("seq", "count"), first=("started_at", "min"), last=("started_at", "max"))
        st.caption("each ingestion run: calls made, first and last call (a backfill resumes run after run)")
        table(per_run.sort_values("first", ascending=False))
    else:
        show_or_hint(API_CALLS)
