"""The dashboard's data access: a table is read once per Delta version (a new commit is seen at once), the
person picker's helpers, and the "what to load" error for missing tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.config import Settings
from lakehouse.dashboard.data import Lake, MissingTablesError, clear_cache, for_person, people, person_column


@pytest.fixture
def lake(tmp_path: Path, base_settings: Settings) -> Lake:
    clear_cache()
    return Lake(base_settings.with_roots(str(tmp_path / "landing"), str(tmp_path / "tables")))


def test_each_delta_version_is_read_once_and_a_new_commit_is_seen(lake: Lake) -> None:
    path = lake.path("gold", "streaks")
    write_deltalake(path, pa.table({"athlete_id": [1, 2], "longest_streak_days": [3, 4]}))
    first = lake.arrow("gold", "streaks")
    assert lake.arrow("gold", "streaks") is first  # same version: the cached table
    write_deltalake(path, pa.table({"athlete_id": [3], "longest_streak_days": [5]}), mode="append")
    assert lake.version("gold", "streaks") == 1
    assert sorted(lake.df("gold", "streaks")["athlete_id"]) == [1, 2, 3]


def test_people_prefer_person_id_then_athlete_or_user_ids() -> None:
    strava = pd.DataFrame({"athlete_id": [7, 5, 7], "v": [1, 2, 3]})
    assert person_column(strava) == "athlete_id" and people(strava) == [5, 7]
    assert for_person(strava, 7)["v"].tolist() == [1, 3]
    both = strava.assign(person_id=["ana", "bo", "ana"])
    assert person_column(both) == "person_id" and people(both) == ["ana", "bo"]
    assert for_person(both, "bo")["v"].tolist() == [2]
    assert person_column(pd.DataFrame({"user_id": ["X"]})) == "user_id"
    assert people(pd.DataFrame({"v": [1]})) == [] and len(for_person(strava, None)) == 3


def test_a_missing_table_names_the_command_that_fills_it(lake: Lake) -> None:
    assert not lake.exists("gold", "race_stage_results") and lake.gold_tables() == []
    with pytest.raises(MissingTablesError, match=r"gold\.race_stage_results is not there yet: python -m jobs\.race"):
        lake.df("gold", "race_stage_results")
    with pytest.raises(MissingTablesError, match=r"hr_zone_minutes_daily .*jobs\.ingest fitbit"):
        lake.require(("gold", "hr_zone_minutes_daily"))
