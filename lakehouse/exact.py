"""Aggregates of doubles that give the same bits however Spark splits the rows.

Spark adds a group's doubles partition by partition and then merges the partial sums in the order the
shuffle delivers them. Floating-point addition is not associative, so the last bits of a `sum`, `avg` or
`stddev` change with the number of executors, the file layout or the arrival order of map outputs - and a
total rounded to 3 decimals can land on either side of a half (216.6265 -> 216.626 on one run, 216.627 on
another). Gold tables must be the same on a laptop and on a cluster, so their aggregates of doubles go
through these helpers: each value is turned into a decimal with `SCALE` decimals (a fixed rounding of that
value alone), decimals add exactly in any order, and the exact total is turned back into a double once.

A value that is not a finite number (NaN, +-Infinity) or that does not fit has no decimal: it counts as
NULL, as SQL's aggregates count a missing value; a total too big for 38 digits is NULL, never an error
that stops the stage.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

SCALE = 9
"""Decimals kept of each value: a nanometre of distance, a nanosecond of time."""

VALUE = DecimalType(30, SCALE)
"""A value's decimal: up to 10^21 before the point, so that sums of 10^9 such values still fit 38 digits."""


def _decimal(column: Column | str) -> Column:
    return (F.col(column) if isinstance(column, str) else column).try_cast(VALUE)


def exact_sum(column: Column | str) -> Column:
    """SUM of a double column, exact to `SCALE` decimals and independent of row order; NULL when all are NULL."""
    return F.try_sum(_decimal(column)).cast("double")


def exact_avg(column: Column | str) -> Column:
    """AVG of a double column, from its exact sum and its count of non-NULL values."""
    value = _decimal(column)
    return F.try_divide(F.try_sum(value).cast("double"), F.count(value).cast("double"))


def _variance(column: Column | str, sample: bool) -> Column:
    value = _decimal(column)
    n = F.count(value).cast("double")
    s1 = F.try_sum(value).cast("double")
    s2 = F.try_sum(F.try_multiply(value, value)).cast("double")
    # Never below 0: rounding can leave a tiny negative spread for equal values. (GREATEST skips a NULL, so the
    # count guards the groups with too few values.)
    spread = F.greatest(F.lit(0.0), s2 - s1 * s1 / n)
    return F.when(n >= (2 if sample else 1), spread / (n - 1 if sample else n))


def exact_stddev_pop(column: Column | str) -> Column:
    """STDDEV_POP from exact sums of the values and their squares; NULL for no values."""
    return F.sqrt(_variance(column, sample=False))


def exact_stddev_samp(column: Column | str) -> Column:
    """STDDEV_SAMP from exact sums of the values and their squares; NULL for fewer than two values."""
    return F.sqrt(_variance(column, sample=True))
