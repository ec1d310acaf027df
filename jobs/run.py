"""Your own data: ingest what you configured, then bronze -> silver -> gold (and race), for any mix of sources.

    python -m jobs.run                                   # every stage: ingest, bronze, silver, gold, race
    python -m jobs.run --stages bronze,silver,gold       # some stages (comma list)
    python -m jobs.run --stages gold --full-gold         # recompute gold from scratch
    python -m jobs.run --recheck                         # run the stages even when nothing changed
    lakehouse --stages silver                            # the same, as the installed console script

Ingest pulls from each API whose credentials are present (Strava: STRAVA_CLIENT_ID / _SECRET / _REFRESH_TOKEN;
Google Health: GOOGLE_HEALTH_CLIENT_ID / _SECRET / _REFRESH_TOKEN; or their token files)
and imports the export files listed under [imports] in conf/local.toml (each file once).
A source with nothing landed is skipped with a note. When nothing changed since the last good run (no file
landed, same settings, code and tables: `lakehouse.runstate`), the run says so and stops before starting Spark.
Settings: conf/local.toml and conf/people.toml (who is
who). Exit codes: 0 done, 1 failed, 2 bad arguments or settings, 3 an API stopped early (run again later).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lakehouse.cli import EXIT_FAILED, EXIT_OK, EXIT_STOPPED_EARLY, one_line, progress, run_job
from lakehouse.config import Settings
from lakehouse.landing import LandingZone, new_run_id
from lakehouse.stages import FAILED, SummaryRow, report, run_stages
from lakehouse.stages import STAGES as TABLE_STAGES
from lakehouse.storage import open_store

STAGES = ("ingest", *TABLE_STAGES)
IMPORTED_PREFIX = "_imports/"


def _files(patterns: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        found += [Path(p) for p in sorted(glob.glob(str(Path(pattern).expanduser())))]
    return found


def _digest(path: Path) -> str:
    """The content's SHA-256 (a folder: its files' names, sizes and times)."""
    sha = hashlib.sha256()
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if item.is_file():
                stat = item.stat()
                sha.update(f"{item.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        return sha.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


Imported = tuple[int, int | None]  # (records landed, records the importer rejected; None: it does not reject rows)


def _import_mapmyrun(path: Path, landing: LandingZone, settings: Settings) -> Imported:
    from lakehouse.sources.mapmyrun import import_csv

    return sum(f.records for f in import_csv(path, landing, new_run_id())), None


def _import_strava_archive(path: Path, landing: LandingZone, settings: Settings) -> Imported:
    from lakehouse.sources.strava_archive import import_archive

    athletes = [p.strava_athlete_id for p in settings.people if p.strava_athlete_id]
    report = import_archive(path, landing, athlete_id=athletes[0] if len(athletes) == 1 else None)
    return int(report.activities_landed), int(report.rows_quarantined + sum(report.files_failed.values()))


def _import_takeout(path: Path, landing: LandingZone, settings: Settings) -> Imported:
    from lakehouse.sources.takeout import import_takeout

    users = [u for p in settings.people for u in p.fitbit_user_ids]
    report = import_takeout(path, landing, user_id=users[0] if len(users) == 1 else "me")
    return int(sum(report.records_landed.values())), report.records_rejected


IMPORTERS = {"mapmyrun": _import_mapmyrun, "strava_archive": _import_strava_archive, "takeout": _import_takeout}


def import_files(settings: Settings, landing: LandingZone) -> list[SummaryRow]:
    """Import the export files listed in [imports] that were not imported before (by content); a file that
    fails is reported (FAILED and why) and the others still import."""
    rows = []
    store = landing.store
    for kind, importer in IMPORTERS.items():
        for path in _files(getattr(settings.imports, kind)):
            started = time.monotonic()
            marker = f"{IMPORTED_PREFIX}{kind}/{_digest(path)}"
            label = f"{kind}: {path.name}"
            if store.exists(marker):
                rows.append(SummaryRow("ingest", label, 1, None, 0, None, 0.0, "imported before"))
                continue
            progress(f"ingest: {label}")
            try:
                records, rejected = importer(path, landing, settings)
            except Exception as exc:  # one export failing never stops the others
                rows.append(SummaryRow("ingest", label, 1, None, None, None, time.monotonic() - started,
                                       f"{FAILED}: {one_line(exc)}"))  # fmt: skip
                continue
            store.write_bytes(marker, str(path).encode("utf-8"))
            # Rejected rows and files land marked as such; bronze quarantines them with their reason.
            rows.append(SummaryRow("ingest", label, 1, records + (rejected or 0), records, rejected,
                                   time.monotonic() - started))  # fmt: skip
    return rows


def _api_syncs(settings: Settings) -> list[tuple[str, Callable[[], Any], Callable[[LandingZone], Any]]]:
    """(name, settings from the environment, sync) of every API client; a client without credentials is skipped."""
    from lakehouse.sources.google_health import GoogleHealthSettings, sync_google_health
    from lakehouse.sources.strava import StravaSettings, sync_strava

    users = [u for p in settings.people for u in p.fitbit_user_ids]
    google_overrides = {"user_id": users[0]} if len(users) == 1 else {}
    return [
        ("strava API", StravaSettings.from_env, lambda client, landing: sync_strava(client, landing)),
        ("google-health API", lambda: GoogleHealthSettings.from_env(**google_overrides),
         lambda client, landing: sync_google_health(client, landing)),
    ]  # fmt: skip


def ingest(settings: Settings) -> tuple[list[SummaryRow], bool]:
    """Every configured source: APIs with credentials present, then export files. Returns (rows, stopped early)."""
    from lakehouse.sources.errors import CredentialsError

    landing = LandingZone(open_store(settings.landing_root, settings.s3))
    rows: list[SummaryRow] = []
    stopped = False
    for name, client_settings, sync in _api_syncs(settings):
        started = time.monotonic()
        try:
            client = client_settings()
        except CredentialsError as exc:
            rows.append(SummaryRow("ingest", name, None, None, None, None, 0.0, f"skipped: {exc}"))
            continue
        progress(f"ingest: {name}")
        try:
            report = sync(client, landing)
        except Exception as exc:  # one API failing never stops the other sources
            rows.append(SummaryRow("ingest", name, None, None, None, None, time.monotonic() - started,
                                   f"{FAILED}: {one_line(exc)}"))  # fmt: skip
            continue
        stopped = stopped or not report.completed
        rows.append(SummaryRow("ingest", name, None, report.records_landed, report.records_landed, None,
                               time.monotonic() - started,
                               "" if report.completed else f"stopped early: {report.message}"))  # fmt: skip
    rows += import_files(settings, landing)
    return rows, stopped


def body(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen stages on the user's data and print the summary."""
    started = time.monotonic()
    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else list(STAGES)
    unknown = [s for s in stages if s not in (*STAGES, "race")]
    if unknown:
        print(f"run: unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}", file=sys.stderr)
        return 2
    rows: list[SummaryRow] = []
    stopped = False
    if "ingest" in stages:
        ingested, stopped = ingest(settings)
        rows += ingested
    if not settings.people:
        progress("no people file (conf/people.toml): each source identity is its own person; "
                 "copy conf/people.example.toml to link them and set your physiology")  # fmt: skip
    rows += run_stages(settings, stages, new_run_id(), force=args.force, full_gold=args.full_gold,
                       with_race=not args.stages or "race" in stages, skip_unchanged=not args.recheck)  # fmt: skip
    if not report("run", rows, settings, started):
        return EXIT_FAILED
    return EXIT_STOPPED_EARLY if stopped else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.run`, the `lakehouse` console script and spark-submit."""
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default=None,
                        help=f"comma list of stages to run (default: all of {','.join(STAGES)},race)")
    parser.add_argument("--force", action="store_true", help="bronze: reload every landing file")
    parser.add_argument("--full-gold", action="store_true", help="gold: recompute everything, not just what changed")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="run the stages (their own checks) even when nothing changed since the last good run",
    )
    return run_job("run", parser, body, argv, lock=True, default_env="local")


if __name__ == "__main__":
    sys.exit(main())
