"""Open the dashboard: a local Streamlit web app over the lakehouse's gold tables.

    python -m jobs.dashboard                      # the embedded default's tables (./data/tables)
    python -m jobs.dashboard --root /tmp/lake     # another lakehouse (landing and tables under it)
    python -m jobs.dashboard --env test --port 8600

Set LAKEHOUSE_DASHBOARD_PASSWORD to ask for a password (for a shared deployment).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from lakehouse.config import ConfigError, load_settings

APP = Path(__file__).resolve().parents[1] / "lakehouse" / "dashboard" / "app.py"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="dashboard", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--root", help="the lakehouse root (sets LAKEHOUSE_ROOT)")
    where.add_argument("--tables", help="the tables root (sets LAKEHOUSE_TABLES_ROOT)")
    parser.add_argument("--env", default=None, help="settings file conf/<env>.toml")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1", help="where to listen (0.0.0.0 to share it)")
    return parser.parse_args(argv)


def command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The `streamlit run` command line and its environment."""
    env = dict(os.environ)
    if args.root:
        env["LAKEHOUSE_ROOT"] = str(Path(args.root).expanduser().resolve())
    if args.tables:
        env["LAKEHOUSE_TABLES_ROOT"] = args.tables
    if args.env:
        env["LAKEHOUSE_ENV"] = args.env
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(args.port),
           "--server.address", args.address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--global.developmentMode", "false", "--client.toolbarMode", "viewer"]
    return cmd, env


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.dashboard`."""
    args = parse_args(argv)
    cmd, env = command(args)
    try:
        settings = load_settings(env.get("LAKEHOUSE_ENV"), environ=env)
    except ConfigError as exc:
        print(f"dashboard: bad settings: {exc}", file=sys.stderr)
        return 2
    print(f"dashboard: tables {settings.tables_root}; open http://{args.address}:{args.port}", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
