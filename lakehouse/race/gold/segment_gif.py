"""An animated GIF of two riders on a segment: the road from above, both riders moving, the live gap.

Pure Python (numpy + Pillow, imported only when drawing), no Spark: `render_segment_gif` takes the
segment's route points and the two riders' points (plain rows collected from silver) and returns the
GIF's bytes. Frames are evenly spaced
in race time from when the first rider reaches the segment to when the second leaves it, at most
`MAX_FRAMES`; between GPS points positions are interpolated in time. Below the map, the segment's
altitude profile shows both riders too.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WIDTH, MAP_HEIGHT, PROFILE_HEIGHT = 480, 330, 90
MARGIN = 24
MAX_FRAMES = 120
FRAME_MS = 100
BACKGROUND = (250, 248, 240)
ROAD = (150, 150, 150)
TEXT = (30, 30, 30)
RIDER_COLOURS = ((214, 39, 40), (31, 119, 180))


class GifError(ValueError):
    """The riders have no points on the segment, so there is nothing to draw."""


@dataclass(frozen=True)
class Track:
    """One rider's points on (and around) the segment, in time order."""

    label: str
    epoch_s: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    distance_m: np.ndarray

    def at(self, t: float) -> tuple[float, float, float]:
        """Position (x, y, distance) at time `t`, interpolated between points."""
        return (
            float(np.interp(t, self.epoch_s, self.x_m)),
            float(np.interp(t, self.epoch_s, self.y_m)),
            float(np.interp(t, self.epoch_s, self.distance_m)),
        )

    def time_at(self, distance: float) -> float:
        """When the rider first reached `distance` (interpolated); +inf if never."""
        ahead = np.flatnonzero(self.distance_m >= distance)
        if not len(ahead):
            return float("inf")
        i = int(ahead[0])
        if i == 0:
            return float(self.epoch_s[0])
        d0, d1 = self.distance_m[i - 1], self.distance_m[i]
        t0, t1 = self.epoch_s[i - 1], self.epoch_s[i]
        return float(t0 + (distance - d0) / max(d1 - d0, 1e-9) * (t1 - t0))


def _fit(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float, float]:
    """Scale and offsets that fit the road into the map area, north up, aspect kept."""
    span = max(float(xs.max() - xs.min()), float(ys.max() - ys.min()), 1.0)
    scale = min(WIDTH - 2 * MARGIN, MAP_HEIGHT - 2 * MARGIN) / span
    x0 = (WIDTH - (xs.max() - xs.min()) * scale) / 2 - xs.min() * scale
    y0 = (MAP_HEIGHT + (ys.max() - ys.min()) * scale) / 2 + ys.min() * scale
    return float(scale), float(x0), float(y0)


def _clock(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    whole = round(abs(seconds))
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def render_segment_gif(
    title: str,
    route_x: Sequence[float],
    route_y: Sequence[float],
    route_distance: Sequence[float],
    route_altitude: Sequence[float],
    tracks: tuple[Track, Track],
    from_m: float,
    to_m: float,
) -> bytes:
    """The animated GIF (bytes) of the two tracks on the segment [from_m, to_m]."""
    from PIL import Image, ImageDraw  # Pillow is needed only to draw

    rx, ry = np.asarray(route_x, float), np.asarray(route_y, float)
    rd, ra = np.asarray(route_distance, float), np.asarray(route_altitude, float)
    starts = [t.time_at(from_m) for t in tracks]
    ends = [t.time_at(to_m) for t in tracks]
    if not all(np.isfinite(starts)) or not all(np.isfinite(ends)):
        raise GifError(f"{title}: both riders must ride the whole segment to be drawn")
    t_from, t_to = min(starts), max(ends)
    frames_count = max(2, min(MAX_FRAMES, int(t_to - t_from) + 1))
    times = np.linspace(t_from, t_to, frames_count)
    scale, x0, y0 = _fit(rx, ry)

    def px(x: float, y: float) -> tuple[float, float]:
        return x0 + x * scale, y0 - y * scale

    alt_lo, alt_hi = float(ra.min()), float(max(ra.max(), ra.min() + 1))

    def profile_xy(d: float, alt: float) -> tuple[float, float]:
        fx = MARGIN + (d - from_m) / max(to_m - from_m, 1.0) * (WIDTH - 2 * MARGIN)
        fy = MAP_HEIGHT + PROFILE_HEIGHT - 12 - (alt - alt_lo) / (alt_hi - alt_lo) * (PROFILE_HEIGHT - 28)
        return fx, fy

    base = Image.new("RGB", (WIDTH, MAP_HEIGHT + PROFILE_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(base)
    draw.line([px(x, y) for x, y in zip(rx, ry, strict=True)], fill=ROAD, width=4)
    draw.line([profile_xy(d, a) for d, a in zip(rd, ra, strict=True)], fill=ROAD, width=2)
    draw.text((MARGIN, 6), title, fill=TEXT)
    for i, (colour, track) in enumerate(zip(RIDER_COLOURS, tracks, strict=True)):
        draw.ellipse((MARGIN, 24 + 14 * i, MARGIN + 8, 32 + 14 * i), fill=colour)
        draw.text((MARGIN + 14, 22 + 14 * i), track.label, fill=colour)
    frames = []
    for t in times:
        frame = base.copy()
        pen = ImageDraw.Draw(frame)
        positions = [track.at(t) for track in tracks]
        for i, ((x, y, d), colour, track) in enumerate(zip(positions, RIDER_COLOURS, tracks, strict=True)):
            cx, cy = px(x, y)
            pen.ellipse((cx - 6, cy - 6, cx + 6, cy + 6), fill=colour, outline=TEXT)
            pen.text(
                (cx + 9, cy - 16 + 14 * i), track.label, fill=colour
            )  # labels apart when riders are together
            fx, fy = profile_xy(min(max(d, from_m), to_m), float(np.interp(d, rd, ra)))
            pen.ellipse((fx - 4, fy - 4, fx + 4, fy + 4), fill=colour)
        # The gap where the rider behind is now: how long ago the leader was there.
        ahead = 0 if positions[0][2] >= positions[1][2] else 1
        behind_at = positions[1 - ahead][2]
        gap = t - tracks[ahead].time_at(behind_at) if behind_at > from_m else 0.0
        leader = tracks[ahead].label
        km = (positions[ahead][2] - from_m) / 1000
        pen.text(
            (MARGIN, MAP_HEIGHT - 18),
            f"{km:5.2f} km into the segment   {leader} ahead by {_clock(gap)}",
            fill=TEXT,
        )
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=32))
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0)
    return out.getvalue()
