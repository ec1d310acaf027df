"""The flat local projection shared by route matching (silver) and the race simulator: degrees <-> metres."""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0


def to_local(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Degrees -> metres east and north of (lat0, lon0), in the flat projection silver also uses."""
    x = (np.asarray(lon) - lon0) * METRES_PER_DEGREE * math.cos(math.radians(lat0))
    y = (np.asarray(lat) - lat0) * METRES_PER_DEGREE
    return x, y


def to_latlon(x: np.ndarray, y: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of (lat0, lon0) -> degrees; the inverse of `to_local`."""
    lat = lat0 + np.asarray(y) / METRES_PER_DEGREE
    lon = lon0 + np.asarray(x) / (METRES_PER_DEGREE * math.cos(math.radians(lat0)))
    return lat, lon
