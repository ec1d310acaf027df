"""SQL on the lakehouse's tables by name: one statement, a script, an export, or an interactive shell.

    python -m jobs.sql "SELECT * FROM gold.training_load_daily ORDER BY date DESC LIMIT 10"
    python -m jobs.sql -f report.sql                                  # every statement of a script
    python -m jobs.sql --format csv --out load.csv "SELECT * FROM gold.training_load_daily"
    python -m jobs.sql --format json "SELECT * FROM gold.trends_monthly"      # JSON lines on stdout
    python -m jobs.sql                                                # interactive shell (history kept)

Exits 0 on success; a failing statement prints one line (`sql: ...`) and exits 1 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pyspark.logger import PySparkLogger
from rich.console import Console

from lakehouse.config import ConfigError, load_settings
from lakehouse.spark import get_spark
from lakehouse.sqlshell import FORMATS, SqlError, interactive, run_statement, show, split_statements

HISTORY_FILE = Path.home() / ".cache" / "fitness-lakehouse" / "sql_history"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="jobs.sql", description=__doc__.splitlines()[0])
    parser.add_argument("statement", nargs="?", help="SQL to run (several statements separated by ;)")
    parser.add_argument("-f", "--file", type=Path, help="a SQL script to run")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--out", type=Path, help="write the (last) result here instead of stdout")
    parser.add_argument("--env", default=None, help="settings file conf/<env>.toml (default: $LAKEHOUSE_ENV or local)")
    args = parser.parse_args(argv)
    if args.statement and args.file:
        parser.error("give a statement or -f FILE, not both")
    return args


def _readline_input():
    """`input` with line editing and a persistent history, when readline is available."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return input, lambda: None
    HISTORY_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        readline.read_history_file(HISTORY_FILE)
    except OSError:
        pass
    readline.set_history_length(2000)
    return input, lambda: readline.write_history_file(HISTORY_FILE)


def _read_piped_line(prompt: str) -> str:
    """One line of piped input (not a terminal): the prompt goes to stderr, so stdout holds only results."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.sql`."""
    args = parse_args(argv)
    # PySpark logs every failed query's context as a JSON error on stderr; this command reports errors itself.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
    try:
        settings = load_settings(args.env)
        text = args.file.read_text(encoding="utf-8") if args.file else args.statement
    except (ConfigError, OSError) as exc:
        print(f"sql: {exc}", file=sys.stderr)
        return 2
    spark = get_spark(settings)

    def run(statement: str, out: TextIO = sys.stdout) -> None:
        df = run_statement(spark, settings, statement)
        # A terminal's table fits its width; a pipe or a file gets each row on one line, however wide.
        width = None if out.isatty() else 10_000
        show(df, args.format, out, Console(file=out, soft_wrap=False, width=width))

    if text is None:
        read_line, save_history = _readline_input() if sys.stdin.isatty() else (_read_piped_line, lambda: None)

        def run_and_report(statement: str) -> None:
            try:
                run(statement)
            except SqlError as exc:
                print(f"error: {exc}", file=sys.stderr)

        try:
            interactive(run_and_report, read_line, sys.stderr)
        finally:
            save_history()
        return 0

    statements = split_statements(text)
    if not statements:
        print("sql: nothing to run", file=sys.stderr)
        return 2
    try:
        for i, statement in enumerate(statements):
            last = i == len(statements) - 1
            if args.out and last:
                with open(args.out, "w", encoding="utf-8", newline="") as out:
                    run(statement, out)
            else:
                run(statement)
    except SqlError as exc:
        print(f"sql: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
