"""The suite's queue for pytest-xdist: whole groups, longest first, each group's tests in file order."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests import conftest


@dataclass
class FakeItem:
    nodeid: str
    fixturenames: tuple[str, ...] = ()


def test_groups_are_queued_longest_first_and_keep_their_tests_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "LONG_GROUPS", {"race-template": 700, "tests/hostile/test_secrets.py": 170})
    items = [
        FakeItem("tests/unit/test_a.py::one"),
        FakeItem("tests/race/test_x.py::first", ("spark", "race_template")),
        FakeItem("tests/unit/test_b.py::one"),
        FakeItem("tests/unit/test_b.py::two"),
        FakeItem("tests/hostile/test_secrets.py::only"),
        FakeItem("tests/race/test_y.py::second", ("race_template",)),
        FakeItem("tests/unit/test_b.py::three"),
    ]
    ordered = conftest.longest_first(items)  # type: ignore[arg-type]
    # race-template (700 s) with both of its tests in file order, the secrets module (170 s), then the unlisted
    # modules by their number of tests (3, then 1).
    assert [item.nodeid for item in ordered] == [
        "tests/race/test_x.py::first",
        "tests/race/test_y.py::second",
        "tests/hostile/test_secrets.py::only",
        "tests/unit/test_b.py::one",
        "tests/unit/test_b.py::two",
        "tests/unit/test_b.py::three",
        "tests/unit/test_a.py::one",
    ]
    assert [conftest.group_of(item) for item in ordered[:3]] == [  # type: ignore[arg-type]
        "race-template", "race-template", "tests/hostile/test_secrets.py"
    ]  # fmt: skip


def test_the_timeline_report_gives_each_worker_its_end_and_the_groups_their_seconds() -> None:
    from bench.suite_timeline import report

    def phase(worker: str, test: str, ended: float, seconds: float) -> dict[str, object]:
        return {"worker": worker, "test": test, "ended": 1000 + ended, "seconds": seconds, "phase": "call"}

    lines = [
        phase("gw0", "tests/race/test_x.py::a@race-template", 20, 20),  # 0-20
        phase("gw0", "tests/race/test_y.py::b@race-template", 50, 25),  # 25-50
        phase("gw1", "tests/unit/test_a.py::one", 10, 10),  # 0-10
        phase("gw1", "tests/unit/test_a.py::two", 12, 2),
    ]
    assert report(lines, shown_from=0).splitlines() == [
        "gw0: ended at 50 s, busy 45 s",
        "       0 -     50 s      45 s  race-template",
        "gw1: ended at 12 s, busy 12 s",
        "       0 -     12 s      12 s  tests/unit/test_a.py",
        "groups, longest first (57 s in all):",
        "      45 s  race-template",
        "      12 s  tests/unit/test_a.py",
    ]
