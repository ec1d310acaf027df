"""The reliability tests' shared lakehouse: a small landing set and one uninterrupted run over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.lakes import run_job, small_landing, stop_metastore

STAGES = ["--stages", "bronze,silver,gold"]


@dataclass(frozen=True)
class Baseline:
    """The landing set (to copy: same bytes and file times) and the lakehouse one uninterrupted run built."""

    landing: Path
    root: Path

    def new_lake(self, root: Path) -> Path:
        """A lakehouse folder at `root` with a copy of the landing set and no tables yet."""
        shutil.copytree(self.landing, root / "landing")
        return root


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    """`jobs.run --stages bronze,silver,gold` once, uninterrupted, on the small landing set."""
    template = tmp_path_factory.mktemp("reliability-landing")
    small_landing(template)
    root = tmp_path_factory.mktemp("reliability-baseline")
    shutil.copytree(template / "landing", root / "landing")
    try:
        run = run_job(root, STAGES)
        assert run.returncode == 0, run.stderr[-3000:]
        yield Baseline(template / "landing", root)
    finally:
        stop_metastore(root)
