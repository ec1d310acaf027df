"""The shared job command line: bad settings are exit 2, a failure is one line naming the log file that
keeps the traceback, and a success returns the body's code."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lakehouse.cli import EXIT_FAILED, EXIT_USAGE, run_job
from lakehouse.config import Settings


@pytest.fixture(autouse=True)
def _rooted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("LAKEHOUSE_ENV", raising=False)


def test_a_failure_is_one_line_and_the_traceback_goes_to_the_log(tmp_path: Path, capsys) -> None:
    def body(args: argparse.Namespace, settings: Settings) -> int:
        raise RuntimeError("the landing zone is not reachable\nsecond line never shown")

    assert run_job("demojob", argparse.ArgumentParser(), body, ["--env", "test"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "demojob failed in" in err[0] and "RuntimeError: the landing zone is not reachable" in err[0]
    (log,) = (tmp_path / "logs").glob("demojob-*.log")
    assert str(log) in err[0]
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "second line never shown" in text


def test_bad_settings_are_exit_2(capsys) -> None:
    assert run_job("demojob", argparse.ArgumentParser(), lambda a, s: 0, ["--env", "no-such-env"]) == EXIT_USAGE
    assert "bad settings" in capsys.readouterr().err


def test_the_body_gets_the_settings_and_its_code_is_the_exit_code() -> None:
    seen: list[str] = []

    def body(args: argparse.Namespace, settings: Settings) -> int:
        seen.append(settings.env)
        return 3

    assert run_job("demojob", argparse.ArgumentParser(), body, [], default_env="test") == 3
    assert seen == ["test"]
