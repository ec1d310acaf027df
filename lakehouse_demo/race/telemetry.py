"""Rider telemetry at 1 Hz: a seeded race simulation, then the imperfections of real device data.

No public rider-level telemetry exists, so this makes it. The race is simulated second by second for all
riders at once (numpy arrays over riders):
- Speeds come from power on the gradient (`physics`): the peloton's pace-setters ride a set power
  (higher on climbs and in the finale), and each rider in a group needs less power thanks to drafting.
- Breakaways go at kilometre 0; the peloton lets the gap grow, then chases by a controller that aims to
  catch them before the line (or lets them survive on some hilly and mountain stages).
- Each rider has a threshold power and a W' reserve; going above threshold drains it, and a rider whose
  reserve runs out is dropped and rides alone at his own pace. Dropped riders close to the bunch on flat
  roads chase back on. On the last climb of mountain stages the strongest riders attack.
- Sprint stages end in a bunch sprint; time trials start riders one by one in a tuck.
- A few riders abandon over the Tour and start no later stage.

What the devices record (see `Defects`): GPS noise (correlated wander of a few metres) and rare multipath
spikes thrown across the road, barometric altitude with an offset, wheel speed, heart rate lagging
effort, power and cadence when the rider has the sensors, short dropouts and the odd tunnel; and on the
way to the landing zone duplicate sends, network latency that reorders points, and buffered bursts
uploaded minutes late (optionally beyond the stream's watermark). The real 1 Hz Garmin recording in
`shared/realdata/tracks` set the scale: 99 % of intervals are 1 s, about 0.15 % of points repeat,
altitude moves in 0.2 m steps, cadence drops to 0 when coasting.

Same (seed, stage, riders, scale, defects): same points, whichever other stages are generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from lakehouse.race.geo import to_latlon
from lakehouse_demo.race.athletes import CLIMBER, LEADER_GC, LEADER_SPRINT, Rider
from lakehouse_demo.race.physics import BIKE_KG, power_for_speed, speed_for_power
from lakehouse_demo.race.routes import StageRoute

PRE_START_S = 120  # devices record the wait at the start line
POST_FINISH_S = 60  # and the roll-out after the line
ABANDON_RECORD_S = 90  # a rider who stops keeps recording a little while
CDA_ROAD = 0.32
CDA_LEAD = 0.30
CDA_TT = 0.23
REFERENCE_KG = 68.0  # the pace-setters' weight
DRAFT_PELOTON = 0.55  # CdA factor deep in the bunch at speed
DRAFT_BREAK = 0.78
DRAFT_GRUPPETTO = 0.8
FLAT_PACE_WKG = 4.5  # pace-setters on the flat, no breakaway
CLIMB_PACE_WKG = 5.6
FINAL_CLIMB_PACE_WKG = 5.95
DESCENT_PACE_WKG = 2.2
BREAK_FLAT_WKG = 5.0
BREAK_CLIMB_WKG = 5.45
CLIMB_GRADE = 0.035
MAX_ACCELERATION = 1.0  # m/s per second
SPRINT_ZONE_M = 600.0
CHASE_BACK_S = 90.0  # dropped riders this close to the bunch on flat roads chase back on
HR_TIME_CONSTANT_S = 25.0
TOUR_FATIGUE_PER_STAGE = 0.002
ABANDON_RATE = 0.035  # riders who abandon over the Tour


@dataclass(frozen=True)
class Defects:
    """How imperfect the device data and its delivery are (rates per point unless said otherwise)."""

    gps_sigma_m: float = 2.5
    gps_spike_rate: float = 0.0002
    short_gaps_per_hour: float = 1.5  # 2-20 s dropouts
    tunnel_probability: float = 0.1  # per rider and stage: one 60-300 s loss
    point_loss_rate: float = 0.002
    duplicate_rate: float = 0.0015
    late_burst_probability: float = 0.3  # per rider and stage: a buffered burst uploaded late
    late_max_s: float = 600.0
    too_late_probability: float = 0.0  # per rider and stage: a burst uploaded after `too_late_delay_s`
    too_late_delay_s: float = 3 * 3600.0
    latency_s: tuple[float, float] = (1.0, 4.0)


NO_DEFECTS = Defects(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, (1.0, 1.0))


@dataclass
class StagePoints:
    """Every point sent for one stage (duplicates included), with when it reached the landing zone."""

    stage: int
    rider_id: np.ndarray  # int
    epoch_s: np.ndarray  # int, UTC seconds
    lat: np.ndarray
    lon: np.ndarray
    altitude_m: np.ndarray
    speed_mps: np.ndarray
    heart_rate: np.ndarray  # float, nan when absent
    power_w: np.ndarray  # float, nan when absent
    cadence_rpm: np.ndarray  # float, nan when absent
    arrival_s: np.ndarray  # float, UTC seconds
    finish_epoch_s: dict[int, float] = field(default_factory=dict)  # simulated truth, for checks

    def __len__(self) -> int:
        return len(self.rider_id)

    def take(self, index: np.ndarray) -> StagePoints:
        """The points at `index` (a mask or positions), in that order."""
        return StagePoints(
            self.stage,
            *(getattr(self, name)[index] for name in _ARRAYS),
            finish_epoch_s=self.finish_epoch_s,
        )


_ARRAYS = (
    "rider_id", "epoch_s", "lat", "lon", "altitude_m", "speed_mps", "heart_rate", "power_w", "cadence_rpm",
    "arrival_s",
)  # fmt: skip


def abandons(
    seed: int, riders: list[Rider], stages: tuple[int, ...] = tuple(range(2, 20))
) -> dict[int, tuple[int, float]]:
    """Riders who abandon: rider id -> (stage, fraction of the stage ridden). Leaders never abandon."""
    rng = np.random.default_rng([seed, 99])
    candidates = [r.rider_id for r in riders if r.role not in (LEADER_GC, LEADER_SPRINT)]
    count = min(len(candidates), round(ABANDON_RATE * len(riders)))
    chosen = rng.choice(candidates, size=count, replace=False) if count else []
    return {int(r): (int(rng.choice(stages)), float(rng.uniform(0.2, 0.8))) for r in chosen}


def starters(seed: int, riders: list[Rider], stage: int) -> list[Rider]:
    """The riders who start `stage`: everyone who has not abandoned on an earlier one."""
    out = abandons(seed, riders)
    return [r for r in riders if r.rider_id not in out or out[r.rider_id][0] >= stage]


def itt_start_order(riders: list[Rider]) -> list[Rider]:
    """Time-trial start order: highest bib first, so team leaders start last (as the best do)."""
    return sorted(riders, key=lambda r: -r.rider_id)


@dataclass
class _Truth:
    """What happened, second by second: arrays [time, rider]."""

    t0: int  # epoch second of row 0
    pos: np.ndarray
    speed: np.ndarray
    power: np.ndarray
    hr: np.ndarray
    record_from: np.ndarray  # first recorded row per rider
    record_to: np.ndarray  # last recorded row per rider (inclusive)
    finish_s: np.ndarray  # epoch seconds of the crossing (nan: did not finish)


def _grade_lookup(route: StageRoute) -> tuple[np.ndarray, np.ndarray]:
    mid = route.distance_m[:-1] + np.diff(route.distance_m) / 2
    return mid, route.gradient()


def _ar1(rng: np.random.Generator, rows: int, n: int, rho: float, sigma: float) -> np.ndarray:
    """Correlated noise [rows, n] with standard deviation `sigma` and lag-1 correlation `rho` (by FFT)."""
    if sigma == 0:
        return np.zeros((rows, n))
    taps = min(rows, int(np.ceil(np.log(1e-3) / np.log(rho))))
    kernel = rho ** np.arange(taps) * np.sqrt(1 - rho**2)
    white = rng.normal(0, sigma, (rows + taps, n))
    size = rows + 2 * taps
    spectrum = np.fft.rfft(white, size, axis=0) * np.fft.rfft(kernel, size)[:, None]
    return np.fft.irfft(spectrum, size, axis=0)[taps : taps + rows]


@dataclass
class _DeviceNoise:
    """Per-second device noise for a whole stage: GPS wander, position across the road, barometer."""

    gps_e: np.ndarray
    gps_n: np.ndarray
    lateral: np.ndarray
    baro: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, rows: int, n: int, defects: Defects) -> _DeviceNoise:
        """Noise for `rows` seconds of `n` riders."""
        return cls(
            gps_e=_ar1(rng, rows, n, 0.95, defects.gps_sigma_m),
            gps_n=_ar1(rng, rows, n, 0.95, defects.gps_sigma_m),
            lateral=np.clip(_ar1(rng, rows, n, 0.995, 1.2), -2.5, 2.5),
            baro=rng.normal(0, 3, n)[None, :] + _ar1(rng, rows, n, 0.98, 0.8),
        )


def _lead_speed(wkg: float, grade: float) -> float:
    """The speed of pace-setters riding `wkg` watts per kilogram on `grade`."""
    return float(
        speed_for_power(
            np.array([wkg * REFERENCE_KG]),
            np.array([grade]),
            np.array([REFERENCE_KG + BIKE_KG]),
            np.array([CDA_LEAD]),
        )[0]
    )


def _rider_arrays(riders: list[Rider], stage: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    form = rng.normal(1.0, 0.015, len(riders)) * (1 - TOUR_FATIGUE_PER_STAGE * (stage - 1))
    return {
        "mass": np.array([r.weight_kg + BIKE_KG for r in riders]),
        "ftp": np.array([r.ftp_w for r in riders]) * form,
        "w_prime": np.array([r.w_prime_j for r in riders]),
        "sprint": np.array([r.sprint for r in riders]) * rng.uniform(0.8, 1.2, len(riders)),
        "cda": CDA_ROAD
        * np.array([(r.height_cm / 180) ** 0.7 for r in riders])
        * rng.uniform(0.96, 1.04, len(riders)),
        "hr_rest": np.array([r.hr_rest for r in riders], dtype=float),
        "hr_max": np.array([r.hr_max for r in riders], dtype=float),
        "climber": np.array([r.role in (LEADER_GC, CLIMBER) for r in riders]),
        "wkg": np.array([r.ftp_wkg for r in riders]),
    }


# rider states during a mass-start stage
WAITING, PELOTON, BREAK, SOLO, ATTACK, SPRINT, FINISHED, STOPPED = range(8)


def _simulate_mass_start(
    route: StageRoute,
    riders: list[Rider],
    rng: np.random.Generator,
    defects: Defects,
    abandon_at: dict[int, float],
) -> _Truth:
    n = len(riders)
    a = _rider_arrays(riders, route.stage, rng)
    mid, grades = _grade_lookup(route)
    length = route.length_m
    kind = route.plan.kind
    start_epoch = int(route.start_time.timestamp())
    t0 = start_epoch - PRE_START_S

    # The script of the day: who breaks away, how far the peloton lets them go, when the chase ends.
    non_leaders = [i for i, r in enumerate(riders) if r.role not in (LEADER_GC, LEADER_SPRINT)]
    break_size = 0 if not non_leaders else min(len(non_leaders), int(rng.integers(2, 7)))
    in_break = np.zeros(n, dtype=bool)
    if break_size:
        in_break[rng.choice(non_leaders, size=break_size, replace=False)] = True
    survives = kind in ("hilly", "mountain") and bool(rng.random() < 0.3)
    gap_max = rng.uniform(150, 330) * min(1.0, route.scale**0.5 * 2)
    chase_from = rng.uniform(0.45, 0.6)
    catch_at = 1.1 if survives else 1 - rng.uniform(0.02, 0.08)
    climbs = [c for c in route.checkpoints if c.kind in ("climb_foot", "climb_top")]
    last_foot = max((c.distance_m for c in climbs if c.kind == "climb_foot"), default=None)
    last_top = max((c.distance_m for c in climbs if c.kind == "climb_top"), default=None)
    attack_at = None
    if last_foot is not None and last_top is not None and kind in ("mountain", "hilly"):
        attack_at = last_foot + (last_top - last_foot) * rng.uniform(0.4, 0.75)
    attackers_wanted = int(rng.integers(3, 8)) if kind == "mountain" else int(rng.integers(2, 4))
    flat_finish = kind in ("flat", "hilly") and float(np.interp(length - 500, mid, grades)) < 0.03
    abandon_m = np.array([abandon_at.get(r.rider_id, np.inf) * length for r in riders])
    preferred = -rng.uniform(0.0, 1.0, n) * np.where(a["climber"], 0.4, 1.0)

    state = np.full(n, WAITING)
    pos = -rng.uniform(0, 40, n)
    offset = pos.copy()
    pel = brk = 0.0
    v_pel = v_brk = 0.0
    spread = 80.0
    v_prev = np.zeros(n)
    w_bal = a["w_prime"].copy()
    hr = a["hr_rest"] + 30
    finish = np.full(n, np.nan)
    roll = np.zeros(n)
    stop_row = np.full(n, -1)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("pos", "speed", "power", "hr")}
    expected_s = length / (35 / 3.6 if kind == "mountain" else 39 / 3.6)
    max_rows = int(PRE_START_S + expected_s * 1.9 + 600)
    row = 0
    while row < max_rows:
        second = t0 + row
        if second == start_epoch:
            state[:] = np.where(in_break, BREAK, PELOTON)
        racing = (state != WAITING) & (state != FINISHED) & (state != STOPPED)
        grade = np.interp(pos, mid, grades)
        power = np.zeros(n)
        new_pos = pos.copy()

        if second >= start_epoch:
            # Peloton head: pace by terrain, a chase controller while a break is up, a faster finale.
            g_pel = float(np.interp(pel, mid, grades))
            breakers = state == BREAK
            if g_pel > CLIMB_GRADE:
                final_climb = last_foot is not None and pel >= last_foot and kind == "mountain"
                wkg = FINAL_CLIMB_PACE_WKG if final_climb else CLIMB_PACE_WKG
            elif g_pel < -0.02:
                wkg = DESCENT_PACE_WKG
            elif breakers.any():
                gap_s = (brk - pel) / max(v_pel, 5.0)
                frac = pel / length
                if frac < chase_from:
                    target = gap_max * min(1.0, frac / 0.15)
                else:
                    progress = min(1.0, (frac - chase_from) / max(catch_at - chase_from, 1e-6))
                    target = gap_max * (1 - progress) + (60.0 if survives else -20.0) * progress
                wkg = min(max(4.4 + 0.5 * (gap_s - target) / 60, 3.6), 5.8)
            else:
                to_go = length - pel
                wkg = FLAT_PACE_WKG + (0.7 if to_go < 10_000 else 0.0) + (0.6 if to_go < 3_000 else 0.0)
            v_pel = min(v_pel + MAX_ACCELERATION, _lead_speed(wkg, g_pel))
            if breakers.any():
                g_brk = float(np.interp(brk, mid, grades))
                tired = 1 - 0.06 * min(1.0, brk / length)
                bwkg = (BREAK_CLIMB_WKG if g_brk > CLIMB_GRADE else BREAK_FLAT_WKG) * tired
                bwkg = DESCENT_PACE_WKG if g_brk < -0.02 else bwkg
                v_brk = min(v_brk + MAX_ACCELERATION, _lead_speed(bwkg, g_brk))
                brk += v_brk
            pel += v_pel

            # Group riders: their spot in the bunch wanders; they need power to hold the group's speed.
            # The bunch strings out on climbs and bunches up after; nobody moves more than 3 m/s in it.
            stretch = min(max((g_pel - 0.03) / 0.05, 0.0), 1.0)
            spread = 0.98 * spread + 0.02 * (80.0 + 200.0 * stretch)
            wanted = offset - 0.01 * (offset - preferred * spread) + rng.normal(0, 0.8, n)
            wanted = np.minimum(np.maximum(wanted, -spread), 0.0)
            offset = offset + np.minimum(np.maximum(wanted - offset, -3.0), 3.0)
            in_pel = state == PELOTON
            new_pos[in_pel] = pel + offset[in_pel]
            in_brk = state == BREAK
            new_pos[in_brk] = brk + offset[in_brk]
            group = in_pel | in_brk
            v_group = np.maximum(new_pos - pos, 0.0)
            draft = np.where(in_pel, DRAFT_PELOTON, DRAFT_BREAK) + 0.4 * np.clip((8 - v_group) / 5, 0, 1)
            need = power_for_speed(v_group, grade, a["mass"], a["cda"] * np.minimum(draft, 1.0))
            power = np.where(group, np.maximum(need, 0.0), power)

            # Sprint: inside the last 600 m of a flat finish the bunch opens up by each rider's kick.
            if flat_finish:
                sprinting = in_pel & (pos >= length - SPRINT_ZONE_M)
                state[sprinting] = SPRINT
            sprinters = state == SPRINT
            if sprinters.any():
                ramp = np.clip((pos - (length - SPRINT_ZONE_M)) / 250, 0, 1)
                v_sprint = v_pel * (1 + a["sprint"] * ramp)
                new_pos[sprinters] = pos[sprinters] + v_sprint[sprinters]
                power[sprinters] = np.maximum(
                    power_for_speed(v_sprint, grade, a["mass"], a["cda"] * 0.75), 0.0
                )[sprinters]

            # The last climb: the strongest climbers still in the bunch attack.
            if attack_at is not None and pel >= attack_at and not np.any(state == ATTACK):
                candidates = np.flatnonzero((state == PELOTON) & a["climber"])
                best = candidates[np.argsort(-a["wkg"][candidates])][:attackers_wanted]
                state[best] = ATTACK
                attack_at = None

            # Riders on their own: dropped (maybe chasing back), attackers, the survivors of a split break.
            alone = (state == SOLO) | (state == ATTACK)
            if alone.any():
                climbing = grade > CLIMB_GRADE
                descending = grade < -0.02
                intensity = np.where(climbing, 0.92, np.where(descending, 0.35, 0.72))
                attacking = (state == ATTACK) & (w_bal > 0)
                intensity = np.where(attacking & climbing, 1.05, np.where(attacking, 0.9, intensity))
                tail = pel + offset[in_pel].min() if in_pel.any() else pel
                behind_s = (tail - pos) / max(v_pel, 5.0)
                chasing = (
                    (state == SOLO)
                    & ~climbing
                    & (behind_s > 0)
                    & (behind_s < CHASE_BACK_S)
                    & (w_bal > 0.4 * a["w_prime"])
                )
                intensity = np.where(chasing, 0.97, intensity)
                cda = a["cda"] * np.where(chasing | (state == SOLO), DRAFT_GRUPPETTO, 1.0)
                p_alone = a["ftp"] * intensity
                v_alone = speed_for_power(p_alone, grade, a["mass"], cda)
                v_alone = np.minimum(v_alone, np.maximum(v_prev, 0.0) + MAX_ACCELERATION)
                new_pos[alone] = pos[alone] + v_alone[alone]
                power[alone] = p_alone[alone]
                rejoin = chasing & (new_pos >= tail)
                state[rejoin] = PELOTON
                offset[rejoin] = np.maximum(new_pos[rejoin] - pel, -spread)

            # W': above threshold drains it, below refills it (slower); an empty reserve means dropped.
            above = power - a["ftp"]
            w_bal = np.where(above > 0, w_bal - above, np.minimum(a["w_prime"], w_bal - above * 0.5))
            dropped = ((state == PELOTON) | (state == BREAK)) & (w_bal <= 0)
            state[dropped] = SOLO
            caught = (state == BREAK) & (pel >= new_pos - 20)
            state[caught] = PELOTON
            offset[caught] = np.minimum(np.maximum(new_pos[caught] - pel, -spread), 0.0)
            if not np.any(state == BREAK):
                brk = pel

        # Finished riders roll out, slowing down; an abandoning rider stops where he is.
        roll *= 0.95
        finished = state == FINISHED
        new_pos[finished] = pos[finished] + roll[finished]
        crossed = racing & (new_pos >= length)
        if crossed.any():
            step = np.maximum(new_pos[crossed] - pos[crossed], 1e-6)
            finish[crossed] = second + (length - pos[crossed]) / step
            roll[crossed] = step
            state[crossed] = FINISHED
            stop_row[crossed] = row + POST_FINISH_S
        out = racing & ~crossed & (new_pos >= abandon_m)
        if out.any():
            state[out] = STOPPED
            stop_row[out] = row + ABANDON_RECORD_S
            new_pos[out] = abandon_m[out]
        power[~racing] = 0.0
        speed_now = np.maximum(new_pos - pos, 0.0)
        v_prev = speed_now

        target = a["hr_rest"] + (a["hr_max"] - a["hr_rest"]) * np.clip(
            0.45 + 0.5 * power / a["ftp"], 0.3, 1.0
        )
        hr = hr + (target - hr) * (1 - np.exp(-1 / HR_TIME_CONSTANT_S))
        for key, value in zip(rows, (pos, speed_now, power, hr), strict=True):
            rows[key].append(value.copy())
        pos = new_pos
        row += 1
        if np.all((stop_row >= 0) & (stop_row < row)):
            break
    return _finish_truth(t0, rows, stop_row, finish, row, np.zeros(n, dtype=int))


def _finish_truth(
    t0: int,
    rows: dict[str, list[np.ndarray]],
    stop_row: np.ndarray,
    finish: np.ndarray,
    total_rows: int,
    record_from: np.ndarray,
) -> _Truth:
    stacked = {k: np.stack(v) for k, v in rows.items()}
    record_to = np.where(stop_row >= 0, np.minimum(stop_row, total_rows - 1), total_rows - 1)
    return _Truth(
        t0=t0,
        pos=stacked["pos"],
        speed=stacked["speed"],
        power=stacked["power"],
        hr=stacked["hr"],
        record_from=record_from,
        record_to=record_to,
        finish_s=finish,
    )


def _simulate_time_trial(
    route: StageRoute, riders: list[Rider], rng: np.random.Generator, defects: Defects
) -> _Truth:
    order = {r.rider_id: i for i, r in enumerate(itt_start_order(riders))}
    n = len(riders)
    a = _rider_arrays(riders, route.stage, rng)
    mid, grades = _grade_lookup(route)
    length = route.length_m
    interval = route.itt_interval_s()
    first = int(route.start_time.timestamp())
    starts = np.array([first + order[r.rider_id] * interval for r in riders])
    t0 = first - PRE_START_S
    pos = np.zeros(n)
    roll = np.zeros(n)
    hr = a["hr_rest"] + 40
    finish = np.full(n, np.nan)
    stop_row = np.full(n, -1)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("pos", "speed", "power", "hr")}
    max_rows = int(PRE_START_S + (starts.max() - first) + length / (38 / 3.6) * 1.6 + 600)
    pacing = rng.uniform(0.97, 1.03, n)
    for row in range(max_rows):
        second = t0 + row
        going = (second >= starts) & np.isnan(finish)
        grade = np.interp(pos, mid, grades)
        intensity = np.where(grade > CLIMB_GRADE, 1.06, np.where(grade < -0.03, 0.4, 1.0)) * pacing
        cda = np.where(grade > 0.06, CDA_ROAD, CDA_TT) * a["cda"] / CDA_ROAD
        p = a["ftp"] * intensity
        roll *= 0.95
        v = np.where(going, speed_for_power(p, grade, a["mass"], cda), roll)
        new_pos = pos + v
        crossed = going & (new_pos >= length)
        finish[crossed] = second + (length - pos[crossed]) / np.maximum(v[crossed], 1e-6)
        roll[crossed] = v[crossed]
        stop_row[crossed] = row + POST_FINISH_S
        power = np.where(going, p, 0.0)
        target = a["hr_rest"] + (a["hr_max"] - a["hr_rest"]) * np.clip(
            0.45 + 0.5 * power / a["ftp"], 0.3, 1.0
        )
        hr = hr + (target - hr) * (1 - np.exp(-1 / HR_TIME_CONSTANT_S))
        for key, value in zip(rows, (pos, v, power, hr), strict=True):
            rows[key].append(value.copy())
        pos = new_pos
        if np.all((stop_row >= 0) & (stop_row < row)):
            break
    record_from = np.maximum(0, starts - PRE_START_S - t0)
    return _finish_truth(t0, rows, stop_row, finish, len(rows["pos"]), record_from)


def _route_xy(route: StageRoute, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Position and unit heading on the route at distance `d`, extended straight past either end."""
    dist, x, y = route.distance_m, route.x_m, route.y_m
    seg = np.clip(np.searchsorted(dist, d, side="right") - 1, 0, len(dist) - 2)
    length = np.maximum(dist[seg + 1] - dist[seg], 1e-9)
    ux, uy = (x[seg + 1] - x[seg]) / length, (y[seg + 1] - y[seg]) / length
    # Zero-length segments (a checkpoint on a route point) borrow the next segment's heading.
    flat = (ux == 0) & (uy == 0)
    if flat.any():
        nxt = np.clip(seg[flat] + 2, 1, len(dist) - 1)
        prv = np.clip(seg[flat] - 1, 0, len(dist) - 2)
        span = np.maximum(np.hypot(x[nxt] - x[prv], y[nxt] - y[prv]), 1e-9)
        ux[flat] = (x[nxt] - x[prv]) / span
        uy[flat] = (y[nxt] - y[prv]) / span
    along = d - dist[seg]
    return x[seg] + ux * along, y[seg] + uy * along, ux, uy


