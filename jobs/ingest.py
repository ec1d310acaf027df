"""Pull new data from the APIs (or import an export) into the landing zone; re-running is always safe.

    python -m jobs.ingest strava               # everything new since the last run (STRAVA_* credentials)
    python -m jobs.ingest strava --details --streams --full-refresh
    python -m jobs.ingest fitbit               # legacy Fitbit Web API (turned off 2026-11-02: answers 410)
    python -m jobs.ingest google-health --user ana   # Fitbit/Pixel data, Google Health API (GOOGLE_HEALTH_*)
    python -m jobs.ingest takeout takeout.zip --user ana   # a Google Takeout export of Fitbit data
    python -m jobs.ingest mapmyrun export.csv  # a MapMyRun workout-history export
    python -m jobs.ingest strava-archive export_12345.zip  # Strava's "Download your data" archive (or its folder)
    python -m jobs.ingest demo                 # the same clients against local stand-in servers

Credentials come from the environment (or the token file the clients keep, outside the repository):
STRAVA_CLIENT_ID, STRAVA_CLIENT_SECRET, STRAVA_REFRESH_TOKEN; FITBIT_CLIENT_ID, FITBIT_CLIENT_SECRET,
FITBIT_REFRESH_TOKEN; GOOGLE_HEALTH_CLIENT_ID, GOOGLE_HEALTH_CLIENT_SECRET, GOOGLE_HEALTH_REFRESH_TOKEN;
STRAVA_BASE_URL, FITBIT_BASE_URL and GOOGLE_HEALTH_BASE_URL/_TOKEN_URL point them elsewhere. The landing root
is the settings' (local or s3://). A run stopped by a rate limit says when to go on; the next run resumes there.
Exit codes: 0 done, 3 stopped early (run again later), 1 failed (or the API is gone: 410), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from lakehouse.config import ConfigError, Settings, load_settings
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.sources.credentials import Secret
from lakehouse.sources.sync import SyncReport
from lakehouse.storage import open_store

EXIT_STOPPED_EARLY = 3
GONE = "gone"  # EndpointGoneError.reason
DEMO_MAX_RUNS = 50


def landing_zone(settings: Settings) -> LandingZone:
    """The settings' landing zone (local folder or S3)."""
    return LandingZone(open_store(settings.landing_root, settings.s3))


def ingest_strava(settings: Settings, args: argparse.Namespace) -> SyncReport:
    """One Strava sync with the user's credentials."""
    from lakehouse.sources.strava import StravaSettings, sync_strava

    overrides: dict[str, Any] = {}
    if args.details:
        overrides["fetch_details"] = True
    if args.streams:
        overrides["fetch_streams"] = True
    strava = StravaSettings.from_env(**overrides)
    return sync_strava(strava, landing_zone(settings), full_refresh=args.full_refresh, force=args.force)


def ingest_fitbit(settings: Settings, args: argparse.Namespace) -> SyncReport:
    """One Fitbit sync with the user's credentials."""
    from lakehouse.sources.fitbit import FitbitSettings, sync_fitbit

    return sync_fitbit(FitbitSettings.from_env(), landing_zone(settings), force=args.force)


def ingest_google_health(settings: Settings, args: argparse.Namespace) -> SyncReport:
    """One Google Health API sync with the user's credentials."""
    from datetime import date

    from lakehouse.sources.google_health import GoogleHealthSettings, sync_google_health

    overrides: dict[str, Any] = {}
    if args.user:
        overrides["user_id"] = args.user
    if args.start_date:
        overrides["start_date"] = date.fromisoformat(args.start_date)
    google = GoogleHealthSettings.from_env(**overrides)
    return sync_google_health(google, landing_zone(settings), force=args.force)


def ingest_takeout(settings: Settings, args: argparse.Namespace) -> int:
    """Import one Google Takeout export (zip or unpacked folder) and print its report."""
    from lakehouse.sources.takeout import import_takeout

    report = import_takeout(Path(args.export), landing_zone(settings), user_id=args.user or "me")
    for line in report.lines():
        print(line)
    print(f"takeout: {sum(report.records_landed.values()):,} records -> {settings.landing_root}/google_health/")
    return 0


def ingest_mapmyrun(settings: Settings, args: argparse.Namespace) -> int:
    """Import one MapMyRun CSV export."""
    from lakehouse.sources.mapmyrun import import_csv

    files = import_csv(Path(args.csv), landing_zone(settings), new_run_id())
    written = [f for f in files if f.written]
    print(f"mapmyrun: {sum(f.records for f in files)} workouts in {len(files)} monthly files "
          f"({len(written)} new) -> {settings.landing_root}/mapmyrun/workouts/")  # fmt: skip
    return 0


