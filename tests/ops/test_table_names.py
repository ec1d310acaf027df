"""Tables by name: every Delta folder is `layer.table` in the shared local metastore, seen by other processes
at the same time; catalog mode (`LAKEHOUSE_CATALOG`) writes and reads by `catalog.layer.table`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.config import Settings, load_settings
from lakehouse.metastore import (
    ensure_server,
    local_metastore,
    register_tables,
    server_status,
    stop_server,
    table_folders,
)
from lakehouse.spark import cached_jars
from lakehouse.tables import (
    Tables,
    append,
    overwrite,
    read_table,
    replace_where,
    table_exists,
    table_version,
)

REPO = Path(__file__).resolve().parents[2]


def _write(spark: SparkSession, location: str, rows: list[tuple[int, str]]) -> None:
    spark.createDataFrame(rows, "id INT, word STRING").write.format("delta").mode("overwrite").save(location)


def test_tables_under_a_root_with_glob_characters_are_found(spark: SparkSession, settings: Settings) -> None:
    odd = settings.with_roots(settings.landing_root, str(Path(settings.tables_root).parent / "my tables [1]"))
    _write(spark, Tables(odd).ref("gold", "odd_probe").location, [(1, "one")])

    assert list(table_folders(spark, odd)) == ["gold.odd_probe"]  # the root was a pattern: no table was found


def test_every_delta_folder_becomes_layer_dot_name(spark: SparkSession, settings: Settings) -> None:
    tables = Tables(settings)
    _write(spark, tables.ref("gold", "names_probe").location, [(1, "one"), (2, "two")])
    _write(spark, tables.ref("ops", "names_ledger").location, [(3, "three")])
    Path(settings.tables_root, "silver", "not_a_table").mkdir(parents=True)  # no _delta_log: not named

    assert sorted(table_folders(spark, settings)) == ["gold.names_probe", "ops.names_ledger"]
    assert sorted(register_tables(spark, settings)) == ["gold.names_probe", "ops.names_ledger"]
    assert register_tables(spark, settings) == []  # idempotent

    expected = spark.createDataFrame([(1, "one"), (2, "two")], "id INT, word STRING")
    assert_df_equality(spark.table("gold.names_probe"), expected, ignore_row_order=True)
    assert spark.sql("SELECT word FROM ops.names_ledger").first()["word"] == "three"

    # A name follows a new write at once: it points at the folder, and Delta reads the newest version.
    _write(spark, tables.ref("gold", "names_probe").location, [(9, "nine")])
    assert [tuple(r) for r in spark.table("gold.names_probe").collect()] == [(9, "nine")]


def test_a_name_moves_to_another_lakehouse_without_deleting_data(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    first = settings
    second = settings.with_roots(str(tmp_path / "other-landing"), str(tmp_path / "other-tables"))
    _write(spark, Tables(first).ref("gold", "moving").location, [(1, "first")])
    _write(spark, Tables(second).ref("gold", "moving").location, [(2, "second")])
    register_tables(spark, first)
    assert [tuple(r) for r in spark.table("gold.moving").collect()] == [(1, "first")]
    assert register_tables(spark, second) == ["gold.moving"]
    assert [tuple(r) for r in spark.table("gold.moving").collect()] == [(2, "second")]
    # The first folder is intact: re-pointing dropped only the name.
    assert [tuple(r) for r in read_table(spark, Tables(first).ref("gold", "moving")).collect()] == [(1, "first")]


def test_another_process_shares_the_metastore_at_the_same_time(
    spark: SparkSession, base_settings: Settings, settings: Settings
) -> None:
    """A second Spark (its own JVM) reads a name this session registered, and names a table this session sees,
    while this session stays connected: what an embedded Derby metastore cannot do."""
    _write(spark, Tables(settings).ref("gold", "shared_probe").location, [(7, "seven")])
    register_tables(spark, settings)
    other_tables = Path(settings.tables_root).parent / "other-process"
    script = textwrap.dedent(
        f"""
        from lakehouse.config import load_settings
        from lakehouse.metastore import register_tables
        from lakehouse.spark import get_spark
        settings = load_settings("test")
        spark = get_spark(settings)
        print("READ", spark.table("gold.shared_probe").first()["word"], flush=True)
        other = settings.with_roots(tables_root={str(other_tables)!r})
        spark.createDataFrame([(5, "five")], "id INT, word STRING").write.format("delta").save(
            {str(other_tables / "silver" / "from_other_process")!r})
        print("ADDED", register_tables(spark, other), flush=True)
        spark.stop()
        """
    )
    env = dict(
        os.environ, LAKEHOUSE_TABLES_ROOT=base_settings.tables_root, LAKEHOUSE_LANDING_ROOT=base_settings.landing_root
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "READ seven" in done.stdout
    assert "ADDED ['silver.from_other_process']" in done.stdout
    assert [tuple(r) for r in spark.table("silver.from_other_process").collect()] == [(5, "five")]
    assert "metastore running" in server_status(local_metastore(base_settings))


def test_catalog_mode_reads_and_writes_by_catalog_name(spark: SparkSession, settings: Settings) -> None:
    """`LAKEHOUSE_CATALOG=spark_catalog`: tables are created and addressed as spark_catalog.<layer>.<name>."""
    catalog = replace(settings, catalog="spark_catalog")
    ref = Tables(catalog).ref("silver", "catalog_mode_probe")
    assert ref.catalog_name == "spark_catalog.silver.catalog_mode_probe"
    spark.sql(f"DROP TABLE IF EXISTS {ref.catalog_name}")
    try:
        assert not table_exists(spark, ref)
        append(spark.createDataFrame([(1, "a"), (2, "b")], "id INT, word STRING"), ref)
        append(spark.createDataFrame([(3, "c")], "id INT, word STRING"), ref)
        replace_where(spark.createDataFrame([(2, "B")], "id INT, word STRING"), ref, "id = 2")
        assert table_exists(spark, ref)
        assert table_version(spark, ref) == 2
        expected = spark.createDataFrame([(1, "a"), (2, "B"), (3, "c")], "id INT, word STRING")
        assert_df_equality(read_table(spark, ref), expected, ignore_row_order=True)
        assert_df_equality(spark.table("silver.catalog_mode_probe"), expected, ignore_row_order=True)
        assert [tuple(r) for r in read_table(spark, ref, version=0).orderBy("id").collect()] == [(1, "a"), (2, "b")]
        overwrite(spark.createDataFrame([(4, "d")], "id INT, word STRING"), ref)
        assert [tuple(r) for r in read_table(spark, ref).collect()] == [(4, "d")]
        # Names come from the catalog in catalog mode: no folder is registered.
        assert register_tables(spark, catalog) == []
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {ref.catalog_name}")


@pytest.mark.parametrize("mode", ["external"])
def test_an_external_metastore_is_left_alone(spark: SparkSession, settings: Settings, mode: str) -> None:
    _write(spark, Tables(settings).ref("gold", "left_alone").location, [(1, "x")])
    assert register_tables(spark, replace(settings, metastore=replace(settings.metastore, mode=mode))) == []
    assert not spark.catalog.tableExists("gold.left_alone")


def test_a_server_whose_lakehouse_folder_was_deleted_is_replaced(tmp_path: Path) -> None:
    """Someone deletes a lakehouse folder while its metastore server runs, then starts afresh in the same place:
    the old server (serving a database that is gone) is shut down and a new one serves the new folder."""
    metastore = local_metastore(load_settings("test", environ={"LAKEHOUSE_ROOT": str(tmp_path / "lake")}))
    jars = cached_jars()
    assert ensure_server(metastore, jars)
    first = int(metastore.pid_file.read_text(encoding="utf-8"))
    try:
        assert not ensure_server(metastore, jars)  # running, folder intact: left alone
        shutil.rmtree(tmp_path / "lake")
        assert ensure_server(metastore, jars)  # the orphan is shut down, a new server started
        second = int(metastore.pid_file.read_text(encoding="utf-8"))
        assert second != first
        assert "metastore running" in server_status(metastore)
    finally:
        stop_server(metastore)
        try:
            os.kill(first, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_table_being_created_is_named_by_a_later_pass(spark: SparkSession, settings: Settings) -> None:
    """A `_delta_log` folder without a commit yet (a table some thread is creating) is not named, and is no error."""
    location = Tables(settings).ref("silver", "in_creation").location
    Path(location, "_delta_log").mkdir(parents=True)
    assert "silver.in_creation" in table_folders(spark, settings)
    assert register_tables(spark, settings) == []
    _write(spark, location, [(4, "four")])  # its first commit
    assert register_tables(spark, settings) == ["silver.in_creation"]
    assert spark.table("silver.in_creation").first()["word"] == "four"


def test_a_run_names_each_stages_tables_in_the_background_and_all_by_its_end(
    spark: SparkSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run_stages` names a stage's tables on a thread of its own while the next stage runs; every name is there
    when it returns, and a failing stage's predecessors keep theirs."""
    import threading

    from lakehouse import stages

    passes: list[tuple[str, str]] = []
    real_register = stages._register

    def register(spark_: SparkSession, settings_: Settings, stage: str, done: set[str]) -> None:
        passes.append((stage, threading.current_thread().name))
        real_register(spark_, settings_, stage, done)

    def stage_writing(lake: Settings, layer: str, name: str, fail: bool = False) -> Callable[..., list[Any]]:
        def run(*args: object, **kwargs: object) -> list[stages.SummaryRow]:
            _write(spark, Tables(lake).ref(layer, name).location, [(1, name)])
            if fail:
                raise RuntimeError(f"{name} failed")
            return [stages.SummaryRow(layer, name, 0, 0, 1, 0, 0.0)]

        return run

    monkeypatch.setattr(stages, "_register", register)
    monkeypatch.setattr(stages, "has_any_data", lambda *a: True)
    monkeypatch.setattr(stages, "bronze", stage_writing(settings, "bronze", "named_b"))
    monkeypatch.setattr(stages, "silver", stage_writing(settings, "silver", "named_s"))
    monkeypatch.setattr(stages, "gold", stage_writing(settings, "gold", "named_g"))
    monkeypatch.setattr(stages, "race_stages", stage_writing(settings, "gold", "named_r"))
    monkeypatch.setattr(stages, "compact_bookkeeping", lambda *a: None)

    rows = stages.run_stages(settings, stages.STAGES, "names-run", spark=spark)
    assert [r.table for r in rows] == ["named_b", "named_s", "named_g", "named_r"]
    assert [stage for stage, _ in passes] == ["bronze", "silver", "gold", "race"]
    assert {thread for _, thread in passes} != {threading.current_thread().name}
    assert all(thread.startswith("table-names") for _, thread in passes), passes
    for name in ("bronze.named_b", "silver.named_s", "gold.named_g", "gold.named_r"):
        assert spark.table(name).first()["word"] == name.split(".")[1]

    # Another lakehouse whose gold stage fails: bronze and silver are named all the same, and the run raises.
    parent = Path(settings.tables_root).parent
    other = settings.with_roots(str(parent / "l2"), str(parent / "t2"))
    monkeypatch.setattr(stages, "bronze", stage_writing(other, "bronze", "named_b"))
    monkeypatch.setattr(stages, "silver", stage_writing(other, "silver", "named_s"))
    monkeypatch.setattr(stages, "gold", stage_writing(other, "gold", "named_g", fail=True))
    passes.clear()
    with pytest.raises(RuntimeError, match="named_g failed"):
        stages.run_stages(other, stages.STAGES, "names-run-2", spark=spark)
    assert [stage for stage, _ in passes] == ["bronze", "silver"]
    location = spark.sql("DESCRIBE TABLE EXTENDED silver.named_s").where("col_name = 'Location'").first()["data_type"]
    assert location.rstrip("/").endswith("t2/silver/named_s")