def simulate_stage(
    route: StageRoute,
    riders: list[Rider],
    seed: int,
    defects: Defects = Defects(),
    abandon_plan: dict[int, tuple[int, float]] | None = None,
) -> StagePoints:
    """Every point the riders' devices send during one stage, as landed (defects included)."""
    abandon_plan = abandons(seed, riders) if abandon_plan is None else abandon_plan
    racing = [
        r for r in riders if r.rider_id not in abandon_plan or abandon_plan[r.rider_id][0] >= route.stage
    ]
    abandon_here = {rid: frac for rid, (stage, frac) in abandon_plan.items() if stage == route.stage}
    rng = np.random.default_rng([seed, route.stage, 13])
    if route.plan.kind == "itt":
        truth = _simulate_time_trial(route, racing, rng, defects)
    else:
        truth = _simulate_mass_start(route, racing, rng, defects, abandon_here)
    return _observe(route, racing, truth, np.random.default_rng([seed, route.stage, 17]), defects)


def _observe(
    route: StageRoute, riders: list[Rider], truth: _Truth, rng: np.random.Generator, defects: Defects
) -> StagePoints:
    """Turn the simulated truth into device records, then lose, repeat and delay some as networks do."""
    rows, n = truth.pos.shape
    noise = _DeviceNoise.draw(rng, rows, n, defects)
    row_index = np.arange(rows)[:, None]
    recorded = (row_index >= truth.record_from[None, :]) & (row_index <= truth.record_to[None, :])
    hours = (truth.record_to - truth.record_from) / 3600
    for i in range(n):
        lost = np.zeros(rows, dtype=bool)
        for _ in range(rng.poisson(defects.short_gaps_per_hour * hours[i])):
            start = rng.integers(truth.record_from[i], truth.record_to[i] + 1)
            lost[start : start + rng.integers(2, 21)] = True
        if rng.random() < defects.tunnel_probability:
            start = rng.integers(truth.record_from[i], truth.record_to[i] + 1)
            lost[start : start + rng.integers(60, 301)] = True
        recorded[:, i] &= ~lost
    recorded &= rng.random((rows, n)) >= defects.point_loss_rate
    r_idx, c_idx = np.nonzero(recorded)
    order = np.lexsort((r_idx, c_idx))  # by rider, then time
    r_idx, c_idx = r_idx[order], c_idx[order]

    d = truth.pos[r_idx, c_idx]
    x, y, ux, uy = _route_xy(route, d)
    side = noise.lateral[r_idx, c_idx]
    x = x - uy * side + noise.gps_e[r_idx, c_idx]
    y = y + ux * side + noise.gps_n[r_idx, c_idx]
    spikes = rng.random(len(x)) < defects.gps_spike_rate
    if spikes.any():
        throw = rng.uniform(80, 200, spikes.sum()) * rng.choice([-1, 1], spikes.sum())
        x[spikes] -= uy[spikes] * throw
        y[spikes] += ux[spikes] * throw
    lat, lon = to_latlon(x, y, route.plan.start_lat, route.plan.start_lon)
    altitude = np.interp(np.clip(d, 0, route.length_m), route.distance_m, route.altitude_m)
    altitude = np.round((altitude + noise.baro[r_idx, c_idx]) / 0.2) * 0.2
    speed = np.round(np.maximum(truth.speed[r_idx, c_idx] + rng.normal(0, 0.03, len(d)), 0.0), 3)
    speed[truth.speed[r_idx, c_idx] == 0] = 0.0
    power_true = truth.power[r_idx, c_idx]

    has_power = np.array([r.has_power for r in riders])[c_idx]
    has_hr = np.array([r.has_heart_rate for r in riders])[c_idx]
    has_cadence = np.array([r.has_cadence for r in riders])[c_idx]
    ftp = np.array([r.ftp_w for r in riders])[c_idx]
    power = np.where(
        power_true > 5, np.round(np.maximum(power_true * (1 + rng.normal(0, 0.03, len(d))), 0)), 0.0
    )
    grade = np.interp(d, route.distance_m[:-1] + np.diff(route.distance_m) / 2, route.gradient())
    cadence = np.where(
        power_true > 15,
        np.round(
            np.clip(
                90
                + 12 * (power_true / ftp - 0.75)
                - 80 * np.clip(grade - 0.04, 0, 0.06)
                + rng.normal(0, 2, len(d)),
                55,
                125,
            )
        ),
        0.0,
    )
    hr = np.round(truth.hr[r_idx, c_idx] + rng.normal(0, 0.7, len(d)))
    epoch = truth.t0 + r_idx
    rider_ids = np.array([r.rider_id for r in riders])[c_idx]

    low, high = defects.latency_s
    arrival = epoch + rng.uniform(low, high, len(d))
    for i in range(n):
        mine = np.flatnonzero(c_idx == i)
        if not len(mine):
            continue
        for probability, delay in (
            (defects.late_burst_probability, lambda: rng.uniform(60, max(defects.late_max_s, 61))),
            (defects.too_late_probability, lambda: defects.too_late_delay_s + rng.uniform(0, 600)),
        ):
            if probability and rng.random() < probability:
                start = int(rng.integers(0, len(mine)))
                burst = mine[start : start + int(rng.integers(30, 241))]
                arrival[burst] = epoch[burst] + delay()

    points = StagePoints(
        stage=route.stage,
        rider_id=rider_ids,
        epoch_s=epoch.astype(np.int64),
        lat=np.round(lat, 6),
        lon=np.round(lon, 6),
        altitude_m=np.round(altitude, 1),
        speed_mps=speed,
        heart_rate=np.where(has_hr, hr, np.nan),
        power_w=np.where(has_power, power, np.nan),
        cadence_rpm=np.where(has_cadence, cadence, np.nan),
        arrival_s=arrival,
        finish_epoch_s={
            r.rider_id: float(f) for r, f in zip(riders, truth.finish_s, strict=True) if not np.isnan(f)
        },
    )
    duplicates = np.flatnonzero(rng.random(len(points)) < defects.duplicate_rate)
    if len(duplicates):
        copies = points.take(duplicates)
        copies.arrival_s = copies.arrival_s + np.where(
            rng.random(len(duplicates)) < 0.5, 0.0, rng.uniform(5, 60, len(duplicates))
        )
        points = _concat(points, copies)
    return points.take(np.argsort(points.arrival_s, kind="stable"))


