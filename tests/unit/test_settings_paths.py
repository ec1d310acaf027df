"""Where a relative path leads: one in the environment from the working directory (as the user typed it there),
one in a settings file from the checkout (as the file was written beside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config import load_settings

REPO = Path(__file__).resolve().parents[2]


def test_a_relative_path_in_the_environment_is_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings("test", environ={"LAKEHOUSE_ROOT": "lake", "LAKEHOUSE_LOG_DIR": "~/../logs"})
    assert (settings.landing_root, settings.tables_root) == (f"{tmp_path}/lake/landing", f"{tmp_path}/lake/tables")
    assert settings.log_dir == str((Path.home() / ".." / "logs").resolve())
    split = load_settings("test", environ={"LAKEHOUSE_LANDING_ROOT": "in", "LAKEHOUSE_TABLES_ROOT": "s3://b/t"})
    assert (split.landing_root, split.tables_root) == (f"{tmp_path}/in", "s3://b/t")


def test_a_relative_path_in_a_settings_file_is_from_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings("test", environ={})  # conf/test.toml: root = ".cache/test-data"
    assert settings.landing_root == f"{REPO}/.cache/test-data/landing"
    assert settings.log_dir == f"{REPO}/data/logs"
