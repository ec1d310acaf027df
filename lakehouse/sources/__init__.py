"""Ingestion into the landing zone: the Strava and Fitbit API clients and the MapMyRun CSV import.

Entry points (each lands immutable monthly files through a `LandingZone`, on local disk or S3):
- `lakehouse.sources.strava.sync_strava(StravaSettings.from_env(), landing) -> SyncReport`
- `lakehouse.sources.fitbit.sync_fitbit(FitbitSettings.from_env(), landing) -> SyncReport`
- `lakehouse.sources.mapmyrun.import_csv(path, landing, run_id) -> list[LandedFile]`

The same clients talk to the real APIs or to the stand-ins in `lakehouse_demo.standins` (set the base URLs).
"""

from __future__ import annotations
