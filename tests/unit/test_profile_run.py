"""The profiler's bookkeeping, on hand-made inputs: Spark's REST times, label spans, Delta commit facts."""

from __future__ import annotations

import json
from pathlib import Path

from bench.profile_run import commit_facts, delta_logs, label_at, label_windows, spark_time


def test_spark_rest_time_is_epoch_seconds() -> None:
    assert spark_time("1970-01-01T00:01:40.500GMT") == 100.5
    assert spark_time(None) is None


def test_a_label_spans_from_its_first_job_to_the_next_labels_first_job() -> None:
    jobs = [
        {"jobId": 0, "jobGroup": "bronze:a", "submissionTime": "1970-01-01T00:00:10.000GMT"},
        {"jobId": 1, "jobGroup": "bronze:a", "submissionTime": "1970-01-01T00:00:12.000GMT"},
        {"jobId": 2, "jobGroup": "silver:b", "submissionTime": "1970-01-01T00:00:15.000GMT"},
        {"jobId": 3, "submissionTime": "1970-01-01T00:00:16.000GMT"},
    ]
    windows = label_windows(jobs, phase_end=20.0)
    assert windows == [(10.0, 15.0, "bronze:a"), (15.0, 16.0, "silver:b"), (16.0, 20.0, "(unlabelled)")]
    assert label_at(windows, 14.0) == "bronze:a"
    assert label_at(windows, 15.2) == "silver:b"
    assert label_at(windows, 5.0) == "(unlabelled)"


def test_commit_facts_and_new_commits(tmp_path: Path) -> None:
    log = tmp_path / "silver" / "t" / "_delta_log"
    log.mkdir(parents=True)
    actions = [
        {"commitInfo": {"operation": "MERGE", "timestamp": 5000}},
        {"add": {"path": "a.parquet", "size": 100}},
        {"add": {"path": "b.parquet", "size": 300}},
        {"remove": {"path": "old.parquet"}},
    ]
    commit = log / "00000000000000000001.json"
    commit.write_text("\n".join(json.dumps(a) for a in actions))
    assert commit_facts(commit) == {"operation": "MERGE", "timestamp": 5.0, "add_sizes": [100, 300], "removed": 1}
    assert delta_logs(tmp_path) == {"silver.t": {commit}}
