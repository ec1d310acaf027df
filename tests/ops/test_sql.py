"""`python -m jobs.sql`: statements by table name, aligned tables, CSV/JSON exports, the interactive shell,
and one-line errors (an unknown table lists the tables that exist)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

import jobs.sql
from lakehouse.config import Settings
from lakehouse.metastore import register_tables
from lakehouse.sqlshell import split_statements
from lakehouse.tables import Tables


@pytest.fixture
def lake(spark: SparkSession, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A lakehouse with gold.sql_scores (three rows) that `jobs.sql` reaches through this test's session."""
    rows = [(1, "ana", 7.5), (22, "bo", None), (333, "cy", 10.25)]
    location = Tables(settings).ref("gold", "sql_scores").location
    spark.createDataFrame(rows, "id INT, name STRING, score DOUBLE").write.format("delta").save(location)
    monkeypatch.setenv("LAKEHOUSE_ENV", "test")
    monkeypatch.setenv("LAKEHOUSE_TABLES_ROOT", settings.tables_root)
    monkeypatch.setenv("LAKEHOUSE_LANDING_ROOT", settings.landing_root)
    # The job's own session factory is tested elsewhere; here it gets the test run's session (names registered).
    def session(s: Settings) -> SparkSession:
        register_tables(spark, s)
        return spark

    monkeypatch.setattr(jobs.sql, "get_spark", session)
    return settings


def test_split_statements_respects_quotes_and_comments() -> None:
    script = "SELECT ';' AS a; -- a comment; with a semicolon\nSELECT \"x;y\" /* ; */ FROM t;\n\n;  "
    assert split_statements(script) == ["SELECT ';' AS a", 'SELECT "x;y"  FROM t']
    assert split_statements("  -- only a comment\n") == []


def test_a_statement_prints_an_aligned_table(lake: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert jobs.sql.main(["SELECT id, name, score FROM gold.sql_scores ORDER BY id"]) == 0
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines() if line.strip()]
    header, rule, *body, count = lines
    assert header.split() == ["id", "name", "score"]
    assert set(rule.replace(" ", "")) <= {"─", "┼", "-", "+"}
    assert [row.split() for row in body] == [["1", "ana", "7.5"], ["22", "bo", "NULL"], ["333", "cy", "10.25"]]
    # Numbers are right-aligned: the ids end in the same column.
    assert len({row.index(id_) + len(id_) for row, id_ in zip(body, ("1", "22", "333"), strict=True)}) == 1
    assert count == "3 rows"


def test_a_wide_row_piped_stays_on_one_line(lake: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    # Not a terminal (a pipe, a file, a scheduler's log): no 80-column folding of a hash or an id.
    assert jobs.sql.main(["SELECT repeat('ab', 60) AS hash, 14410604300 AS athlete_id, 'Morning Run' AS name"]) == 0
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines() if line.strip()]
    header, _rule, body, count = lines
    assert header.split() == ["hash", "athlete_id", "name"]
    assert body.split() == ["ab" * 60, "14410604300", "Morning", "Run"]
    assert count == "1 row"


def test_csv_and_json_exports(lake: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.csv"
    query = "SELECT id, name, score FROM gold.sql_scores ORDER BY id"
    assert jobs.sql.main(["--format", "csv", "--out", str(out), query]) == 0
    assert out.read_text(encoding="utf-8") == "id,name,score\n1,ana,7.5\n22,bo,\n333,cy,10.25\n"
    assert jobs.sql.main(["--format", "json", query]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {"id": 1, "name": "ana", "score": 7.5},
        {"id": 22, "name": "bo", "score": None},
        {"id": 333, "name": "cy", "score": 10.25},
    ]


def test_a_script_file_runs_every_statement(lake: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "report.sql"
    script.write_text(
        "-- two results\nSELECT count(*) AS n FROM gold.sql_scores;\nSELECT max(id) AS top FROM gold.sql_scores;\n",
        encoding="utf-8",
    )
    assert jobs.sql.main(["--format", "json", "-f", str(script)]) == 0
    assert capsys.readouterr().out.splitlines() == ['{"n": 3}', '{"top": 333}']


def test_unknown_table_is_one_line_naming_the_tables(lake: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert jobs.sql.main(["SELECT * FROM gold.sql_scorez"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("sql: no table gold.sql_scorez; tables: ")
    assert "gold.sql_scores" in err.strip().split("tables: ")[1].split(", ")


def test_other_errors_are_one_line_too(lake: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert jobs.sql.main(["SELECT nope FROM gold.sql_scores"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope" in err and not err.startswith("sql: [")


def test_the_interactive_shell_runs_statements_until_exit(
    lake: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = (
        "SELECT name FROM gold.sql_scores WHERE id = 22;\n"
        "SELECT\n  count(*) AS n\nFROM gold.missing;\n"  # a statement over three lines, failing
        "exit\nSELECT 1;\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert jobs.sql.main(["--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["name", "bo"]  # the statement after `exit` never ran
    assert "error: no table gold.missing; tables:" in captured.err
