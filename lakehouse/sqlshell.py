"""SQL over the lakehouse's tables by name: statements, aligned result tables, exports, one-line errors.

The pieces behind `python -m jobs.sql`: split a script into statements, run each, print the result as an
aligned table (rich) or export it as CSV / JSON lines, and turn Spark's long analysis errors into one line
(an unknown table names the tables that exist).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, Row, SparkSession
from rich import box
from rich.console import Console
from rich.table import Table

from lakehouse.config import Settings
from lakehouse.metastore import LAYERS

FORMATS = ("table", "csv", "json")
DISPLAY_LIMIT = 1000  # rows shown in a terminal table; exports have no limit


class SqlError(RuntimeError):
    """A statement failed; the message is one line meant for a person."""


def split_statements(text: str) -> list[str]:
    """Split a SQL script on `;` outside quotes and comments; comments and empty statements are dropped.

    Example: `split_statements("SELECT ';'; -- done;\nSELECT 2")` gives `["SELECT ';'", "SELECT 2"]`.
    """
    statements, current, i, quote = [], [], 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
            current.append(ch)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif ch == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def known_tables(spark: SparkSession, settings: Settings) -> list[str]:
    """The lakehouse's table names (`layer.table`, or `catalog.layer.table` in catalog mode)."""
    names = []
    for layer in LAYERS:
        schema = f"{settings.catalog}.{layer}" if settings.catalog else layer
        try:
            rows = spark.sql(f"SHOW TABLES IN {schema}").collect()
        except PySparkException:
            continue
        names += [f"{schema}.{r['tableName']}" for r in rows if not r["isTemporary"]]
    return sorted(names)


def one_line_error(exc: Exception, spark: SparkSession, settings: Settings) -> str:
    """Spark's error as one line; an unknown table also lists the tables that exist."""
    condition = exc.getCondition() if isinstance(exc, PySparkException) else None
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = re.sub(r"\s*SQLSTATE: \w+\s*$", "", message)
    if condition == "TABLE_OR_VIEW_NOT_FOUND":
        missing = re.search(r"table or view (\S+) cannot be found", message)
        name = missing.group(1).replace("`", "") if missing else "that table"
        tables = known_tables(spark, settings)
        return f"no table {name}; tables: {', '.join(tables) if tables else 'none yet (run the pipeline first)'}"
    return re.sub(r"^\[[A-Z_.]+\]\s*", "", message)


def run_statement(spark: SparkSession, settings: Settings, statement: str) -> DataFrame:
    """Run one statement; failures become `SqlError` with a one-line message."""
    try:
        return spark.sql(statement)  # analysed (and commands run) here: errors surface before any printing
    except Exception as exc:
        raise SqlError(one_line_error(exc, spark, settings)) from None


def _plain(value: Any) -> Any:
    """A value as JSON/CSV want it (dates ISO, decimals as numbers, nested rows as dicts)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Row):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    plain = _plain(value)
    return json.dumps(plain) if isinstance(plain, dict | list) else str(plain)


def render_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], console: Console, total: int) -> None:
    """Print rows as an aligned table (numbers right-aligned), then the row count."""
    rows = list(rows)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    numeric = [all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows) for i in range(len(columns))]
    for column, is_number in zip(columns, numeric, strict=True):
        table.add_column(column, justify="right" if is_number and rows else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    shown = f" (showing {len(rows)})" if total > len(rows) else ""
    console.print(f"{total} row{'s' if total != 1 else ''}{shown}", style="dim")


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """Rows as CSV with a header line."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])


def write_json(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """Rows as JSON lines: one object per row."""
    for row in rows:
        out.write(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}) + "\n")


def show(df: DataFrame, fmt: str, out: TextIO, console: Console) -> int:
    """Write `df` to `out` in `fmt` (`table` prints at most DISPLAY_LIMIT rows); returns the row count."""
    columns = df.columns
    if fmt == "table":
        if not columns:  # a command with no result (CREATE, INSERT ...)
            console.print("OK", style="dim")
            return 0
        rows = df.limit(DISPLAY_LIMIT + 1).collect()
        total = len(rows) if len(rows) <= DISPLAY_LIMIT else df.count()
        render_table(columns, rows[:DISPLAY_LIMIT], console, total)
        return total
    rows = df.collect()
    (write_csv if fmt == "csv" else write_json)(columns, rows, out)
    return len(rows)


def interactive(
    run: Callable[[str], None],
    read_line: Callable[[str], str] = input,
    err: TextIO | None = None,
) -> None:
    """A read-statement-print loop: statements end with `;`; `exit`, `quit` or end of input leave."""
    buffer: list[str] = []
    while True:
        try:
            line = read_line("lakehouse> " if not buffer else "        -> ")
        except EOFError:
            break
        except KeyboardInterrupt:
            buffer = []
            print(file=err)
            continue
        if not buffer and line.strip().rstrip(";").lower() in ("exit", "quit", r"\q"):
            break
        buffer.append(line)
        text = "\n".join(buffer)
        if not split_statements(text):
            buffer = [] if not text.strip() else buffer
            continue
        if text.rstrip().endswith(";"):
            buffer = []
            for statement in split_statements(text):
                run(statement)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV as a string (handy in notebooks and tests)."""
    out = io.StringIO()
    write_csv(columns, rows, out)
    return out.getvalue()
