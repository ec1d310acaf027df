"""A Spark + Delta Lake medallion lakehouse for fitness and race data."""

from __future__ import annotations

__version__ = "0.1.0"
