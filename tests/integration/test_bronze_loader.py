"""Bronze loads with COPY INTO semantics: once per file, exactly once across crashes, changed files reloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.entities import STRAVA_ACTIVITIES
from lakehouse.bronze.loader import LEDGER_TABLE, QUARANTINE_TABLE, LoadHooks, load_entity
from lakehouse.config import Settings
from lakehouse.tables import Tables, delta_table, read_table

RAW_COLUMNS = ["record", "_source_file", "_file_hash", "_record_index", "_batch_id"]


class InjectedFault(RuntimeError):
    """Raised by a test hook to simulate a crash."""


def activity(activity_id: int, kudos: int = 0, **overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": activity_id,
        "athlete": {"id": 77},
        "distance": 1000.0 * activity_id,
        "moving_time": 300 * activity_id,
        "elapsed_time": 320 * activity_id,
        "sport_type": "Run",
        "start_date": "2024-05-01T06:00:00Z",
        "kudos_count": kudos,
    }
    record.update(overrides)
    return record


def write(settings: Settings, month: str, name: str, content: bytes | str | list[dict[str, object]]) -> Path:
    path = Path(settings.landing_root, "strava", "activities", f"month={month}", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, list):
        content = json.dumps(content)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def bronze_rows(spark: SparkSession, settings: Settings) -> list[tuple[object, ...]]:
    df = read_table(spark, Tables(settings).ref("bronze", "strava_activities"))
    return sorted(tuple(r) for r in df.select(*RAW_COLUMNS).collect())


def quarantine(spark: SparkSession, settings: Settings) -> list[tuple[str, int | None, str]]:
    df = read_table(spark, Tables(settings).ref(*QUARANTINE_TABLE))
    return sorted((r["_source_file"].rsplit("/", 1)[-1], r["_record_index"], r["reason"]) for r in df.collect())


def loaded_ids(spark: SparkSession, settings: Settings) -> list[int]:
    df = read_table(spark, Tables(settings).ref("bronze", "strava_activities"))
    return sorted(json.loads(r["record"])["id"] for r in df.select("record").collect())


def test_second_load_finds_nothing_new(spark: SparkSession, settings: Settings) -> None:
    write(settings, "2024-05", "a.json", [activity(1), activity(2)])
    first = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    before = bronze_rows(spark, settings)
    second = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r2")

    assert (first.files_loaded, first.records_loaded, first.batch_id) == (1, 2, 1)
    assert (second.files_loaded, second.records_loaded, second.batch_id) == (0, 0, None)
    assert bronze_rows(spark, settings) == before
    # No reject, no quarantine commit: the table holds only its creation (version 0).
    assert [r[0] for r in delta_table(spark, Tables(settings).ref(*QUARANTINE_TABLE)).history().collect()] == [0]


def test_new_file_is_loaded_alone(spark: SparkSession, settings: Settings) -> None:
    write(settings, "2024-05", "a.json", [activity(1)])
    load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    write(settings, "2024-06", "b.json", [activity(2), activity(3)])
    result = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r2")

    assert (result.files_seen, result.files_loaded, result.records_loaded) == (2, 1, 2)
    assert loaded_ids(spark, settings) == [1, 2, 3]


@pytest.mark.parametrize("hook", ["after_bronze_write", "after_quarantine_write"])
def test_crash_after_data_before_bookkeeping_then_rerun_equals_clean_run(
    spark: SparkSession, settings: Settings, tmp_path: Path, hook: str
) -> None:
    clean = settings.with_roots(str(tmp_path / "clean-landing"), str(tmp_path / "clean-tables"))
    for target in (settings, clean):
        write(target, "2024-05", "a.json", [activity(1), activity(2, distance="far")])
        write(target, "2024-06", "b.json", [activity(3)])
        # Same bytes, same modification time: identical landing zones.
        for name in ("month=2024-05/a.json", "month=2024-06/b.json"):
            os.utime(Path(target.landing_root, "strava/activities", name), (1_700_000_000, 1_700_000_000))

    def crash() -> None:
        raise InjectedFault("power cut")

    with pytest.raises(InjectedFault):
        load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="crashed", hooks=LoadHooks(**{hook: crash}))
    resumed = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="rerun")
    load_entity(spark, clean, STRAVA_ACTIVITIES, run_id="clean")

    assert resumed.resumed
    assert bronze_rows(spark, settings) == bronze_rows(spark, clean)
    assert quarantine(spark, settings) == quarantine(spark, clean)
    assert loaded_ids(spark, settings) == [1, 3]
    # And nothing is left to do afterwards.
    again = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="again")
    assert (again.batch_id, again.resumed) == (None, False)
    ledger = read_table(spark, Tables(settings).ref(*LEDGER_TABLE)).where(F.col("status") == "committed")
    assert sorted(r["file_path"] for r in ledger.collect()) == [
        "strava/activities/month=2024-05/a.json",
        "strava/activities/month=2024-06/b.json",
    ]


def test_changed_file_is_reloaded_with_a_warning(spark: SparkSession, settings: Settings) -> None:
    path = write(settings, "2024-05", "a.json", [activity(1, kudos=1)])
    load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    path.write_text(json.dumps([activity(1, kudos=5)]))
    os.utime(path, (1_800_000_000, 1_800_000_000))
    result = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r2")

    assert (result.files_changed, result.records_loaded) == (1, 1)
    assert len(result.warnings) == 1 and "content changed since batch 1" in result.warnings[0]
    df = read_table(spark, Tables(settings).ref("bronze", "strava_activities"))
    kudos_by_batch = sorted((r["_batch_id"], json.loads(r["record"])["kudos_count"]) for r in df.collect())
    assert kudos_by_batch == [(1, 1), (2, 5)]


def test_touched_but_identical_file_is_not_reloaded(spark: SparkSession, settings: Settings) -> None:
    path = write(settings, "2024-05", "a.json", [activity(1)])
    load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    os.utime(path, (1_800_000_000, 1_800_000_000))
    result = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r2")

    assert (result.files_loaded, result.records_loaded) == (0, 0)
    assert loaded_ids(spark, settings) == [1]


def test_force_reloads_everything(spark: SparkSession, settings: Settings) -> None:
    write(settings, "2024-05", "a.json", [activity(1)])
    write(settings, "2024-06", "b.json", [activity(2)])
    load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    result = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r2", force=True)

    assert (result.files_loaded, result.records_loaded) == (2, 2)
    assert loaded_ids(spark, settings) == [1, 1, 2, 2]


def test_every_kind_of_bad_input_is_quarantined_while_good_neighbours_load(
    spark: SparkSession, settings: Settings
) -> None:
    no_id = activity(13)
    del no_id["id"]
    whole = json.dumps([activity(20), activity(21)])
    write(settings, "2024-01", "good.json", [activity(1), activity(2)])
    write(settings, "2024-01", "empty.json", b"")
    write(settings, "2024-01", "truncated.json", whole[: whole.index('{"id": 21') + 12])
    write(settings, "2024-01", "object.json", json.dumps(activity(30)))
    write(settings, "2024-02", "mixed.json", [activity(10), activity(11, distance="5k"), activity(12), no_id])
    write(settings, "2024-02", "dupes.json", [activity(40), activity(40, kudos=3)])
    write(settings, "2024-02", "extra.json", [activity(50, brand_new_field=[1, 2])])
    write(settings, "2024-03", "bom.json", b"\xef\xbb\xbf" + json.dumps([activity(60)]).encode())
    write(
        settings,
        "2024-03",
        "latin1.json",
        json.dumps([activity(70, name="Caf\u00e9")], ensure_ascii=False).encode().replace("\u00e9".encode(), b"\xe9"),
    )
    # The same id in two files is not an error in bronze: both load, silver keeps the latest.
    write(settings, "2024-03", "again.json", [activity(1, kudos=9)])

    result = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="bad")

    assert loaded_ids(spark, settings) == [1, 1, 2, 10, 12, 20, 40, 50, 60]
    reasons = quarantine(spark, settings)
    assert [(name, index) for name, index, _ in reasons] == [
        ("dupes.json", 1),
        ("empty.json", None),
        ("latin1.json", 0),
        ("mixed.json", 1),
        ("mixed.json", 3),
        ("object.json", None),
        ("truncated.json", None),
    ]
    by_file = {(name, index): reason for name, index, reason in reasons}
    assert "duplicate key" in by_file[("dupes.json", 1)]
    assert by_file[("empty.json", None)] == "empty file"
    assert by_file[("latin1.json", 0)] == "not valid UTF-8: byte 0xe9 in name"
    assert by_file[("mixed.json", 1)] == "schema: distance: '5k' is not of type 'number'"
    assert by_file[("mixed.json", 3)] == "schema: record: 'id' is a required property"
    assert by_file[("object.json", None)] == "expected a JSON array of records, got a JSON dict"
    assert "truncated or corrupt" in by_file[("truncated.json", None)]
    assert (result.records_loaded, result.records_quarantined, result.files_loaded) == (9, 7, 10)
    notes = {
        r["file_path"].rsplit("/", 1)[-1]: r["notes"]
        for r in read_table(spark, Tables(settings).ref(*LEDGER_TABLE)).where("status = 'committed'").collect()
    }
    assert notes["bom.json"] == "UTF-8 byte-order mark removed"
    assert notes["extra.json"] == "unknown fields kept: brand_new_field"


def test_any_file_name_under_a_root_with_glob_characters_loads_once(
    spark: SparkSession, base_settings: Settings, tmp_path: Path
) -> None:
    """Spark's readers take paths for glob patterns: a root such as `my lake [1]` or a file such as `ride [2].json`
    named no file or other files. And Hadoop cannot open a name with a `:` at all: that one is read here instead.
    An extension in capitals is the entity's all the same."""
    root = tmp_path / "my lake [1]"
    settings = base_settings.with_roots(str(root / "landing"), str(root / "tables"))
    names = {"a.json": 1, "ride [2] *?.json": 2, "12:30 run.json": 3, "100% +{x,y}\\.json": 4, "UPPER.JSON": 5}
    for name, activity_id in names.items():
        write(settings, "2024-05", name, [activity(activity_id)])

    first = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r1")
    second = load_entity(spark, settings, STRAVA_ACTIVITIES, run_id="r2")

    assert (first.files_loaded, first.records_loaded, first.records_quarantined) == (5, 5, 0)
    assert loaded_ids(spark, settings) == [1, 2, 3, 4, 5]
    lineage = read_table(spark, Tables(settings).ref("bronze", "strava_activities")).select("_source_file")
    assert sorted(r[0] for r in lineage.collect()) == sorted(f"strava/activities/month=2024-05/{n}" for n in names)
    assert (second.files_loaded, second.records_loaded) == (0, 0)  # the ledger knows each file by its name
