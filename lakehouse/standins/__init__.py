"""Local stand-in servers for the Strava and Fitbit APIs: the same client code runs against them or the real ones."""

from __future__ import annotations
