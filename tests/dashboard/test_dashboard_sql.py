"""The SQL explorer's read-only check (DuckDB's parser) and queries over Arrow-registered Delta tables."""

from __future__ import annotations

import pytest

from lakehouse.dashboard.data import Lake
from lakehouse.dashboard.sql import ReadOnlyError, check_read_only, connect, run_query


@pytest.mark.parametrize("sql", [
    "SELECT 1", "  select * from streaks;  ", "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    "EXPLAIN SELECT 1", "SELECT 'DROP TABLE x; DELETE' AS not_a_write",
])
def test_read_statements_pass(sql: str) -> None:
    assert check_read_only(sql) == sql.strip().rstrip(";").strip()


@pytest.mark.parametrize(("sql", "message"), [
    ("DELETE FROM streaks", "read-only"),
    ("DROP TABLE streaks", "read-only"),
    ("INSERT INTO streaks VALUES (1)", "read-only"),
    ("UPDATE streaks SET sport = 'x'", "read-only"),
    ("CREATE TABLE t AS SELECT 1", "read-only"),
    ("COPY streaks TO '/tmp/x.csv'", "read-only"),
    ("ATTACH 'x.db'", "read-only"),
    ("INSTALL delta", "read-only"),
    ("SET threads = 1", "read-only"),
    ("SELECT 1; DROP TABLE streaks", "One statement at a time"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN ANALYZE"),
    ("SELEC 1", "not valid SQL"),
    ("   ", "empty"),
])
def test_anything_else_is_refused_with_a_reason(sql: str, message: str) -> None:
    with pytest.raises(ReadOnlyError, match=message):
        check_read_only(sql)


def test_queries_see_the_gold_tables_and_cannot_reach_files(demo_lake: Lake) -> None:
    con = connect(demo_lake)
    expected = len(demo_lake.df("gold", "activity_summary_monthly"))
    result = run_query(con, "SELECT count(*) AS n FROM activity_summary_monthly")
    assert int(result.frame["n"].iloc[0]) == expected
    assert int(run_query(con, "SELECT count(*) AS n FROM gold_activity_summary_monthly").frame["n"].iloc[0]) == expected
    with pytest.raises(Exception, match=r"(?i)disabled|permission"):
        run_query(con, "SELECT * FROM read_csv('/etc/hostname')")
    limited = run_query(con, "SELECT * FROM activity_summary_monthly", max_rows=2)
    assert len(limited.frame) == 2 and limited.truncated == (expected > 2)
