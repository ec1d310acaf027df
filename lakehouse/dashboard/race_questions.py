"""Race questions in plain words, answered from gold with the query shown (seed 003's bot).

A deterministic parser recognises a fixed set of question shapes and builds DuckDB SQL over the gold race
tables (and silver.race_riders for names):

- "who won stage 9"
- "gap between rider 11 and rider 21 after stage 12" (riders by number or by name)
- "fastest up the last climb of stage 15"
- "who led the GC after stage 10"
- "top 5 of stage 4"

When an OpenAI-compatible endpoint is configured (`[dashboard] llm_url`, `llm_model`; the key from
$LAKEHOUSE_LLM_API_KEY), a question the parser does not know goes to it with the tables' schema, and the SQL
it returns runs only after the same read-only check as the SQL explorer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd
import requests

from lakehouse.dashboard.data import Lake
from lakehouse.dashboard.sql import check_read_only, connect, run_query, schema_text

TABLES = (("gold", "race_stage_results"), ("gold", "race_general_classification"), ("gold", "race_climb_times"),
          ("gold", "race_checkpoint_times"), ("silver", "race_riders"))
API_KEY_ENV = "LAKEHOUSE_LLM_API_KEY"
LLM_TIMEOUT_S = 30.0
EXAMPLES = ("who won stage {s}", "who led the GC after stage {s}",
            "gap between rider {a} and rider {b} after stage {s}", "fastest up the last climb of stage {s}",
            "top 5 of stage {s}")


class UnknownQuestionError(ValueError):
    """The parser does not know this question's shape (and no endpoint is configured)."""


@dataclass(frozen=True)
class Answer:
    """The SQL that answers a question, its rows, and who wrote the SQL (parser or llm)."""

    question: str
    sql: str
    frame: pd.DataFrame
    source: str


def _rider(ref: str) -> str:
    """SQL for a rider's id from "rider 11", "#11", "11" or a name (case-insensitive, exact)."""
    ref = ref.strip().strip("?.!,'\"")
    number = re.fullmatch(r"(?:rider\s*)?#?\s*(\d+)", ref, re.IGNORECASE)
    if number:
        return str(int(number.group(1)))
    quoted = ref.replace("'", "''")
    return f"(SELECT rider_id FROM race_riders WHERE lower(name) = lower('{quoted}') LIMIT 1)"


def _won_stage(m: re.Match[str]) -> str:
    stage = int(m["stage"])
    return ("SELECT r.stage, r.rank, r.rider_id, p.name, p.team, r.stage_time, r.stage_time_s\n"
            "FROM race_stage_results r LEFT JOIN race_riders p USING (rider_id)\n"
            f"WHERE r.stage = {stage} AND r.rank = 1\nORDER BY r.rider_id")


def _top_n(m: re.Match[str]) -> str:
    stage, n = int(m["stage"]), int(m["n"])
    return ("SELECT r.stage, r.rank, r.rider_id, p.name, p.team, r.stage_time, r.gap_s\n"
            "FROM race_stage_results r LEFT JOIN race_riders p USING (rider_id)\n"
            f"WHERE r.stage = {stage} AND r.rank <= {n}\nORDER BY r.rank, r.rider_id")


def _gc_leader(m: re.Match[str]) -> str:
    stage = int(m["stage"])
    return ("SELECT g.after_stage, g.rank, g.rider_id, g.name, g.team, g.total_time, g.total_time_s\n"
            "FROM race_general_classification g\n"
            f"WHERE g.after_stage = {stage} AND g.rank = 1\nORDER BY g.rider_id")


def _gap(m: re.Match[str]) -> str:
    stage, a, b = int(m["stage"]), _rider(m["a"]), _rider(m["b"])
    return ("SELECT a.after_stage, a.rider_id AS rider_a, a.name AS name_a, a.rank AS rank_a,\n"
            "       b.rider_id AS rider_b, b.name AS name_b, b.rank AS rank_b,\n"
            "       b.total_time_s - a.total_time_s AS gap_s  -- positive: rider B is behind rider A\n"
            "FROM race_general_classification a JOIN race_general_classification b ON a.after_stage = b.after_stage\n"
            f"WHERE a.after_stage = {stage} AND a.rider_id = {a} AND b.rider_id = {b}")


