"""Read-only SQL over the lakehouse: DuckDB on Arrow tables read through `deltalake` (no delta extension).

Every gold table is registered as a view named after it (`streaks`, `race_stage_results` ...), and also as
`gold_<name>`; a statement is checked with DuckDB's own parser before it runs: only SELECT (and WITH ...
SELECT, DESCRIBE, SHOW, EXPLAIN of a select) passes, one statement at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from lakehouse.dashboard.data import Lake

READ_ONLY_TYPES = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
}
MAX_ROWS = 100_000


class ReadOnlyError(ValueError):
    """A statement that would change something, or more than one statement, was refused."""


@dataclass(frozen=True)
class QueryResult:
    """A query's rows and the SQL that produced them."""

    sql: str
    frame: pd.DataFrame
    truncated: bool


def check_read_only(sql: str) -> str:
    """The single read statement in `sql`, or `ReadOnlyError` saying why it is refused.

    Example: `check_read_only("SELECT 1")` returns "SELECT 1"; `check_read_only("DROP TABLE x")` raises.
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise ReadOnlyError("Type a query: the box is empty.")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise ReadOnlyError(f"That is not valid SQL: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise ReadOnlyError(f"One statement at a time, please ({len(statements)} found).")
    statement = statements[0]
    if statement.type not in READ_ONLY_TYPES:
        kind = statement.type.name.replace("_", " ")
        raise ReadOnlyError(
            f"Refused: this explorer is read-only and {kind} statements change or manage data. "
            "Only SELECT (WITH ... SELECT, EXPLAIN) queries run here."
        )
    if statement.type == duckdb.StatementType.EXPLAIN and "analyze" in text.lower().split()[:3]:
        raise ReadOnlyError("Refused: EXPLAIN ANALYZE runs the statement; use EXPLAIN alone.")
    return text


def connect(lake: Lake, tables: Iterable[tuple[str, str]] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `tables` (default: every gold table) registered as views over Arrow."""
    con = duckdb.connect(":memory:")
    chosen = list(tables) if tables is not None else [("gold", n) for n in lake.gold_tables()]
    for layer, name in chosen:
        if not lake.exists(layer, name):
            continue
        data = lake.arrow(layer, name)
        con.register(name, data)
        con.register(f"{layer}_{name}", data)
    # Registered Arrow tables are views: nothing a query can write reaches the Delta tables, and external
    # access (files, extensions downloaded from the network) is switched off.
    con.execute("SET enable_external_access = false")
    return con


def run_query(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int = MAX_ROWS) -> QueryResult:
    """Check `sql` is a single read statement, run it, and return at most `max_rows` rows."""
    text = check_read_only(sql)
    relation = con.sql(text)
    if relation is None:
        return QueryResult(text, pd.DataFrame(), False)
    frame = relation.limit(max_rows + 1).df()
    truncated = len(frame) > max_rows
    return QueryResult(text, frame.head(max_rows), truncated)


def schema_text(con: duckdb.DuckDBPyConnection) -> str:
    """`table(column type, ...)` lines for every registered view, for people and for an LLM prompt."""
    rows = con.sql(
        "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_name NOT LIKE 'gold\\_%' ESCAPE '\\' "
        "GROUP BY table_name ORDER BY table_name"
    ).fetchall()
    return "\n".join(f"{t}({cols})" for t, cols in rows)
