"""The compiled schema check (fastjsonschema) only ever speeds up the verdict jsonschema gives: every record gets
the same reason, or none, as jsonschema alone gives it; a schema whose meaning a draft-7 compiler could change is
left to jsonschema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from lakehouse.bronze.entities import FITBIT_INTRADAY
from lakehouse.bronze.parse import EntityFormat, _fast_validator, _schema_reason
from lakehouse.config import SCHEMAS_DIR

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def fmt_of(schema: dict[str, Any]) -> EntityFormat:
    return EntityFormat("json", json.dumps({"$schema": DRAFT, **schema}), ())


def jsonschema_verdict(record: Any, fmt: EntityFormat) -> list[str]:
    """jsonschema's own error messages for the record (the independent reference)."""
    return sorted(e.message for e in Draft202012Validator(json.loads(fmt.schema_json)).iter_errors(record))


TYPED = fmt_of({
    "type": "object",
    "required": ["id", "kind"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "speed": {"type": "number"},
        "kind": {"enum": ["run", "walk"]},
        "when": {"type": "string", "pattern": "^\\d{2}:\\d{2}$", "format": "date-time"},
        "laps": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/lap"}},
    },
    "if": {"properties": {"kind": {"const": "run"}}},
    "then": {"properties": {"speed": {"minimum": 1}}},
    "$defs": {"lap": {"type": "object", "required": ["n"], "additionalProperties": False,
                      "properties": {"n": {"type": "integer"}}}},
})  # fmt: skip

RECORDS = [
    {"id": 1, "kind": "run", "speed": 3.5, "when": "06:30", "laps": [{"n": 1}]},  # valid
    {"id": 1.0, "kind": "walk"},  # 1.0 is an integer to jsonschema
    {"id": True, "kind": "walk"},  # a boolean is not an integer
    {"id": 1, "kind": "walk", "speed": False},  # nor a number
    {"id": 0, "kind": "walk"},  # below the minimum
    {"id": 2, "kind": "run", "speed": 0.5},  # the conditional minimum
    {"id": 2, "kind": "swim"},  # not in the enum
    {"id": 2},  # missing a required field
    {"id": 2, "kind": "walk", "when": "6:30pm"},  # pattern (the format is not checked, by either)
    {"id": 2, "kind": "walk", "laps": [{"n": 1}, {"n": 2}, {"n": 3}]},  # too many items
    {"id": 2, "kind": "walk", "laps": [{"n": 1, "extra": 1}]},  # additional property in a $ref'd schema
    {"id": 2, "kind": "walk", "laps": [{"n": "1"}]},  # wrong type deep down
    {"id": None, "kind": None, "speed": "fast"},  # several at once
]


@pytest.mark.parametrize("record", RECORDS, ids=range(len(RECORDS)))
def test_reasons_are_jsonschemas_whether_or_not_the_compiled_check_ran(record: dict[str, Any]) -> None:
    assert _fast_validator(TYPED.schema_json) is not None  # this schema takes the fast path
    reason = _schema_reason(record, TYPED)
    expected = jsonschema_verdict(record, TYPED)
    if not expected:
        assert reason is None
    else:
        assert reason is not None and reason.startswith("schema: ")
        for message in expected[:3]:
            assert message in reason


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "prefixItems": [{"type": "integer"}]},  # 2020-12 only
        {"type": "object", "unevaluatedProperties": False},  # 2020-12 only
        {"type": "array", "uniqueItems": True},  # 1 and True are equal to a compiled check
        {"enum": [1, 2]},  # a compiled `in` would take True for 1
        {"const": 0},
        {"properties": {"a": {"$ref": "#/$defs/x", "minimum": 3}}, "$defs": {"x": {"type": "integer"}}},  # sibling
        {"properties": {"a": {"$ref": "other.schema.json"}}},  # not in this document
        {"type": "array", "items": [{"type": "integer"}]},  # the array form of items
        {"type": "object", "dependentRequired": {"a": ["b"]}},
    ],
)
def test_schemas_a_draft7_compiler_could_read_differently_stay_with_jsonschema(schema: dict[str, Any]) -> None:
    assert _fast_validator(fmt_of(schema).schema_json) is None


def test_every_shipped_schema_takes_the_fast_path() -> None:
    names = sorted(p.name for p in SCHEMAS_DIR.glob("*.schema.json"))
    assert names  # the shipped schemas are there
    slow = [n for n in names if _fast_validator((SCHEMAS_DIR / n).read_text()) is None]
    assert slow == []


def test_fitbit_day_reasons_match_jsonschema() -> None:
    fmt = FITBIT_INTRADAY.format(SCHEMAS_DIR)
    good = {
        "user_id": "u1", "resource": "heart", "date": "2024-05-01", "detail_level": "1min",
        "response": {"activities-heart": [], "activities-heart-intraday": {
            "dataset": [{"time": "00:00:00", "value": 61}, {"time": "00:01:00", "value": 62}],
            "datasetInterval": 1, "datasetType": "minute"}},
    }  # fmt: skip
    assert _schema_reason(good, fmt) is None
    variants = []
    for value in (None, True, [1], {"v": 1}):
        bad = json.loads(json.dumps(good))
        bad["response"]["activities-heart-intraday"]["dataset"][1]["value"] = value
        variants.append(bad)
    late = json.loads(json.dumps(good))
    late["response"]["activities-heart-intraday"]["dataset"][0]["time"] = "24h"
    no_data = json.loads(json.dumps(good))
    del no_data["response"]["activities-heart-intraday"]["dataset"]
    for bad in (*variants, late, no_data):
        reason = _schema_reason(bad, fmt)
        expected = jsonschema_verdict(bad, fmt)
        assert expected and reason is not None
        assert all(message in reason for message in expected[:3])
