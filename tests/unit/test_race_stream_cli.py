"""`python -m jobs.race_stream`'s arguments."""

from __future__ import annotations

import pytest

from jobs.race_stream import build_parser


def test_files_per_trigger_defaults_to_the_stream_s_and_takes_a_positive_whole_number() -> None:
    parser = build_parser()
    assert parser.parse_args([]).files_per_trigger == 20
    assert parser.parse_args(["--files-per-trigger", "3"]).files_per_trigger == 3


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_files_per_trigger_refuses_what_is_not_a_positive_whole_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--files-per-trigger", value])
    assert exit_.value.code == 2
    assert "--files-per-trigger" in capsys.readouterr().err
