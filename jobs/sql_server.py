"""The JDBC/ODBC server for BI tools (Spark's Thrift server) over the lakehouse's tables by name.

    python -m jobs.sql_server start              # background; prints the JDBC URL
    python -m jobs.sql_server status
    python -m jobs.sql_server stop               # add --metastore to stop the local metastore too
    beeline -u jdbc:hive2://127.0.0.1:10000/default -e "SELECT * FROM gold.training_load_daily LIMIT 5"

`serve` is what `start` runs under spark-submit (the server in the foreground); it is not meant to be typed.
Exits 0 on success, 1 when the server cannot start, 2 for bad arguments or settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lakehouse.config import ConfigError, load_settings
from lakehouse.metastore import local_metastore, server_status, stop_server
from lakehouse.sqlserver import SqlServerError, serve, sql_server, start, status, stop


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="jobs.sql_server", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "status", "serve"))
    parser.add_argument("--env", default=None, help="settings file conf/<env>.toml (default: $LAKEHOUSE_ENV or local)")
    parser.add_argument("--metastore", action="store_true", help="stop: also stop the local metastore server")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.sql_server`."""
    args = parse_args(argv)
    try:
        settings = load_settings(args.env)
    except ConfigError as exc:
        print(f"sql_server: bad settings: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from lakehouse.spark import get_spark

        serve(get_spark(settings), settings)
        return 0
    if args.command == "start":
        try:
            server = start(settings, settings.env)
        except SqlServerError as exc:
            print(f"sql_server: {exc}", file=sys.stderr)
            return 1
        print(f"SQL server running: {server.jdbc_url} (log {server.log_file})")
    elif args.command == "stop":
        print("SQL server stopped" if stop(settings) else "SQL server was not running")
        if args.metastore:
            print("metastore stopped" if stop_server(local_metastore(settings)) else "metastore was not running")
    else:
        print(status(sql_server(settings)))
        print(server_status(local_metastore(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
