"""The segment GIF: an animation of both riders over the segment, drawn without Spark."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lakehouse.race.gold.segment_gif import GifError, Track, render_segment_gif


def straight_track(label: str, seconds: list[float], metres: list[float]) -> Track:
    d = np.array(metres, dtype=float)
    return Track(label, np.array(seconds, dtype=float) + 1.7e9, np.zeros_like(d), d, d)


def test_two_riders_on_a_climb_make_an_animated_gif() -> None:
    route = np.arange(0.0, 3001.0, 250.0)
    a = straight_track("Un", [0, 100, 300, 400], [0, 1200, 2100, 3100])
    b = straight_track("Deux", [0, 120, 330, 420], [0, 1100, 2050, 3030])

    flat = np.zeros_like(route)
    data = render_segment_gif(
        "Stage 1 - Côte du Test", flat, route, route, route / 50, (a, b), 1000.0, 2000.0
    )

    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF" and image.is_animated
    # From the first rider at the foot (83.3 s) to the second at the top (318.9 s): one frame a second.
    assert image.n_frames == 120
    assert image.size == (480, 420)


def test_a_rider_who_never_reaches_the_top_cannot_be_drawn() -> None:
    route = np.arange(0.0, 3001.0, 250.0)
    a = straight_track("Un", [0, 100, 300], [0, 1200, 2100])
    stopped = straight_track("Trois", [0, 100, 200], [0, 800, 1500])

    with pytest.raises(GifError, match="whole segment"):
        render_segment_gif("x", np.zeros_like(route), route, route, route, (a, stopped), 1000.0, 2000.0)
