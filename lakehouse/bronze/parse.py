"""Turn the bytes of one landing file into good records and quarantined ones, with reasons.

Pure Python, no Spark: bronze calls `parse_file` inside a UDF, one file per call, and tests call it directly.
Rules:
- a file-level problem (empty, not UTF-8, not JSON, an object where an array is expected, a CSV missing a
  column) quarantines what cannot be read, with its reason; whatever can still be read is kept (records
  before a truncation point, the rows of a CSV around a bad row);
- a record that fails its JSON Schema, or repeats a key already seen in the same file, is quarantined
  alone; its neighbours load;
- a value Spark could not hold or that is not what JSON allows quarantines its record alone, with the field
  named: bytes that are not UTF-8 (the rest of the file is read), a lone UTF-16 surrogate from a `\\uD800`
  escape, and `NaN`, `Infinity` or a number beyond a double's range (Python's JSON reader accepts them;
  RFC 8259 does not);
- a record an importer could not convert lands marked `"_rejected": "<reason>"` (the Strava archive import
  does this for a bad CSV row or a corrupt activity file): it is quarantined with that reason;
- a UTF-8 byte-order mark is removed and noted; unknown extra fields are kept (bronze keeps the raw record)
  and noted, so a new field in an API never loses data;
- a record nested deeper than `MAX_NESTING` levels (no API record is near it) is quarantined alone, found
  without recursion: a hostile `[[[[...` 10,000 levels deep would otherwise stop Python's JSON reader (and
  the whole load) with a RecursionError.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

UTF8_BOM = b"\xef\xbb\xbf"
SURROGATES = ("\ud800", "\udfff")
ESCAPED_BYTES = ("\udc80", "\udcff")  # how `surrogateescape` carries the bytes 0x80..0xff it could not decode
SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Whatever in a JSON text could parse to a value `_value_problem` rejects: a surrogate (or an escape making one),
# NaN / Infinity, a number too big for a double (an exponent of 3 digits, or 200 digits in a row). Matching
# inside a string too, it over-reports; a text without any match needs no walk of its values.
_MAYBE_BAD_VALUE_RE = re.compile(
    "[\ud800-\udfff]|" + r"NaN|Infinity|\\u[dD][89a-fA-F]|[0-9][eE][+-]?[0-9]{3}|[0-9]{200}"
)
_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
_INNERMOST_PAIR_RE = re.compile(r"\[\]|\{\}")
MAX_RAW_CHARS = 100_000  # a quarantined blob is kept whole up to this size, then cut (and the cut noted)
MAX_ERRORS_IN_REASON = 3
REJECTED_FIELD = "_rejected"  # set by an importer on a record it could not convert, with the reason
MAX_NESTING = 64  # arrays/objects inside each other; real records are under 10 deep


@dataclass(frozen=True)
class EntityFormat:
    """What a landing file of an entity looks like: `json` (an array of objects) or `csv` (a header row)."""

    kind: str  # "json" or "csv"
    schema_json: str  # the JSON Schema text every record must satisfy
    key_fields: tuple[str, ...]  # dotted paths of the natural key, for duplicate detection within a file
    csv_required: tuple[tuple[str, ...], ...] = ()  # per required column: the accepted header names


@dataclass
class ParsedFile:
    """The outcome of parsing one file."""

    records: list[tuple[int, str]] = field(default_factory=list)  # (record index, compact JSON text)
    quarantined: list[tuple[int | None, str, str]] = field(default_factory=list)  # (index, raw, reason)
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=16)
def _validator(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# Keywords that mean the same in JSON Schema draft 7 (what fastjsonschema compiles) and draft 2020-12 (what the
# schemas are written in and jsonschema checks). A schema using any other keyword (prefixItems,
# unevaluatedProperties, dependentRequired, $dynamicRef, uniqueItems...) is checked by jsonschema alone.
SHARED_KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$defs", "definitions", "$comment", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly", "type", "enum", "const", "properties", "required",
    "additionalProperties", "patternProperties", "propertyNames", "minProperties", "maxProperties", "items",
    "minItems", "maxItems", "contains", "pattern", "minLength", "maxLength", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
})  # fmt: skip
_NAMED_SCHEMAS = ("properties", "patternProperties", "$defs", "definitions")
_ONE_SCHEMA = ("items", "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else")
_ANNOTATIONS = frozenset({"$comment", "title", "description", "examples", "deprecated", "readOnly", "writeOnly"})


def _draft7_compatible(node: Any) -> bool:
    """Whether a schema means the same to a draft-7 validator: only shared keywords; no `$ref` beside other
    keywords (draft 7 ignores those, 2020-12 applies them); no array-form `items`; `enum` and `const` values
    only strings or null (a compiled `in` test would take `True` for `1`, jsonschema does not)."""
    if isinstance(node, bool):
        return True
    if not isinstance(node, dict) or not set(node) <= SHARED_KEYWORDS:
        return False
    if "$ref" in node and (set(node) - {"$ref"} - _ANNOTATIONS or not str(node["$ref"]).startswith("#")):
        return False
    enum = node.get("enum", [])
    if not isinstance(enum, list):
        return False
    values = [*enum, *([node["const"]] if "const" in node else [])]
    if any(v is not None and not isinstance(v, str) for v in values):
        return False
    children: list[Any] = []
    for key in _NAMED_SCHEMAS:
        named = node.get(key, {})
        children += list(named.values()) if isinstance(named, dict) else [None]
    for key in _ONE_SCHEMA:
        if key in node:
            children.append(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        children += node[key] if isinstance(node.get(key), list) else ([None] if key in node else [])
    return all(_draft7_compatible(child) for child in children)


@lru_cache(maxsize=16)
def _fast_validator(schema_json: str) -> Callable[[Any], Any] | None:
    """A compiled validator that says quickly whether a record is valid (most are), or None when the schema
    cannot be compiled to mean exactly what jsonschema checks. Its verdict is only trusted when it accepts: a
    record it rejects is checked again by jsonschema, which gives the reason (so reasons never change)."""
    schema = json.loads(schema_json)
    if not _draft7_compatible(schema):
        return None
    try:
        # No defaults filled in (the record would change) and no format checks (jsonschema checks none either).
        return fastjsonschema.compile(schema, use_default=False, use_formats=False)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


@lru_cache(maxsize=16)
def _known_fields(schema_json: str) -> frozenset[str]:
    return frozenset(json.loads(schema_json).get("properties", {}))


def _printable(text: str) -> str:
    """`text` with every surrogate written out: `\\xe9` for an undecodable byte, `\\ud800` for a lone surrogate.

    Undecodable bytes are carried as surrogates (Python's `surrogateescape`); neither kind can be encoded as
    UTF-8, so a string holding one would fail on its way to Spark.
    """
    if SURROGATE_RE.search(text) is None:
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ESCAPED_BYTES[0] <= ch <= ESCAPED_BYTES[1]:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif SURROGATES[0] <= ch <= SURROGATES[1]:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _clip(text: str) -> str:
    text = _printable(text)
    if len(text) <= MAX_RAW_CHARS:
        return text
    return text[:MAX_RAW_CHARS] + f"... [cut: {len(text) - MAX_RAW_CHARS} more characters]"


def _value_problem(value: Any, where: str) -> str | None:
    """Why a parsed value cannot be loaded (undecodable bytes, a lone surrogate, a non-finite number), or None."""
    if isinstance(value, str):
        found = SURROGATE_RE.search(value)
        if found is None:
            return None
        ch = found.group()
        if ESCAPED_BYTES[0] <= ch <= ESCAPED_BYTES[1]:
            return f"not valid UTF-8: byte 0x{ord(ch) - 0xDC00:02x} in {where}"
        return f"lone surrogate \\u{ord(ch):04x} in {where} (a \\u escape without its pair is not Unicode)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: {json.dumps(value)} is not a JSON number (NaN, Infinity or beyond the range of a double)"
    if isinstance(value, dict):
        for key, item in value.items():
            path = key if where == "record" else f"{where}.{key}"
            problem = _value_problem(key, f"a field name of {where}") or _value_problem(item, path)
            if problem:
                return problem
    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = _value_problem(item, f"{where}[{i}]")
            if problem:
                return problem
    return None


def _dig(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _brackets(text: str, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int]]:
    """Each bracket of JSON `text[start:stop]` outside strings, as (index, nesting depth after it)."""
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text) if stop is None else stop):
        ch = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            yield index, depth
        elif ch in "]}":
            depth -= 1
            yield index, depth


def nesting_depth(text: str, start: int = 0, stop: int | None = None) -> int:
    """How deep arrays and objects nest in JSON `text[start:stop]`, counted without recursion (strings skipped).

    Example: `nesting_depth('[{"a": [1]}, "]]]"]') == 3`.
    """
    return max((depth for _, depth in _brackets(text, start, stop)), default=0)


def nests_at_most(text: str, limit: int) -> bool:
    """Whether arrays and objects nest at most `limit` deep in valid JSON `text` (strings skipped). Regular
    expressions do the work: strings dropped, then everything but brackets, then the innermost pairs once
    per level.

    Example: `nests_at_most('[{"a": [1]}, "]]]"]', 3) is True`, and with limit 2 False.
    """
    brackets = _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", text))
    for _ in range(limit):
        if not brackets:
            return True
        brackets = _INNERMOST_PAIR_RE.sub("", brackets)
    return not brackets


def _value_end(text: str, pos: int) -> int:
    """Where the array or object opening at `text[pos]` closes (one past it), or len(text) if it never does."""
    return next((index + 1 for index, depth in _brackets(text, pos) if depth == 0), len(text))


def _too_deep() -> str:
    return f"nested deeper than {MAX_NESTING} levels: not a record of this source"


@dataclass(frozen=True)
class _TooDeep:
    """An array element Python's JSON reader could not descend into (RecursionError)."""

    depth: int


_INTEGER_RE = re.compile(r"-?[0-9]+")


def _too_long_number(exc: ValueError) -> str:
    """Python reads no integer of more than 4,300 digits (`sys.get_int_max_str_digits`); no record holds one."""
    return f"a number too long to read ({exc}): not a record of this source"


@dataclass(frozen=True)
class _TooLong:
    """An array element holding an integer too long for Python's JSON reader (ValueError)."""

    reason: str


def _object_depth(value: Any) -> int:
    """How deep lists and dicts nest in a parsed value, without recursion; stops counting past MAX_NESTING."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_NESTING:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _schema_reason(record: Any, fmt: EntityFormat) -> str | None:
    fast = _fast_validator(fmt.schema_json)
    if fast is not None:
        try:
            fast(record)
            return None
        except fastjsonschema.JsonSchemaValueException:
            pass  # invalid (or a case the compiled check is stricter on): jsonschema decides and says why
    return _jsonschema_reason(record, fmt)


def _jsonschema_reason(record: Any, fmt: EntityFormat) -> str | None:
    errors = sorted(_validator(fmt.schema_json).iter_errors(record), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    parts = []
    for error in errors[:MAX_ERRORS_IN_REASON]:
        where = "/".join(str(p) for p in error.absolute_path) or "record"
        parts.append(f"{where}: {error.message}")
    more = f" (+{len(errors) - MAX_ERRORS_IN_REASON} more)" if len(errors) > MAX_ERRORS_IN_REASON else ""
    return "schema: " + "; ".join(parts) + more


def _accept_records(
    items: list[tuple[int, Any, str | None]], fmt: EntityFormat, out: ParsedFile,
    values_clean: bool = False, shallow: bool = False,
) -> None:  # fmt: skip
    """Validate records, catch in-file duplicate keys, and note unknown fields. An item's raw text (what a
    quarantine keeps) is None when it is the record written back as JSON: then it is made only if needed.
    `values_clean` / `shallow`: the whole file's text showed no value `_value_problem` rejects / no nesting
    beyond MAX_NESTING, so the records need not be walked for them one by one."""
    seen: dict[tuple[Any, ...], int] = {}
    unknown: set[str] = set()
    known = _known_fields(fmt.schema_json)
    for index, record, given in items:
        if isinstance(record, _TooLong):
            out.quarantined.append((index, _clip(given or ""), record.reason))
            continue
        depth = record.depth if isinstance(record, _TooDeep) else 0 if shallow else _object_depth(record)
        if depth > MAX_NESTING:
            out.quarantined.append((index, _clipped_raw(given, record), _too_deep()))
            continue
        if not isinstance(record, dict):
            out.quarantined.append(
                (index, _clipped_raw(given, record), f"record is not a JSON object (got {type(record).__name__})")
            )
            continue
        if isinstance(record.get(REJECTED_FIELD), str):
            out.quarantined.append(
                (index, _clipped_raw(given, record), f"rejected at import: {record[REJECTED_FIELD]}")
            )
            continue
        reason = (None if values_clean else _value_problem(record, "record")) or _schema_reason(record, fmt)
        if reason:
            out.quarantined.append((index, _clipped_raw(given, record), reason))
            continue
        key = tuple(_dig(record, f) for f in fmt.key_fields)
        if key in seen:
            out.quarantined.append(
                (
                    index,
                    _clipped_raw(given, record),
                    f"duplicate key {dict(zip(fmt.key_fields, key, strict=True))} "
                    f"within the file (first at record {seen[key]})",
                )
            )
            continue
        seen[key] = index
        if known:
            unknown.update(k for k in record if k not in known)
        out.records.append((index, json.dumps(record, ensure_ascii=False, separators=(",", ":"))))
    if unknown:
        out.notes.append("unknown fields kept: " + ", ".join(sorted(unknown)))


def _after_array(text: str, pos: int) -> tuple[str | None, str]:
    """(reason, tail) for what follows an array's closing `]`: nothing but blanks is fine; anything else (a second
    array appended, stray bytes) is quarantined, never silently dropped."""
    tail = text[pos:]
    if not tail.strip():
        return None, ""
    start = pos + len(tail) - len(tail.lstrip())
    return f"invalid JSON at character {start}: data after the end of the array", tail.lstrip()


def _salvage_json_array(text: str) -> tuple[list[tuple[int, Any, str]], str | None, str]:
    """Read array elements one by one; returns (elements, error reason, unread tail) for broken arrays."""
    decoder = json.JSONDecoder()
    items: list[tuple[int, Any, str]] = []
    pos = text.index("[") + 1
    length = len(text)
    while True:
        while pos < length and text[pos] in " \t\r\n":
            pos += 1
        if pos < length and text[pos] == "]":
            return (items, *_after_array(text, pos + 1))
        try:
            value, end = decoder.raw_decode(text, pos)
        except RecursionError:
            end = _value_end(text, pos)
            value = _TooDeep(nesting_depth(text, pos, end))
        except json.JSONDecodeError as exc:
            return (
                items,
                f"invalid JSON at character {exc.pos} ({exc.msg}); file truncated or corrupt",
                text[pos:],
            )
        except ValueError as exc:  # an integer of more than 4,300 digits
            number = _INTEGER_RE.match(text, pos)
            end = number.end() if number else _value_end(text, pos)
            value = _TooLong(_too_long_number(exc))
        items.append((len(items), value, text[pos:end]))
        pos = end
        while pos < length and text[pos] in " \t\r\n":
            pos += 1
        if pos < length and text[pos] == ",":
            pos += 1
        elif pos < length and text[pos] == "]":
            return (items, *_after_array(text, pos + 1))
        else:
            where = "end of file" if pos >= length else f"character {pos}"
            return (
                items,
                f"invalid JSON at {where}: expected ',' or ']'; file truncated or corrupt",
                text[pos:],
            )


def _parse_json(text: str, fmt: EntityFormat, out: ParsedFile) -> None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: json.JSONDecodeError, or an integer too long
        if text.lstrip().startswith("["):
            items, reason, tail = _salvage_json_array(text)
            _accept_records(items, fmt, out)
            if reason:
                out.quarantined.append((None, _clip(tail), reason))
        elif isinstance(exc, RecursionError):
            out.quarantined.append((None, _clip(text), _too_deep()))
        elif not isinstance(exc, json.JSONDecodeError):
            out.quarantined.append((None, _clip(text), _too_long_number(exc)))
        else:
            out.quarantined.append((None, _clip(text), f"invalid JSON: {exc.msg} at character {exc.pos}"))
        return
    if not isinstance(document, list):
        out.quarantined.append(
            (None, _clip(text), f"expected a JSON array of records, got a JSON {type(document).__name__}")
        )
        return
    items: list[tuple[int, Any, str | None]] = [(i, item, None) for i, item in enumerate(document)]
    values_clean = _MAYBE_BAD_VALUE_RE.search(text) is None
    _accept_records(items, fmt, out, values_clean=values_clean, shallow=nests_at_most(text, MAX_NESTING + 1))


def _clipped_raw(given: str | None, record: Any) -> str:
    """A record's raw text for the quarantine: as given, else the record written back as JSON (made only now)."""
    return _clip(given if given is not None else _raw_text(record))


