"""The race generators: deterministic, realistic in shape, and with the defects they promise."""

from __future__ import annotations

import numpy as np
import pytest

from lakehouse_demo.race.athletes import athletes_csv, generate_riders
from lakehouse_demo.race.physics import power_for_speed, speed_for_power
from lakehouse_demo.race.routes import STAGE_NUMBERS, RouteError, check_clearance, generate_route, route_csv
from lakehouse_demo.race.telemetry import Defects, arrival_windows, points_csv, simulate_stage

SEED = 2024


def test_the_tour_has_21_stages_of_every_kind_with_ordered_checkpoints() -> None:
    routes = [generate_route(stage, SEED) for stage in STAGE_NUMBERS]

    kinds = [r.plan.kind for r in routes]
    assert len(routes) == 21 and set(kinds) == {"flat", "hilly", "mountain", "itt"}
    assert 3300 < sum(r.length_m for r in routes) / 1000 < 3600
    for route in routes:
        names = [c.name for c in route.checkpoints]
        assert names[0] == "Start" and names[-1] == "Finish" and len(set(names)) == len(names)
        distances = [c.distance_m for c in route.checkpoints]
        assert distances == sorted(distances) and distances[-1] == route.length_m
        for foot, top in zip(
            [c for c in route.checkpoints if c.kind == "climb_foot"],
            [c for c in route.checkpoints if c.kind == "climb_top"],
            strict=True,
        ):
            assert foot.climb == top.climb and top.distance_m > foot.distance_m
        assert np.abs(route.gradient()).max() < 0.13
        check_clearance(route, min_gap_m=120, along_m=400)


def test_routes_and_riders_are_the_same_bytes_for_the_same_seed() -> None:
    assert route_csv(generate_route(9, SEED, 0.1)) == route_csv(generate_route(9, SEED, 0.1))
    assert route_csv(generate_route(9, SEED)) != route_csv(generate_route(9, SEED + 1))
    assert athletes_csv(generate_riders(SEED, 88)) == athletes_csv(generate_riders(SEED, 88))
    assert len({r.rider_id for r in generate_riders(SEED, 88)}) == 88


def test_a_scaled_route_keeps_its_gradients() -> None:
    full, small = generate_route(15, SEED), generate_route(15, SEED, 0.1)

    assert small.length_m == pytest.approx(full.length_m * 0.1)
    rise = (full.altitude_m.max() - full.altitude_m[0], small.altitude_m.max() - small.altitude_m[0])
    assert rise[1] == pytest.approx(rise[0] * 0.1, rel=0.02)


def test_a_route_that_comes_back_on_itself_is_refused() -> None:
    route = generate_route(3, SEED, 0.02)
    looped = type(route)(
        route.plan, route.start_time, route.distance_m, route.x_m * 0, route.y_m * 0, route.altitude_m,
        route.checkpoints, route.scale,
    )  # fmt: skip
    with pytest.raises(RouteError, match="passes within"):
        check_clearance(looped, min_gap_m=50, along_m=200)


def test_power_and_speed_are_inverse_and_climbing_is_slow() -> None:
    speed = speed_for_power(
        np.array([400.0, 400.0]), np.array([0.0, 0.07]), np.array([75.0] * 2), np.array([0.3] * 2)
    )

    assert 11.5 < speed[0] < 13 and 6 < speed[1] < 7
    back = power_for_speed(speed, np.array([0.0, 0.07]), np.array([75.0] * 2), np.array([0.3] * 2))
    np.testing.assert_allclose(back, [400.0, 400.0])


def test_a_stage_simulation_is_deterministic_and_has_the_documented_defects() -> None:
    riders = generate_riders(SEED, 12)
    route = generate_route(9, SEED, 0.1)
    defects = Defects(duplicate_rate=0.01, late_burst_probability=1.0)
    first = simulate_stage(route, riders, SEED, defects)
    second = simulate_stage(route, riders, SEED, defects)

    assert points_csv(first) == points_csv(second)
    keys = first.rider_id.astype(np.int64) * 10**10 + first.epoch_s
    assert 0.003 < 1 - len(np.unique(keys)) / len(keys) < 0.02  # duplicate sends
    delay = first.arrival_s - first.epoch_s
    assert (delay > 60).any() and delay.max() <= 601  # late bursts, within the documented maximum
    arrival_order = first.epoch_s[np.argsort(first.arrival_s, kind="stable")]
    by_rider = [arrival_order[first.rider_id == r] for r in np.unique(first.rider_id)]
    assert any((np.diff(seq) < 0).any() for seq in by_rider)  # out of order within a rider
    assert np.isnan(first.power_w).any() and not np.isnan(first.power_w).all()  # sensors vary by rider
    # Even a short mountain stage spreads the field.
    finish = np.array(sorted(first.finish_epoch_s.values()))
    assert finish[-1] - finish[0] > 10
    speed = first.speed_mps
    assert 5 < speed[speed > 0].mean() < 14 and speed.max() < 30


def test_files_hold_arrival_windows_and_stay_bounded() -> None:
    riders = generate_riders(SEED, 6)
    points = simulate_stage(generate_route(3, SEED, 0.05), riders, SEED)
    files = arrival_windows(points, window_s=120, max_rows=200)

    assert sum(len(p) for _, p in files) == len(points)
    assert max(len(p) for _, p in files) <= 200
    stems = [stem for stem, _ in files]
    assert stems == sorted(stems) and len(set(stems)) == len(stems)
    text = points_csv(files[0][1]).decode()
    assert text.startswith("rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm\n")
