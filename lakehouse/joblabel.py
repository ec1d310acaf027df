"""Name the Spark jobs of each stage and table, so a profile (Spark's UI or its REST API) can add them up.

`with job_label(spark, "silver", "strava_activities"): ...` puts every Spark job started inside under the job
group `silver:strava_activities`; the previous group is restored afterwards, so labels nest. It changes no
result and costs nothing: it sets two local properties of the SparkContext.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

GROUP = "spark.jobGroup.id"
DESCRIPTION = "spark.job.description"


@contextmanager
def job_label(spark: SparkSession, stage: str, table: str = "") -> Iterator[str]:
    """Label the Spark jobs run inside the block `stage:table` (their job group); yields the label."""
    label = f"{stage}:{table}" if table else stage
    context = spark.sparkContext
    previous = (context.getLocalProperty(GROUP), context.getLocalProperty(DESCRIPTION))
    context.setLocalProperty(GROUP, label)
    context.setLocalProperty(DESCRIPTION, label)
    try:
        yield label
    finally:
        context.setLocalProperty(GROUP, previous[0])  # type: ignore[arg-type]  # None clears the property
        context.setLocalProperty(DESCRIPTION, previous[1])  # type: ignore[arg-type]