def ingest_strava_archive(settings: Settings, args: argparse.Namespace) -> int:
    """Import a Strava "Download your data" archive and print its report."""
    from lakehouse.sources.strava_archive import ArchiveError, import_archive, load_header_map, render_report

    try:
        header_map = load_header_map(Path(args.header_map)) if args.header_map else None
        report = import_archive(
            Path(args.archive),
            landing_zone(settings),
            athlete_id=args.athlete_id,
            header_map=header_map,
            timezone=args.timezone,
        )
    except ArchiveError as exc:
        print(f"strava-archive: {exc}", file=sys.stderr)
        return 2
    print(render_report(report), end="")
    problems = report.rows_quarantined + sum(report.files_failed.values()) + report.files_missing + report.links_refused
    print(f"strava-archive: {report.activities_landed:,} activities and {report.streams_landed:,} stream sets "
          f"landed -> {settings.landing_root}/strava/; {problems:,} problem(s) listed above")  # fmt: skip
    return 0


def demo(
    settings: Settings, quiet: bool = False, details: bool = False, streams: bool = False, google_health: bool = False
) -> list[SyncReport]:
    """Serve the sample data from the stand-in servers and sync it with the real clients, run after run.

    The stand-ins keep real limits (Strava 100 reads per 15 minutes and 1,000 a day, Fitbit 150 an hour) on
    a simulated clock, so a long backfill shows its stops and resumes in seconds. With `google_health`, the
    Google Health API client also syncs the sample's Fitbit days from its stand-in (300 calls a minute).
    """
    from lakehouse.sources.clock import ManualClock
    from lakehouse.sources.fitbit import FitbitSettings, sync_fitbit
    from lakehouse.sources.strava import StravaSettings, sync_strava
    from lakehouse_demo.sample import fitbit as sample_fitbit
    from lakehouse_demo.sample import strava as sample_strava
    from lakehouse_demo.standins.fitbit import FitbitStandin
    from lakehouse_demo.standins.strava import StravaStandin

    sample = settings.sample
    activities = sample_strava.generate_activities(sample)
    days: dict[str, dict[str, Any]] = defaultdict(dict)
    for envelope in sample_fitbit.generate_days(sample, activities):
        days[envelope["date"]][envelope["resource"]] = envelope["response"]
    clock = ManualClock(datetime.combine(sample.end_date + timedelta(days=1), time(6), tzinfo=UTC))
    landing = landing_zone(settings)
    progress = None if quiet else sys.stderr
    reports: list[SyncReport] = []
    with tempfile.TemporaryDirectory(prefix="lakehouse-demo-tokens-") as tokens, StravaStandin(
        activities, clock=clock
    ) as strava, FitbitStandin(days, clock=clock, user_id=sample.fitbit_user_id) as fitbit:  # fmt: skip
        strava_settings = StravaSettings(
            client_id=strava.client_id, client_secret=Secret(strava.client_secret),
            refresh_token=Secret(strava.refresh_token), token_file=Path(tokens) / "strava-token.json",
            base_url=strava.base_url, fetch_details=details, fetch_streams=streams,
        )  # fmt: skip
        fitbit_settings = FitbitSettings(
            client_id=fitbit.client_id, client_secret=Secret(fitbit.client_secret),
            refresh_token=Secret(fitbit.refresh_token), token_file=Path(tokens) / "fitbit-token.json",
            base_url=fitbit.base_url, start_date=min(days) and datetime.fromisoformat(min(days)).date(),
        )  # fmt: skip
        for name, sync in (
            ("strava", lambda: sync_strava(strava_settings, landing, clock=clock, progress=progress)),
            ("fitbit", lambda: sync_fitbit(fitbit_settings, landing, clock=clock, progress=progress,
                                           today=sample.end_date)),
        ):  # fmt: skip
            for attempt in range(1, DEMO_MAX_RUNS + 1):
                report = sync()
                reports.append(report)
                if not quiet:
                    print(f"{name} run {attempt}: {report.calls} calls, {report.records_landed} records landed; "
                          f"{report.message}")  # fmt: skip
                if report.completed:
                    break
                if report.resume_at is None:
                    raise RuntimeError(f"{name} stopped without a resume point: {report.message}")
                clock.set(max(report.resume_at, clock.now()))
        if google_health:
            reports.append(_demo_google_health(settings, landing, clock, Path(tokens), progress, quiet))
    return reports


