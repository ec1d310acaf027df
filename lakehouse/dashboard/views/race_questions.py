"""Race questions: a box for common questions in plain words, answered from gold with the query shown."""

from __future__ import annotations

import streamlit as st

from lakehouse.dashboard.common import Context, table
from lakehouse.dashboard.race_questions import EXAMPLES, UnknownQuestionError, answer, race_connection
from lakehouse.dashboard.sql import ReadOnlyError

RESULTS = ("gold", "race_stage_results")


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(RESULTS)
    con = race_connection(lake)
    stages = [r[0] for r in con.sql("SELECT DISTINCT stage FROM race_stage_results ORDER BY stage").fetchall()]
    riders = [r[0] for r in con.sql("SELECT rider_id FROM race_stage_results WHERE rank <= 2 "
                                    f"AND stage = {stages[-1]} ORDER BY rank").fetchall()]
    a, b = [*riders, 1, 2][:2]
    examples = [e.format(s=stages[-1], a=a, b=b) for e in EXAMPLES]
    dashboard = ctx.settings.dashboard
    st.caption("Answered by a deterministic parser" + (f"; other questions go to {dashboard.llm_model} at "
               f"{dashboard.llm_url}" if dashboard.llm_url and dashboard.llm_model else "") + ".")
    picked = st.selectbox("examples", examples, key="race_example")
    question = st.text_input("your question", value=picked, key=f"race_question_{examples.index(picked)}")
    if not question:
        return
    try:
        result = answer(lake, question, dashboard.llm_url, dashboard.llm_model, con)
    except UnknownQuestionError as unknown:
        st.warning(str(unknown))
        return
    except ReadOnlyError as refused:
        st.error(f"The endpoint's SQL was refused: {refused}")
        return
    except Exception as failed:  # an endpoint down, or SQL that does not run: say so, no trace
        st.error(f"Could not answer: {str(failed).splitlines()[0]}")
        return
    st.code(result.sql, language="sql")
    if result.frame.empty:
        st.info("No rows: the race data has no answer to that (a stage not raced, a rider not found, no climb).")
    else:
        table(result.frame)
    st.caption(f"SQL written by the {result.source}")