def _raw_text(item: Any) -> str:
    """An element as JSON text for the quarantine; one too deep to write back is described instead."""
    depth = _object_depth(item)
    if depth > MAX_NESTING:
        return f"[a value nested {depth}+ levels deep]"
    return json.dumps(item, ensure_ascii=False)


def _parse_csv(text: str, fmt: EntityFormat, out: ParsedFile) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        out.quarantined.append((None, "", "CSV has no header row"))
        return
    header = [h.strip() for h in header]
    missing = [names[0] for names in fmt.csv_required if not any(n in header for n in names)]
    if missing:
        out.quarantined.append((None, _clip(text), f"CSV is missing required columns: {', '.join(missing)}"))
        return
    items: list[tuple[int, Any, str]] = []
    index = 0
    try:
        for index, row in enumerate(reader):
            raw = ",".join(row)
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                out.quarantined.append((index, _clip(raw), f"CSV row has {len(row)} fields, header has {len(header)}"))
                continue
            items.append((index, dict(zip(header, row, strict=True)), raw))
    except csv.Error as exc:  # a quote never closed runs a field past csv's 128 KB limit: the rest is unreadable
        lines = text.splitlines(keepends=True)[reader.line_num - 1 :] if reader.line_num else []
        out.quarantined.append((None, _clip("".join(lines)), f"CSV unreadable from line {reader.line_num}: {exc}"))
    _accept_records(items, fmt, out)


