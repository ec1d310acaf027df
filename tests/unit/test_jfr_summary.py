"""The JFR summary's counting, on a hand-written `jfr print` text (three samples, counted by hand)."""

from __future__ import annotations

from bench.jfr_summary import summarise, thread_kind

PRINTED = """
jdk.ExecutionSample {
  startTime = 05:06:20.101
  sampledThread = "Thread-7" (javaThreadId = 40)
  state = "STATE_RUNNABLE"
  stackTrace = [
    java.io.ObjectOutputStream$HandleTable.lookup(Object) line: 2332
    org.apache.spark.scheduler.DAGScheduler.submitMissingTasks(Stage, int) line: 1580
  ]
}

jdk.ExecutionSample {
  startTime = 05:06:30.250
  sampledThread = "Thread-7" (javaThreadId = 40)
  state = "STATE_RUNNABLE"
  stackTrace = [
    org.apache.spark.sql.catalyst.trees.TreeNode.transformUpWithPruning(Function1) line: 10
    org.apache.spark.sql.catalyst.rules.RuleExecutor.execute(LogicalPlan) line: 200
    org.apache.spark.sql.catalyst.analysis.Analyzer.execute(LogicalPlan) line: 300
  ]
}

jdk.ExecutionSample {
  startTime = 05:06:31.000
  sampledThread = "Executor task launch worker for task 3.0 in stage 7.0 (TID 12)" (javaThreadId = 77)
  state = "STATE_RUNNABLE"
  stackTrace = [
    org.apache.parquet.hadoop.ParquetFileReader.readNextRowGroup() line: 900
  ]
}
"""


def test_samples_are_counted_by_thread_area_and_top_frame() -> None:
    summary = summarise(PRINTED)

    assert summary.samples == 3
    assert summary.threads == {"Thread-N": 2, "executor task": 1}
    assert summary.areas["task serialization (Java)"] == 1
    assert summary.areas["DAG scheduler"] == 1
    assert summary.areas["Catalyst analysis"] == 1
    assert summary.areas["tree transforms"] == 1
    assert summary.areas["rule executor (analysis + optimizer + AQE rules)"] == 1
    assert summary.areas["Parquet"] == 1
    assert "Delta (any)" not in summary.areas
    assert summary.top_frames["java.io.ObjectOutputStream$HandleTable.lookup"] == 1


def test_since_keeps_the_samples_from_that_time_on() -> None:
    summary = summarise(PRINTED, since="05:06:30")

    assert summary.samples == 2
    assert summary.threads == {"Thread-N": 1, "executor task": 1}


def test_thread_kinds_drop_numbers() -> None:
    assert thread_kind("shuffle-exchange-12") == "shuffle-exchange-N"
    assert thread_kind("Executor task launch worker for task 0.0 in stage 1.0 (TID 1)") == "executor task"
