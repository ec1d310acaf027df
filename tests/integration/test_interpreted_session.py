"""The live stream's micro-batches run on a clone of the session that evaluates expressions without generating
code (`lakehouse.spark.interpreted_session`): same results, the caller's session untouched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import DataFrame, Row, SparkSession

from lakehouse.spark import INTERPRETED_CONF, interpreted_session

MARKER = "lakehouse.test.interpreted_marker"
GENERATING = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}  # Spark's default


@pytest.fixture
def generating(spark: SparkSession) -> Iterator[SparkSession]:
    """The run's session generating code, as a `local` session does (the test env's does not), for this test."""
    before = {key: spark.conf.get(key, None) for key in (*GENERATING, MARKER)}
    for key, value in GENERATING.items():
        spark.conf.set(key, value)
    yield spark
    for key, value in before.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def physical_plan(df: DataFrame) -> str:
    return str(df._jdf.queryExecution().executedPlan().toString())


def query(session: SparkSession) -> DataFrame:  # not from local rows: those are folded into one relation
    numbers = session.range(1, 4).selectExpr("id AS n", "IF(id = 3, NULL, concat('x', id)) AS s")
    return numbers.where("n > 1").selectExpr("n * 10 AS m", "upper(s) AS t")


def test_the_clone_generates_no_code_keeps_the_sessions_settings_and_leaves_the_session_as_it_was(
    generating: SparkSession,
) -> None:
    spark = generating
    spark.conf.set(MARKER, "set at run time")  # not in the Spark context's settings: only a clone carries it
    clone = interpreted_session(spark)

    assert clone is not spark
    assert {key: clone.conf.get(key) for key in INTERPRETED_CONF} == INTERPRETED_CONF
    assert clone.conf.get(MARKER) == "set at run time"
    assert clone.conf.get("spark.sql.session.timeZone") == spark.conf.get("spark.sql.session.timeZone")
    assert {key: spark.conf.get(key) for key in GENERATING} == GENERATING
    assert SparkSession.getActiveSession() is spark
    assert query(clone).collect() == [Row(m=20, t="X2"), Row(m=30, t=None)]
    assert "*(" in physical_plan(query(spark))  # whole-stage code generation: `*(1) Project ...`
    assert "*(" not in physical_plan(query(clone))
