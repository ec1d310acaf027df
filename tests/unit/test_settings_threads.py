"""`[spark] table_threads`: read from the settings file, overridden by LAKEHOUSE_TABLE_THREADS, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config import ConfigError, load_settings


def write_env(folder: Path, spark_section: str) -> Path:
    (folder / "mine.toml").write_text(f'[paths]\nroot = "{folder}"\n\n[spark]\n{spark_section}')
    return folder


def test_two_tables_at_once_unless_the_settings_say_otherwise(tmp_path: Path) -> None:
    assert load_settings("mine", write_env(tmp_path, ""), environ={}).spark.table_threads == 2
    assert load_settings("mine", write_env(tmp_path, "table_threads = 1\n"), environ={}).spark.table_threads == 1
    conf = write_env(tmp_path, "table_threads = 3\n")
    assert load_settings("mine", conf, environ={"LAKEHOUSE_TABLE_THREADS": "4"}).spark.table_threads == 4


@pytest.mark.parametrize("value", ["0", "-2"])
def test_fewer_than_one_thread_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="table_threads must be 1 or more"):
        load_settings("mine", write_env(tmp_path, f"table_threads = {value}\n"), environ={})
