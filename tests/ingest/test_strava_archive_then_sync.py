"""Archive first, then the API: the sync continues after the archive's newest activity (minus the usual overlap)
and fetches no streams for activities the archive brought. Together they land every activity; silver keeps each
once (tests/integration/test_strava_archive_silver.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive_support import archive_of
from ingest_support import ATHLETE_ID, epoch, generate_activities, read_landed

from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.strava import StravaSettings, sync_strava
from lakehouse.sources.strava_archive import import_archive
from lakehouse_demo.standins.strava import StravaStandin

OVERLAP = timedelta(days=7)  # the sync's default overlap


def test_api_sync_after_an_archive_starts_at_the_archives_newest_activity(
    landing: LandingZone,
    clock: ManualClock,
    strava_settings: Callable[..., StravaSettings],
    tmp_path: Path,
) -> None:
    history = generate_activities(60, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))
    history.sort(key=lambda a: (a["start_date"], a["id"]))
    archived = history[:40]
    newest = max(epoch(a["start_date"]) for a in archived)
    import_archive(archive_of(archived, tmp_path / "export", ATHLETE_ID), landing)

    with StravaStandin(history, clock=clock) as strava:
        report = sync_strava(strava_settings(strava, fetch_streams=True), landing, clock=clock, progress=None)
        lists = [query for method, path, query, _ in strava.requests if path == "/api/v3/athlete/activities"]
        streamed = {int(path.split("/")[4]) for _, path, _, _ in strava.requests if path.endswith("/streams")}

    assert report.completed
    assert lists[0]["after"] == str(newest - int(OVERLAP.total_seconds()))
    from_api = [a for a in read_landed(landing, "strava", "activities") if a.get("_route") != "archive"]
    expected_api = {a["id"] for a in history if epoch(a["start_date"]) >= newest - OVERLAP.total_seconds()}
    assert {a["id"] for a in from_api} == expected_api
    # Streams only for what the archive did not bring.
    assert streamed == expected_api - {a["id"] for a in archived}
    assert {a["id"] for a in archived} | expected_api == {a["id"] for a in history}