def _concat(first: StagePoints, second: StagePoints) -> StagePoints:
    return StagePoints(
        first.stage,
        *(np.concatenate([getattr(first, k), getattr(second, k)]) for k in _ARRAYS),
        finish_epoch_s=first.finish_epoch_s,
    )


CSV_HEADER = "rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm"


def _optional_ints(values: np.ndarray) -> list[str]:
    text = np.nan_to_num(values).astype(np.int64).astype(str)
    return np.where(np.isnan(values), "", text).tolist()


def points_csv(points: StagePoints) -> bytes:
    """The points as one telemetry CSV file (header, then one line per point, in the given order)."""
    stamps = points.epoch_s.astype("datetime64[s]").astype(str).tolist()
    lines = [
        f"{r},{t}Z,{la:.6f},{lo:.6f},{al:.1f},{sp:.3f},{h},{p},{c}"
        for r, t, la, lo, al, sp, h, p, c in zip(
            points.rider_id.tolist(),
            stamps,
            points.lat.tolist(),
            points.lon.tolist(),
            points.altitude_m.tolist(),
            points.speed_mps.tolist(),
            _optional_ints(points.heart_rate),
            _optional_ints(points.power_w),
            _optional_ints(points.cadence_rpm),
            strict=True,
        )
    ]
    return (CSV_HEADER + "\n" + "\n".join(lines) + "\n").encode("ascii")


def arrival_windows(points: StagePoints, window_s: float, max_rows: int) -> list[tuple[str, StagePoints]]:
    """Points grouped into files by arrival time: (file stem, points); big windows split into parts."""
    day0 = datetime.fromtimestamp(int(points.epoch_s.min()), UTC).replace(hour=0, minute=0, second=0)
    window = np.floor((points.arrival_s - day0.timestamp()) / window_s).astype(np.int64)
    files = []
    for w in np.unique(window):
        chunk = points.take(np.flatnonzero(window == w))
        parts = max(1, -(-len(chunk) // max_rows))
        for part in range(parts):
            piece = chunk.take(np.arange(part * max_rows, min(len(chunk), (part + 1) * max_rows)))
            files.append((f"stage{points.stage:02d}-{int(w):06d}-{part:02d}", piece))
    return files
