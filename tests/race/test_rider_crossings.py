"""The driver-side crossings of a carried micro-batch (`standings_state.rider_crossings`), by hand, and the
marks kept between micro-batches.

Their equality with Spark's `gold.crossings` on real streams is checked by the carried-standings tests
(`test_streaming.py`, `test_gold_hand_built.py`), which compare the standings with a recompute from silver."""

from __future__ import annotations

import pytest

from lakehouse.race.standings_state import LiveStandings, StageMarks, rider_crossings

T0 = 1_719_829_080  # a stage's start, epoch seconds
KM1, SPRINT, KM2, FINISH = (1000.0, "km", None), (1000.0, "sprint", "Sprint"), (2000.0, "km", None), (
    2500.0, "finish", "Finish")  # fmt: skip
STAGE = StageMarks(marks=(KM1, SPRINT, KM2, FINISH), start_s=float(T0), own_start_s={7: T0 + 60.0})


def points(*seconds_and_metres: tuple[float, float]) -> list[tuple[int, float]]:
    return [(int((T0 + s) * 1_000_000), m) for s, m in seconds_and_metres]


def test_each_mark_crossed_by_the_pair_around_it_interpolated_in_time() -> None:
    found = dict(rider_crossings(points((0, 0.0), (10, 1500.0), (20, 1400.0), (30, 2500.0)), STAGE, 1))
    # 1000 m at 1000/1500 of the first 10 s (both marks there); the pair 1500 -> 1400 m goes back: no pair;
    # 2000 m at 20 + 600/1100 * 10 s; the finish at the point on it (a mark is passed when d0 < m <= d1).
    assert set(found) == {KM1, SPRINT, KM2, FINISH}
    for mark, seconds, pair_end in [(KM1, 20 / 3, 10), (SPRINT, 20 / 3, 10), (KM2, 20 + 60 / 11, 30),
                                    (FINISH, 30, 30)]:  # fmt: skip
        crossed, elapsed, end = found[mark]
        assert crossed == pytest.approx(T0 + seconds, abs=1e-6)
        assert elapsed == pytest.approx(seconds, abs=1e-6)
        assert end == pytest.approx(T0 + pair_end, abs=1e-6)


def test_the_first_crossing_counts_when_the_track_goes_back_and_forth() -> None:
    # 900 -> 1100 m crosses 1000 m at 5 s; back to 950 m; 950 -> 1200 m crosses it again at 22 s.
    found = dict(rider_crossings(points((0, 900.0), (10, 1100.0), (20, 950.0), (30, 1200.0)), STAGE, 1))
    crossed, elapsed, end = found[KM1]
    assert (crossed - T0, elapsed, end - T0) == pytest.approx((5.0, 5.0, 10.0), abs=1e-6)


def test_a_time_trial_rider_counts_from_his_own_start_and_no_start_gives_no_elapsed_time() -> None:
    track = points((100, 900.0), (110, 1100.0))
    ((_, (crossed, elapsed, _)),) = [c for c in rider_crossings(track, STAGE, 7) if c[0] == KM1]
    assert (crossed - T0, elapsed) == pytest.approx((105.0, 45.0), abs=1e-6)  # started at 60 s
    no_start = StageMarks(marks=(KM1,), start_s=None, own_start_s={})
    assert [(m, c[1]) for m, c in rider_crossings(track, no_start, 1)] == [(KM1, None)]


def test_fewer_than_two_points_or_no_marks_cross_nothing() -> None:
    assert rider_crossings(points((0, 0.0)), STAGE, 1) == []
    assert rider_crossings(points((0, 0.0), (10, 3000.0)), StageMarks((), float(T0), {}), 1) == []
    assert rider_crossings(points((0, 1000.0), (10, 1000.0)), STAGE, 1) == []  # standing still on the mark


class CountingReference:
    """Stands in for `standings_state.Reference`: its versions, and the stages whose marks were read."""

    def __init__(self, versions: tuple[int | None, ...] | None) -> None:
        self.versions = versions
        self.read: list[list[int]] = []

    def stage_marks(self, stage_ids: list[int]) -> dict[int, StageMarks]:
        self.read.append(list(stage_ids))
        return {i: STAGE for i in stage_ids}


def test_marks_are_read_again_only_when_a_reference_table_has_a_new_version() -> None:
    state = LiveStandings()
    same = CountingReference((3, 1, 2))
    assert state._stage_marks(same, [3]) == {3: STAGE}  # type: ignore[arg-type]
    state._stage_marks(same, [3])  # type: ignore[arg-type]
    state._stage_marks(same, [3, 4])  # type: ignore[arg-type]
    assert same.read == [[3], [4]]  # stage 3 kept; stage 4 read once it is asked for
    newer = CountingReference((3, 2, 2))  # a route's checkpoints loaded again
    state._stage_marks(newer, [3])  # type: ignore[arg-type]
    assert newer.read == [[3]]
    unknown = CountingReference(None)  # versions unknown (tables by name): read every time
    state._stage_marks(unknown, [3])  # type: ignore[arg-type]
    state._stage_marks(unknown, [3])  # type: ignore[arg-type]
    assert unknown.read == [[3], [3]]
