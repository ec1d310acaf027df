"""Local stand-ins for the Strava, Fitbit and Google Health APIs: the same client code talks to them or to the
real ones."""

from __future__ import annotations
