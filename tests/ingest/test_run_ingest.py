"""The own-data run's ingest stage: APIs without credentials are skipped, the export files listed under
[imports] are imported once each, and one bad export never stops the others (no Spark here)."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from ingest_support import realdata

from jobs.run import ingest
from lakehouse.config import ImportSettings, load_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("STRAVA_CLIENT_ID", "STRAVA_CLIENT_SECRET", "STRAVA_REFRESH_TOKEN", "GOOGLE_HEALTH_CLIENT_ID",
                 "GOOGLE_HEALTH_CLIENT_SECRET", "GOOGLE_HEALTH_REFRESH_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no token files from this machine's user
    (tmp_path / "nobody.toml").write_text("", encoding="utf-8")  # no people file of this machine's conf/
    return load_settings("local", environ={"LAKEHOUSE_ROOT": str(tmp_path / "lake"),
                                           "LAKEHOUSE_PEOPLE": str(tmp_path / "nobody.toml")})  # fmt: skip


def test_exports_are_imported_once_and_a_bad_one_does_not_stop_the_rest(settings, tmp_path: Path) -> None:
    export = realdata("mapmyrun", "JD_workout_history_2021-01-31.csv")
    broken = tmp_path / "broken_workout_history.csv"
    broken.write_text("this is not,a MapMyRun export\n", encoding="utf-8")
    with export.open(encoding="utf-8") as handle:
        workouts = sum(1 for _ in handle) - 1  # the header
    own = replace(settings, imports=ImportSettings(mapmyrun=(str(broken), str(export))))

    rows, stopped = ingest(own)
    by_table = {r.table: r for r in rows}
    assert not stopped
    assert by_table["strava API"].note.startswith("skipped")
    assert by_table["google-health API"].note.startswith("skipped")
    assert by_table[f"mapmyrun: {export.name}"].rows_written == workouts == 181
    assert by_table[f"mapmyrun: {broken.name}"].note.startswith("FAILED: MissingColumnsError")

    again, _ = ingest(own)
    assert {r.table: r.note for r in again}[f"mapmyrun: {export.name}"] == "imported before"


def test_an_import_row_counts_the_records_it_quarantined(settings, tmp_path: Path) -> None:
    members = {"Takeout/Fitbit/Physical Activity_GoogleData/steps_2024-03-01.csv":
               b"timestamp,steps,data source\n2024-03-01T10:00:00Z,5,W\n2024-03-01T10:01:00Z,NaN,W\n"}  # fmt: skip
    export = tmp_path / "takeout.zip"
    with zipfile.ZipFile(export, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)

    rows, _ = ingest(replace(settings, imports=ImportSettings(takeout=(str(export),))))

    row = {r.table: r for r in rows}["takeout: takeout.zip"]
    assert (row.rows_in, row.rows_written, row.quarantined) == (2, 1, 1)
