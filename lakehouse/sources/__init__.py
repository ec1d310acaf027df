"""Ingestion from the sources into the landing zone: Strava and Fitbit API clients, MapMyRun CSV import."""

from __future__ import annotations
