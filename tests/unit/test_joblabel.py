"""Job labels: the jobs inside `job_label` carry the label as their job group; the previous one comes back."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from lakehouse.joblabel import GROUP, job_label


def test_labels_nest_and_restore(spark: SparkSession) -> None:
    context = spark.sparkContext
    context.setLocalProperty(GROUP, None)  # type: ignore[arg-type]
    with job_label(spark, "silver", "workouts") as outer:
        assert (outer, context.getLocalProperty(GROUP)) == ("silver:workouts", "silver:workouts")
        with job_label(spark, "gold"):
            assert context.getLocalProperty(GROUP) == "gold"
        assert context.getLocalProperty(GROUP) == "silver:workouts"
    assert context.getLocalProperty(GROUP) is None


def test_a_failure_inside_still_restores_the_label(spark: SparkSession) -> None:
    context = spark.sparkContext
    context.setLocalProperty(GROUP, "outer")
    try:
        with pytest.raises(ZeroDivisionError), job_label(spark, "bronze", "x"):
            _ = 1 / 0
        assert context.getLocalProperty(GROUP) == "outer"
    finally:
        context.setLocalProperty(GROUP, None)  # type: ignore[arg-type]


def test_the_jobs_inside_carry_the_label(spark: SparkSession) -> None:
    tracker = spark.sparkContext.statusTracker()
    with job_label(spark, "test", "count"):
        assert spark.range(3).count() == 3
    assert tracker.getJobIdsForGroup("test:count")