def parse_file(data: bytes, fmt: EntityFormat) -> ParsedFile:
    """Parse one landing file. Never raises on bad content: problems become quarantine entries."""
    out = ParsedFile()
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
        out.notes.append("UTF-8 byte-order mark removed")
    if not data.strip():
        out.quarantined.append((None, "", "empty file"))
        return out
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Bytes that are not UTF-8 stay in the text as surrogates; only the records holding them are
        # quarantined (`_value_problem`), their neighbours load.
        text = data.decode("utf-8", errors="surrogateescape")
        out.notes.append(f"not valid UTF-8 from offset {exc.start}: records with undecodable bytes quarantined")
    if fmt.kind == "json":
        _parse_json(text, fmt, out)
    elif fmt.kind == "csv":
        _parse_csv(text, fmt, out)
    else:
        raise ValueError(f"unknown landing format {fmt.kind!r}")
    return out


def parse_for_spark(content: bytes | bytearray | None, fmt: EntityFormat) -> dict[str, Any]:
    """`parse_file` shaped for Spark's UDF return type (records, rejects, notes)."""
    parsed = parse_file(bytes(content or b""), fmt)
    return {
        "records": [{"idx": i, "record": r} for i, r in parsed.records],
        "rejects": [{"idx": i, "raw": raw, "reason": reason} for i, raw, reason in parsed.quarantined],
        "notes": parsed.notes,
    }
