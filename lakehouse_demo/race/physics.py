"""Cycling power <-> speed on a gradient (the standard model: air drag, rolling resistance, gravity).

P * efficiency = v * (0.5 * rho * CdA * v^2 + m * g * (sin(theta) + Crr * cos(theta))), with theta the
road angle. `speed_for_power` solves the cubic in closed form (Cardano), vectorised over riders.
"""

from __future__ import annotations

import numpy as np

AIR_DENSITY = 1.2  # kg/m3
GRAVITY = 9.81
ROLLING_RESISTANCE = 0.004
DRIVETRAIN_EFFICIENCY = 0.975
BIKE_KG = 7.5
MAX_DESCENT_SPEED = 21.0  # m/s: corners and brakes cap real descents around 75 km/h


def _resistance(grade: np.ndarray, mass: np.ndarray) -> np.ndarray:
    theta = np.arctan(grade)
    return mass * GRAVITY * (np.sin(theta) + ROLLING_RESISTANCE * np.cos(theta))


def power_for_speed(speed: np.ndarray, grade: np.ndarray, mass: np.ndarray, cda: np.ndarray) -> np.ndarray:
    """Pedal power (W) to ride at `speed` (m/s) on `grade`; negative when gravity does more than enough."""
    speed = np.asarray(speed, dtype=float)
    drag = 0.5 * AIR_DENSITY * cda * speed**2
    return speed * (drag + _resistance(grade, mass)) / DRIVETRAIN_EFFICIENCY


def speed_for_power(power: np.ndarray, grade: np.ndarray, mass: np.ndarray, cda: np.ndarray) -> np.ndarray:
    """Steady speed (m/s) for pedal `power` (W) on `grade`, capped at `MAX_DESCENT_SPEED`.

    Example: `speed_for_power(np.array([400.0]), np.array([0.07]), np.array([75.0]), np.array([0.32]))`
    is about 6.2 m/s (22 km/h) up a 7 % climb.
    """
    a = 0.5 * AIR_DENSITY * np.asarray(cda, dtype=float)
    b = _resistance(np.asarray(grade, dtype=float), np.asarray(mass, dtype=float))
    c = np.maximum(np.asarray(power, dtype=float), 0.0) * DRIVETRAIN_EFFICIENCY
    # a v^3 + b v - c = 0  ->  v^3 + p v + q = 0
    p = b / a
    q = -c / a
    disc = (q / 2) ** 2 + (p / 3) ** 3
    root = np.sqrt(np.maximum(disc, 0.0))
    one_real = np.cbrt(-q / 2 + root) + np.cbrt(-q / 2 - root)
    safe_p = np.minimum(p, -1e-9)
    arg = np.clip((3 * q / (2 * safe_p)) * np.sqrt(-3 / safe_p), -1.0, 1.0)
    largest = 2 * np.sqrt(-safe_p / 3) * np.cos(np.arccos(arg) / 3)
    speed = np.where(disc >= 0, one_real, largest)
    return np.clip(speed, 0.0, MAX_DESCENT_SPEED)
