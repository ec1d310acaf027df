"""Local stand-ins for the Strava and Fitbit APIs: the same client code talks to them or to the real ones."""

from __future__ import annotations
