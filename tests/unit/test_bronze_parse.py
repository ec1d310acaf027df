"""parse_file on each kind of bad input: the reason is clear and the good records around it survive."""

from __future__ import annotations

import json

import pytest

from lakehouse.bronze.entities import MAPMYRUN_WORKOUTS, STRAVA_ACTIVITIES
from lakehouse.bronze.parse import EntityFormat, parse_file
from lakehouse.config import SCHEMAS_DIR


@pytest.fixture(scope="module")
def strava() -> EntityFormat:
    return STRAVA_ACTIVITIES.format(SCHEMAS_DIR)


@pytest.fixture(scope="module")
def mapmyrun() -> EntityFormat:
    return MAPMYRUN_WORKOUTS.format(SCHEMAS_DIR)


def activity(activity_id: int, **overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": activity_id,
        "athlete": {"id": 9, "resource_state": 1},
        "name": "Morning Run",
        "distance": 5012.3,
        "moving_time": 1500,
        "elapsed_time": 1520,
        "type": "Run",
        "sport_type": "Run",
        "start_date": "2024-05-01T06:00:00Z",
        "start_date_local": "2024-05-01T08:00:00Z",
        "start_latlng": [],
    }
    record.update(overrides)
    return record


def encode(records: object) -> bytes:
    return json.dumps(records).encode("utf-8")


def loaded_ids(parsed) -> list[int]:  # type: ignore[no-untyped-def]
    return [json.loads(text)["id"] for _, text in parsed.records]


def test_clean_file_loads_every_record(strava: EntityFormat) -> None:
    parsed = parse_file(encode([activity(1), activity(2)]), strava)
    assert loaded_ids(parsed) == [1, 2]
    assert parsed.quarantined == []


def test_empty_file_is_quarantined(strava: EntityFormat) -> None:
    parsed = parse_file(b"", strava)
    assert parsed.records == []
    assert [(q[0], q[2]) for q in parsed.quarantined] == [(None, "empty file")]


def test_truncated_json_keeps_the_records_before_the_cut(strava: EntityFormat) -> None:
    whole = encode([activity(1), activity(2), activity(3)])
    cut = whole[: whole.index(b'"id": 3') + 7]
    parsed = parse_file(cut, strava)
    assert loaded_ids(parsed) == [1, 2]
    assert len(parsed.quarantined) == 1
    index, raw, reason = parsed.quarantined[0]
    assert index is None
    assert "truncated or corrupt" in reason
    assert raw.startswith('{"id": 3')


def test_object_where_an_array_is_expected(strava: EntityFormat) -> None:
    parsed = parse_file(encode(activity(1)), strava)
    assert parsed.records == []
    assert parsed.quarantined[0][2] == "expected a JSON array of records, got a JSON dict"


def test_wrong_type_quarantines_only_that_record(strava: EntityFormat) -> None:
    parsed = parse_file(encode([activity(1), activity(2, distance="5k"), activity(3)]), strava)
    assert loaded_ids(parsed) == [1, 3]
    assert [(q[0], q[2]) for q in parsed.quarantined] == [
        (1, "schema: distance: '5k' is not of type 'number'")
    ]


def test_missing_id_is_quarantined(strava: EntityFormat) -> None:
    nameless = activity(2)
    del nameless["id"]
    parsed = parse_file(encode([activity(1), nameless]), strava)
    assert loaded_ids(parsed) == [1]
    assert parsed.quarantined[0][2] == "schema: record: 'id' is a required property"


def test_duplicate_id_within_a_file_keeps_the_first(strava: EntityFormat) -> None:
    parsed = parse_file(encode([activity(1), activity(2), activity(1, kudos_count=4)]), strava)
    assert loaded_ids(parsed) == [1, 2]
    assert parsed.quarantined[0][0] == 2
    assert "duplicate key" in parsed.quarantined[0][2] and "first at record 0" in parsed.quarantined[0][2]


def test_unknown_fields_are_kept_and_noted(strava: EntityFormat) -> None:
    parsed = parse_file(encode([activity(1, shiny_new_field={"a": 1})]), strava)
    assert json.loads(parsed.records[0][1])["shiny_new_field"] == {"a": 1}
    assert parsed.notes == ["unknown fields kept: shiny_new_field"]


def test_bom_is_removed_and_noted(strava: EntityFormat) -> None:
    parsed = parse_file(b"\xef\xbb\xbf" + encode([activity(1)]), strava)
    assert loaded_ids(parsed) == [1]
    assert parsed.notes == ["UTF-8 byte-order mark removed"]


def test_non_utf8_bytes_quarantine_only_their_record(strava: EntityFormat) -> None:
    records = [activity(1), activity(2, name="Café"), activity(3)]
    data = json.dumps(records, ensure_ascii=False).encode().replace("é".encode(), b"\xe9")
    parsed = parse_file(data, strava)
    assert loaded_ids(parsed) == [1, 3]
    [(index, raw, reason)] = parsed.quarantined
    assert (index, reason) == (1, "not valid UTF-8: byte 0xe9 in name")
    assert "Caf\\xe9" in raw
    offset = data.index(b"\xe9")
    assert parsed.notes == [f"not valid UTF-8 from offset {offset}: records with undecodable bytes quarantined"]