def _fastest_last_climb(m: re.Match[str]) -> str:
    stage = int(m["stage"])
    return (f"WITH last_climb AS (\n  SELECT climb FROM race_climb_times WHERE stage = {stage}\n"
            "  GROUP BY climb ORDER BY max(top_m) DESC LIMIT 1\n), times AS (\n"
            "  SELECT c.* FROM race_climb_times c JOIN last_climb USING (climb)\n"
            f"  WHERE c.stage = {stage} AND c.climb_time_s IS NOT NULL\n)\n"
            "SELECT t.stage, t.climb, t.rider_id, p.name, p.team, t.climb_time_s, t.vam_m_per_h\n"
            "FROM times t LEFT JOIN race_riders p USING (rider_id)\n"
            "WHERE t.climb_time_s = (SELECT min(climb_time_s) FROM times)\nORDER BY t.rider_id")


SHAPES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\bwho\s+won\s+(?:the\s+)?stage\s+(?P<stage>\d+)", re.I), _won_stage),
    (re.compile(r"\bwinner\s+of\s+(?:the\s+)?stage\s+(?P<stage>\d+)", re.I), _won_stage),
    (re.compile(r"\btop\s+(?P<n>\d+)\s+(?:of|in|on)\s+(?:the\s+)?stage\s+(?P<stage>\d+)", re.I), _top_n),
    (re.compile(r"\bwho\s+(?:led|leads|was\s+leading)\s+the\s+(?:gc|general\s+classification)\s+after\s+stage\s+"
                r"(?P<stage>\d+)", re.I), _gc_leader),
    (re.compile(r"\b(?:gap|time\s+difference)\s+between\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)\s+after\s+stage\s+"
                r"(?P<stage>\d+)", re.I), _gap),
    (re.compile(r"\bfastest\s+(?:up|on)\s+the\s+last\s+climb\s+(?:of|in|on)\s+(?:the\s+)?stage\s+(?P<stage>\d+)",
                re.I), _fastest_last_climb),
)


def parse(question: str) -> str:
    """The SQL answering `question`, or `UnknownQuestionError` listing the shapes the parser knows."""
    for pattern, build in SHAPES:
        match = pattern.search(question)
        if match:
            return build(match)
    raise UnknownQuestionError(
        "I can answer questions like: " + "; ".join(e.format(s=9, a=11, b=21) for e in EXAMPLES) + "."
    )


def race_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    """DuckDB with the race tables that exist registered by their names."""
    return connect(lake, [t for t in TABLES if lake.exists(*t)])


def extract_sql(text: str) -> str:
    """The SQL in an LLM reply: the first ```sql fenced block, else the whole reply."""
    fenced = re.search(r"```(?:sql)?\s*(.*?)```", text, re.S | re.I)
    return (fenced.group(1) if fenced else text).strip()


def ask_llm(question: str, schema: str, url: str, model: str, api_key: str | None,
            timeout: float = LLM_TIMEOUT_S) -> str:
    """Ask an OpenAI-compatible chat endpoint for one DuckDB SELECT answering `question`; returns its SQL."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = {
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "You write one DuckDB SQL SELECT statement answering a question about a "
             "bike race, using only these tables:\n" + schema + "\nReply with the SQL only, in a ```sql block."},
            {"role": "user", "content": question},
        ],
    }
    response = requests.post(f"{url.rstrip('/')}/chat/completions", json=body, headers=headers, timeout=timeout)
    response.raise_for_status()
    return extract_sql(response.json()["choices"][0]["message"]["content"])


def answer(lake: Lake, question: str, llm_url: str | None = None, llm_model: str | None = None,
           con: duckdb.DuckDBPyConnection | None = None) -> Answer:
    """Answer `question` from gold: the parser first, then the endpoint when one is configured."""
    con = con or race_connection(lake)
    try:
        sql, source = parse(question), "parser"
    except UnknownQuestionError:
        if not (llm_url and llm_model):
            raise
        sql = check_read_only(ask_llm(question, schema_text(con), llm_url, llm_model, os.environ.get(API_KEY_ENV)))
        source = "llm"
    result = run_query(con, sql)
    return Answer(question, result.sql, result.frame, source)
