"""The reliability tests' shared lakehouse: a small landing set and one uninterrupted run over it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.reliability.lakes import lake_settings, run_in_process, small_landing

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
def baseline(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """bronze -> silver -> gold once, uninterrupted, on the small landing set (in the session's Spark).

    While developing, `LAKEHOUSE_TEST_RELIABILITY_BASELINE=DIR` reuses one built before (a copy of a previous
    session's `reliability-baseline*` folder); treat it as read-only."""
    prebuilt = os.environ.get("LAKEHOUSE_TEST_RELIABILITY_BASELINE")
    if prebuilt:
        return Baseline(Path(prebuilt) / "landing", Path(prebuilt))
    template = tmp_path_factory.mktemp("reliability-landing")
    small_landing(template)
    root = tmp_path_factory.mktemp("reliability-baseline")
    shutil.copytree(template / "landing", root / "landing")
    rows = run_in_process(spark, lake_settings(root))
    assert not [r for r in rows if r.note.startswith("FAILED")], rows
    return Baseline(template / "landing", root)