def test_lone_surrogate_is_quarantined_and_a_pair_loads(strava: EntityFormat) -> None:
    text = json.dumps([activity(1, name="LONE"), activity(2, name="\U0001f3c3 run")])  # the pair as \ud83c\udfc3
    parsed = parse_file(text.replace("LONE", "\\ud800 run").encode(), strava)
    assert loaded_ids(parsed) == [2]
    assert json.loads(parsed.records[0][1])["name"] == "\U0001f3c3 run"
    [(index, raw, reason)] = parsed.quarantined
    assert (index, reason) == (0, "lone surrogate \\ud800 in name (a \\u escape without its pair is not Unicode)")
    raw.encode("utf-8")  # what goes to Spark must be encodable


@pytest.mark.parametrize(("token", "shown"), [("NaN", "NaN"), ("-Infinity", "-Infinity"), ("1e999", "Infinity")])
def test_non_finite_numbers_are_quarantined(strava: EntityFormat, token: str, shown: str) -> None:
    text = json.dumps([activity(1, distance=12.5), activity(2)]).replace("12.5", token)
    parsed = parse_file(text.encode(), strava)
    assert loaded_ids(parsed) == [2]
    assert parsed.quarantined[0][2] == (
        f"distance: {shown} is not a JSON number (NaN, Infinity or beyond the range of a double)"
    )


def test_record_that_is_not_an_object(strava: EntityFormat) -> None:
    parsed = parse_file(encode([activity(1), [1, 2]]), strava)
    assert loaded_ids(parsed) == [1]
    assert parsed.quarantined[0][2] == "record is not a JSON object (got list)"


HEADER = (
    "Date Submitted,Workout Date,Activity Type,Calories Burned (kCal),Distance (km),Workout Time (seconds),"
    "Avg Pace (min/km),Max Pace (min/km),Avg Speed (km/h),Max Speed (km/h),Avg Heart Rate,Steps,Notes,Source,Link"
)
ROW = (
    '"Sept. 30, 2020","Sept. 30, 2020",Run,340,4.5,2336,8.65,1.1,6.93,54.5,0,6205,b\'\','
    "Map My Fitness MapMyRun iPhone,http://www.mapmyfitness.com/workout/{id}"
)


def test_csv_rows_become_records(mapmyrun: EntityFormat) -> None:
    text = "\n".join([HEADER, ROW.format(id=11), ROW.format(id=12)]) + "\n"
    parsed = parse_file(text.encode(), mapmyrun)
    links = [json.loads(r)["Link"] for _, r in parsed.records]
    assert links == ["http://www.mapmyfitness.com/workout/11", "http://www.mapmyfitness.com/workout/12"]
    assert json.loads(parsed.records[0][1])["Workout Date"] == "Sept. 30, 2020"


def test_csv_missing_column_is_quarantined_whole(mapmyrun: EntityFormat) -> None:
    header = HEADER.replace(",Link", "")
    row = ROW.format(id=11).rsplit(",", 1)[0]
    parsed = parse_file(f"{header}\n{row}\n".encode(), mapmyrun)
    assert parsed.records == []
    assert parsed.quarantined[0][2] == "CSV is missing required columns: Link"


def test_csv_bad_row_does_not_stop_its_neighbours(mapmyrun: EntityFormat) -> None:
    bad_distance = ROW.format(id=12).replace(",4.5,", ",4.5km,")
    short = ",".join(ROW.format(id=13).split(",")[:7])  # the two dates hold a comma each: 5 fields
    text = "\n".join([HEADER, ROW.format(id=11), bad_distance, short, ROW.format(id=14)])
    parsed = parse_file(text.encode(), mapmyrun)
    assert [json.loads(r)["Link"][-2:] for _, r in parsed.records] == ["11", "14"]
    reasons = {q[0]: q[2] for q in parsed.quarantined}
    assert sorted(reasons) == [1, 2]
    assert reasons[1].startswith("schema: Distance (km): '4.5km' does not match")
    assert reasons[2] == "CSV row has 5 fields, header has 15"


def test_a_record_nested_10000_deep_is_quarantined_alone(strava: EntityFormat) -> None:
    # Python's JSON reader stops with a RecursionError long before 10,000 levels; the load must not.
    deep = "[" * 10_000 + "]" * 10_000
    text = json.dumps([activity(1), activity(2, laps="DEEP"), activity(3)]).replace('"DEEP"', deep)

    parsed = parse_file(text.encode(), strava)

    assert loaded_ids(parsed) == [1, 3]
    [(index, raw, reason)] = parsed.quarantined
    assert (index, reason) == (1, "nested deeper than 64 levels: not a record of this source")
    assert raw.startswith('{"id": 2,')


def test_a_file_nested_too_deep_to_be_an_array_is_quarantined_whole(strava: EntityFormat) -> None:
    parsed = parse_file(b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", strava)

    assert parsed.records == []
    assert [reason for _, _, reason in parsed.quarantined] == [
        "nested deeper than 64 levels: not a record of this source"
    ]


def test_nesting_python_can_read_but_no_record_has_is_quarantined(strava: EntityFormat) -> None:
    # 500 levels parse, but would overflow the checks that walk the record; 60 levels are a record's business.
    deep = activity(2, laps="DEEP")
    text = json.dumps([activity(1, laps="OK"), deep]).replace('"DEEP"', "[" * 500 + "]" * 500)
    text = text.replace('"OK"', "[" * 60 + "]" * 60)

    parsed = parse_file(text.encode(), strava)

    assert loaded_ids(parsed) == [1]
    assert [(i, reason) for i, _, reason in parsed.quarantined] == [
        (1, "nested deeper than 64 levels: not a record of this source")
    ]