def _demo_google_health(
    settings: Settings, landing: LandingZone, clock: Any, tokens: Path, progress: Any, quiet: bool
) -> SyncReport:
    """The Google Health client against its stand-in, on the sample's Fitbit days (user: the sample's)."""
    from lakehouse.sources.google_health import GoogleHealthSettings, sync_google_health
    from lakehouse_demo.standins.google_health import GoogleHealthStandin, demo_points

    sample = settings.sample
    first = sample.end_date - timedelta(days=sample.fitbit_days - 1)
    with GoogleHealthStandin(demo_points(first, sample.fitbit_days), clock=clock) as google:
        google_settings = GoogleHealthSettings(
            client_id=google.client_id, client_secret=Secret(google.client_secret),
            refresh_token=Secret(google.refresh_token), token_file=tokens / "google-health-token.json",
            user_id=sample.fitbit_user_id, base_url=google.base_url, token_url=google.token_url, start_date=first,
        )  # fmt: skip
        report = sync_google_health(google_settings, landing, clock=clock, progress=progress, today=sample.end_date)
    if not quiet:
        print(f"google-health: {report.calls} calls, {report.records_landed} points landed; {report.message}")
    return report


def report_exit(report: SyncReport) -> int:
    """Print a sync report's outcome and map it to an exit code."""
    print(f"{report.source}: {report.calls} calls, {report.records_landed} records landed. {report.message}")
    if report.stopped_reason == GONE:
        return 1  # the API is switched off: running again later will not help
    return 0 if report.completed else EXIT_STOPPED_EARLY


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="settings file conf/<env>.toml")
    sub = parser.add_subparsers(dest="source", required=True)
    strava = sub.add_parser("strava", help="sync Strava activities")
    strava.add_argument("--details", action="store_true", help="also land each new activity's detail")
    strava.add_argument("--streams", action="store_true", help="also land each new activity's streams")
    strava.add_argument("--full-refresh", action="store_true", help="ignore the watermark: pull everything")
    strava.add_argument("--force", action="store_true", help="ignore a 'run after' left by a stopped run")
    fitbit = sub.add_parser("fitbit", help="sync Fitbit intraday days")
    fitbit.add_argument("--force", action="store_true", help="ignore a 'run after' left by a stopped run")
    google = sub.add_parser("google-health", help="sync Fitbit/Pixel data from the Google Health API")
    google.add_argument("--user", default=None, help="person key to land under (default: GOOGLE_HEALTH_USER, 'me')")
    google.add_argument("--start-date", default=None, help="first day of a first run, YYYY-MM-DD (default: a week ago)")
    google.add_argument("--force", action="store_true", help="ignore a 'run after' left by a stopped run")
    takeout = sub.add_parser("takeout", help="import a Google Takeout export of Fitbit / Google Health data")
    takeout.add_argument("export", help="the Takeout .zip (streamed, never unpacked) or its unpacked folder")
    takeout.add_argument("--user", default=None, help="person key to land under (default: 'me')")
    mapmyrun = sub.add_parser("mapmyrun", help="import a MapMyRun workout-history CSV export")
    mapmyrun.add_argument("csv", help="path of the export")
    archive = sub.add_parser("strava-archive", help="import Strava's 'Download your data' archive (zip or folder)")
    archive.add_argument("archive", help="the export zip (export_<athlete-id>.zip) or its unpacked folder")
    archive.add_argument("--athlete-id", type=int, default=None, help="when the archive has no profile.csv")
    archive.add_argument("--timezone", default=None, help="IANA zone for local start times a file does not give")
    archive.add_argument("--header-map", default=None, help="JSON {localized header: English} for other languages")
    demo_parser = sub.add_parser("demo", help="sync the sample data through local stand-in servers")
    demo_parser.add_argument("--details", action="store_true", help="also land every activity's detail")
    demo_parser.add_argument("--streams", action="store_true", help="also land every activity's streams")
    demo_parser.add_argument("--google-health", action="store_true", help="also sync the Google Health stand-in")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.ingest`."""
    args = parse_args(argv)
    try:
        # The stand-in demo lands the sample: into the demo lakehouse unless told otherwise.
        settings = load_settings(
            args.env or ("demo" if args.source == "demo" and not os.environ.get("LAKEHOUSE_ENV") else None)
        )
    except ConfigError as exc:
        print(f"ingest: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        if args.source == "strava":
            return report_exit(ingest_strava(settings, args))
        if args.source == "fitbit":
            return report_exit(ingest_fitbit(settings, args))
        if args.source == "google-health":
            return report_exit(ingest_google_health(settings, args))
        if args.source == "mapmyrun":
            return ingest_mapmyrun(settings, args)
        if args.source == "strava-archive":
            return ingest_strava_archive(settings, args)
        if args.source == "takeout":
            return ingest_takeout(settings, args)
        reports = demo(settings, details=args.details, streams=args.streams, google_health=args.google_health)
        print(f"demo: {sum(r.calls for r in reports)} API calls in {len(reports)} runs -> {settings.landing_root}")
        return 0
    except Exception as exc:  # one clear line; secrets never appear in these messages
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"ingest {args.source} failed: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
