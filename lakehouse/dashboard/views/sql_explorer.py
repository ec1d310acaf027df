"""SQL explorer: read-only SQL over the gold tables in DuckDB, the query shown highlighted, CSV/JSON export."""

from __future__ import annotations

import streamlit as st

from lakehouse.dashboard.common import Context, table
from lakehouse.dashboard.data import MissingTablesError
from lakehouse.dashboard.sql import ReadOnlyError, connect, run_query, schema_text

DEFAULT_QUERY = "SELECT * FROM {table} LIMIT 100"


def render(ctx: Context) -> None:
    """The page."""
    tables = ctx.lake.gold_tables()
    if not tables:
        raise MissingTablesError([("gold", "activity_summary_monthly")])
    con = connect(ctx.lake)
    with st.expander(f"{len(tables)} gold tables (each also as gold_<name>)"):
        st.code(schema_text(con), language="sql")
    preferred = "activity_summary_monthly" if "activity_summary_monthly" in tables else tables[0]
    sql = st.text_area("SQL (read-only)", DEFAULT_QUERY.format(table=preferred), height=140, key="sql_query")
    st.button("Run", type="primary", key="sql_run")  # a click reruns the page with the box's text (so does Ctrl+Enter)
    query = sql
    st.code(query, language="sql")
    try:
        result = run_query(con, query)
    except ReadOnlyError as refused:
        st.error(str(refused))
        return
    except Exception as failed:  # a query error (unknown column ...): DuckDB's message, not a trace
        st.error(f"The query failed: {str(failed).splitlines()[0]}")
        return
    st.caption(f"{len(result.frame)} rows" + (" (first rows only)" if result.truncated else ""))
    table(result.frame)
    cols = st.columns(2)
    cols[0].download_button("Download CSV", result.frame.to_csv(index=False), "query.csv", "text/csv",
                            key="sql_csv")
    cols[1].download_button("Download JSON", result.frame.to_json(orient="records", date_format="iso", indent=1),
                            "query.json", "application/json", key="sql_json")
