"""The whole-file checks that let clean files skip the per-record walks: they never change a result.

`nests_at_most` is compared with `nesting_depth` (a character-by-character walk, the independent method) on
nested JSON with brackets, quotes and backslashes inside strings. `parse_file` is compared with itself with the
file checks turned off (every record walked for bad values and depth, as before) on clean and hostile files.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from lakehouse.bronze import parse
from lakehouse.bronze.entities import FITBIT_INTRADAY, STRAVA_ACTIVITIES
from lakehouse.bronze.parse import MAX_NESTING, EntityFormat, nesting_depth, nests_at_most, parse_file
from lakehouse.config import SCHEMAS_DIR

TRICKY_STRINGS = ["]]]", "{[", '"', '\\"]', "\\", "a\\\\", "}{", "", "é ü 日本", "\\u005d"]


def nested(rng: random.Random, depth: int) -> object:
    """A random JSON value nesting at most `depth` deep, strings full of brackets, quotes and backslashes."""
    if depth == 0 or rng.random() < 0.25:
        return rng.choice([*TRICKY_STRINGS, 1, 2.5, None, True])
    if rng.random() < 0.5:
        return [nested(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(TRICKY_STRINGS) + str(i): nested(rng, depth - 1) for i in range(rng.randint(0, 3))}


def test_nests_at_most_agrees_with_the_character_walk() -> None:
    rng = random.Random(7)
    texts = ['[{"a": [1]}, "]]]"]', "[]", "{}", '"[[["', "[[[[]]]]", '[{"k\\"[": "]"}]', "1"]
    texts += [json.dumps(nested(rng, rng.randint(0, 8))) for _ in range(300)]
    texts += [json.dumps(nested(rng, 6), ensure_ascii=False, indent=2) for _ in range(50)]
    for text in texts:
        depth = nesting_depth(text)
        for limit in range(0, 10):
            assert nests_at_most(text, limit) == (depth <= limit), (text, limit, depth)


def deep(levels: int) -> str:
    """A record whose field holds lists `levels - 1` deep (the record itself is one level)."""
    return '{"id": 5, "deep": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def clean_day(day: str) -> dict[str, object]:
    """A Fitbit steps day as the Web API's intraday endpoint returned it (five minutes of it)."""
    dataset = [{"time": f"00:{m:02d}:00", "value": 60 + m} for m in range(5)]
    return {"user_id": "u1", "resource": "steps", "date": day, "detail_level": "1min",
            "response": {"activities-steps": [{"dateTime": day, "value": "310"}],
                         "activities-steps-intraday": {"dataset": dataset}}}  # fmt: skip


STRAVA_ACTIVITY = ('{"id": %d, "athlete": {"id": 9}, "name": %s, "distance": %s, "moving_time": 10,'
                   ' "elapsed_time": 10, "type": "Run", "sport_type": "Run", "start_date": "2024-05-01T06:00:00Z",'
                   ' "start_date_local": "2024-05-01T08:00:00Z"}')  # fmt: skip

HOSTILE_STRAVA = {
    "clean": [STRAVA_ACTIVITY % (1, '"Run"', "5.0")],
    "nan": [STRAVA_ACTIVITY % (1, '"Run"', "NaN"), STRAVA_ACTIVITY % (2, '"ok"', "1.0")],
    "infinity": [STRAVA_ACTIVITY % (1, '"Run"', "-Infinity")],
    "overflow exponent": [STRAVA_ACTIVITY % (1, '"Run"', "1E+309")],
    "overflow exponent small mantissa": [STRAVA_ACTIVITY % (1, '"Run"', "1000e306")],
    "overflow digits": [STRAVA_ACTIVITY % (1, '"Run"', "9" * 320 + ".5")],
    "big but finite": [STRAVA_ACTIVITY % (1, '"Run"', "1e308"), STRAVA_ACTIVITY % (2, '"e"', "1e-999")],
    "lone surrogate escape": [STRAVA_ACTIVITY % (1, '"a\\ud800b"', "1.0")],
    "surrogate pair escape": [STRAVA_ACTIVITY % (1, '"\\ud83c\\udfc3"', "1.0")],
    "escaped backslash then u": [STRAVA_ACTIVITY % (1, '"\\\\ud800"', "1.0")],
    "words NaN and Infinity in a name": [STRAVA_ACTIVITY % (1, '"NaN Infinity"', "2.0")],
    "record 64 deep (allowed)": [deep(MAX_NESTING)],
    "record 65 deep": [deep(MAX_NESTING + 1), STRAVA_ACTIVITY % (2, '"ok"', "1.0")],
    "brackets in strings": [STRAVA_ACTIVITY % (1, json.dumps("[" * 80 + '"\\'), "1.0")],
}


def parsed(data: bytes, fmt: EntityFormat) -> tuple[list, list, list]:
    out = parse_file(data, fmt)
    return out.records, out.quarantined, out.notes


@pytest.mark.parametrize("case", sorted(HOSTILE_STRAVA))
def test_the_file_checks_never_change_what_a_file_parses_to(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = STRAVA_ACTIVITIES.format(SCHEMAS_DIR)
    data = ("[" + ", ".join(HOSTILE_STRAVA[case]) + "]").encode("utf-8")
    with_checks = parsed(data, fmt)
    monkeypatch.setattr(parse, "_MAYBE_BAD_VALUE_RE", re.compile(""))  # matches every text: walk every record
    monkeypatch.setattr(parse, "nests_at_most", lambda text, limit: False)
    assert parsed(data, fmt) == with_checks


def test_a_clean_day_file_skips_the_walks_and_a_bad_one_still_quarantines(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = FITBIT_INTRADAY.format(SCHEMAS_DIR)
    walked: list[object] = []
    real = parse._value_problem
    def counted(value: object, where: str) -> str | None:
        if where == "record":  # a record's walk (it recurses into its values)
            walked.append(value)
        return real(value, where)

    monkeypatch.setattr(parse, "_value_problem", counted)
    clean = json.dumps([clean_day("2024-05-01"), clean_day("2024-05-02")]).encode()
    records, quarantined, _ = parsed(clean, fmt)
    assert (len(records), quarantined, walked) == (2, [], [])
    bad = clean.replace(b'"value": 60}', b'"value": NaN}', 1)
    records, quarantined, _ = parsed(bad, fmt)
    assert len(records) == 1 and len(walked) == 2
    assert quarantined[0][0] == 0 and "NaN is not a JSON number" in quarantined[0][2]
