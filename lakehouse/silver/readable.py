"""Tolerant reading for silver: values are parsed with the `try_*` forms, and what did not read is named.

Spark runs with ANSI mode on, where `to_timestamp`, `cast`, `col[i]` and friends raise on one bad value and
stop the whole stage. Silver parses with the forms that give null instead (`try_to_timestamp`, `try_cast`,
`get`, `try_element_at`), and, because a null that stands for "unreadable" must not pass for "absent",
each transform lists in `_parse_errors` every value that was present in bronze but did not read:
`"start_date: '2024-02-30T06:00:00Z' is not a timestamp"`. The `values_readable` expectation
(`lakehouse.silver.rules`) quarantines rows with any, so the reason lands in `ops.silver_quarantine`
with the row, and the column is dropped before the MERGE.

Example: `from_json(record, schema)` and `from_json(record, as_text(schema))` side by side, then
`record_errors(F.col("typed"), F.col("text"), schema)` names every field whose JSON value did not fit its
type (a number too big for an int, a string where a number belongs, NaN).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

PARSE_ERRORS = "_parse_errors"
SHOWN_CHARS = 60  # how much of an unreadable value the reason quotes
INFINITY = float("inf")


def as_text(schema: T.StructType) -> T.StructType:
    """`schema` with every leaf as a string: `from_json` then keeps each value as written (arrays as JSON)."""
    return T.StructType(
        [
            T.StructField(f.name, as_text(f.dataType) if isinstance(f.dataType, T.StructType) else T.StringType())
            for f in schema.fields
        ]
    )


def finite(value: Column) -> Column:
    """`value`, or null when it is NaN or infinite (pair it with `non_finite` so the row is quarantined)."""
    return F.when(~F.isnan(value) & (F.abs(value) != F.lit(INFINITY)), value)


def unreadable(field: str, text: Column, value: Column, expected: str) -> Column:
    """`"<field>: '<text>' is not <expected>"` when `text` holds something but `value`, its parse, is null."""
    present = F.nullif(F.trim(text), F.lit("")).isNotNull()
    return F.when(
        present & value.isNull(),
        F.concat(F.lit(f"{field}: '"), F.substring(text, 1, SHOWN_CHARS), F.lit(f"' is not {expected}")),
    )


def non_finite(field: str, value: Column) -> Column:
    """`"<field>: NaN is not a finite number"` when `value` is NaN or infinite, else null."""
    return F.when(
        F.isnan(value) | (F.abs(value) == F.lit(INFINITY)),
        F.concat(F.lit(f"{field}: "), value.cast("string"), F.lit(" is not a finite number")),
    )


def record_errors(typed: Column, text: Column, schema: T.StructType, prefix: str = "") -> list[Column]:
    """One message column per field of `schema` (nested structs included) that did not read as its type.

    `typed` is `from_json(record, schema)`, `text` is `from_json(record, as_text(schema))`.
    """
    out: list[Column] = []
    for f in schema.fields:
        name = f"{prefix}{f.name}"
        if isinstance(f.dataType, T.StructType):
            out += record_errors(typed[f.name], text[f.name], f.dataType, f"{name}.")
            continue
        if isinstance(f.dataType, T.StringType):  # any JSON value reads as text
            continue
        out.append(unreadable(name, text[f.name], typed[f.name], f"a valid {f.dataType.simpleString()}"))
        if isinstance(f.dataType, T.FloatType | T.DoubleType):
            out.append(non_finite(name, typed[f.name]))
    return out


def parse_errors(*messages: Column | list[Column], also: Column | None = None) -> Column:
    """The non-null messages as an array named `_parse_errors` (empty when everything read).

    Each argument is a message column (null when fine) or a list of them; `also` is an array of messages
    found earlier (an envelope's, for each of its points).
    """
    flat = [m for group in messages for m in (group if isinstance(group, list) else [group])]
    found = F.array(*flat, F.lit(None).cast("string"))
    if also is not None:
        found = F.concat(also, found)
    return F.array_compact(found).alias(PARSE_ERRORS)
