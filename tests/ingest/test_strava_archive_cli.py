"""`python -m jobs.ingest strava-archive` as the README shows it: the report, the exit codes, the clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_support import ARCHIVE, SAMPLE_ACTIVITY
from ingest_support import read_landed, realdata

from jobs import ingest
from lakehouse.landing import LandingZone
from lakehouse.storage import LocalStore


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    return tmp_path / "lake"


def test_the_command_imports_the_real_archive_and_prints_its_report(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = ingest.main(["--env", "test", "strava-archive", str(realdata(*ARCHIVE))])

    out = capsys.readouterr().out
    assert code == 0
    assert "activities landed" in out and "FIT files parsed" in out
    assert "strava-archive: 1 activities and 1 stream sets landed" in out
    landed = read_landed(LandingZone(LocalStore(str(lake / "landing"))), "strava", "activities")
    assert [a["id"] for a in landed] == [SAMPLE_ACTIVITY]


def test_no_athlete_id_and_no_archive_are_one_clear_line_each(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "no-profile"
    folder.mkdir()
    (folder / "activities.csv").write_bytes(realdata(*ARCHIVE, "activities.csv").read_bytes())

    assert ingest.main(["--env", "test", "strava-archive", str(folder)]) == 2
    assert "pass --athlete-id N" in capsys.readouterr().err
    assert ingest.main(["--env", "test", "strava-archive", str(tmp_path / "nothing.zip")]) == 2
    assert "nothing.zip: no such file or folder" in capsys.readouterr().err
    assert ingest.main(["--env", "test", "strava-archive", str(folder), "--athlete-id", "7"]) == 0


def test_a_folder_link_out_of_an_unpacked_export_counts_as_a_problem_in_the_last_line(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export, outside = tmp_path / "export", tmp_path / "outside"
    (export / "activities").mkdir(parents=True)
    outside.mkdir()
    for name in ("activities.csv", "profile.csv"):
        (export / name).write_bytes(realdata(*ARCHIVE, name).read_bytes())
    for fit in realdata(*ARCHIVE, "activities").iterdir():
        (export / "activities" / fit.name).write_bytes(fit.read_bytes())
    (outside / "other.fit.gz").write_bytes(b"not read")
    (export / "activities" / "elsewhere").symlink_to(outside, target_is_directory=True)

    assert ingest.main(["--env", "test", "strava-archive", str(export)]) == 0

    out = capsys.readouterr().out
    assert "activities/elsewhere: refused: a symbolic link to" in out
    assert out.rstrip().endswith("1 problem(s) listed above")
