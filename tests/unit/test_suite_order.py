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
