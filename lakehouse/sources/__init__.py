"""Ingestion into the landing zone: the Strava, Google Health and (legacy) Fitbit API clients, the Google
Takeout and MapMyRun imports.

Entry points (each lands immutable monthly files through a `LandingZone`, on local disk or S3):
- `lakehouse.sources.strava.sync_strava(StravaSettings.from_env(), landing) -> SyncReport`
- `lakehouse.sources.google_health.sync_google_health(GoogleHealthSettings.from_env(), landing) -> SyncReport`
- `lakehouse.sources.takeout.import_takeout(path, landing, user_id="ana") -> TakeoutReport`
- `lakehouse.sources.fitbit.sync_fitbit(FitbitSettings.from_env(), landing) -> SyncReport` (the API answers
  410 since 2026-11-02; the run stops with one line pointing at the two above)
- `lakehouse.sources.mapmyrun.import_csv(path, landing, run_id) -> list[LandedFile]`

The same clients talk to the real APIs or to the stand-ins in `lakehouse_demo.standins` (set the base URLs).
"""

from __future__ import annotations
