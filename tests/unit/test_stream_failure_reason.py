"""`stream.failure_reason`: a failed query's message in one line a person can act on."""

from __future__ import annotations

from lakehouse.race.stream import failure_reason

# Spark 4's message when a micro-batch's Python function raised (shortened: the plan after the marker is long).
PYTHON_RAISED = """[STREAM_FAILED] Query [id = 563e, runId = 7135] terminated with exception: [FOREACH_BATCH_USER_FUNCTION_ERROR] An error occurred in the user provided function in foreach batch sink. Reason: An exception was raised by the Python Proxy. Return Message: Traceback (most recent call last):
  File "/v/py4j/clientserver.py", line 644, in _call_proxy
    return_value = getattr(self.pool[obj_id], method)(*params)
                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/w/lakehouse/race/stream.py", line 539, in write
    crash_point("stream.after_silver_write")
  File "/w/tests/race/test_stream_kill9.py", line 48, in kill
    raise StreamKilled(crash_at)
race.test_stream_kill9.StreamKilled: stream.after_silver_write:1
 SQLSTATE: 39000 SQLSTATE: XXKST
=== Streaming Query ===
Identifier: race_live [id = 563e, runId = 7135]
Current State: ACTIVE
"""  # noqa: E501

JVM_RAISED = """[STREAM_FAILED] Query [id = 1, runId = 2] terminated with exception: Job aborted: disk full
=== Streaming Query ===
Identifier: race_live
"""


def test_the_python_exception_line_follows_sparks_first_line() -> None:
    assert failure_reason(PYTHON_RAISED) == (
        "[STREAM_FAILED] Query [id = 563e, runId = 7135] terminated with exception: "
        "[FOREACH_BATCH_USER_FUNCTION_ERROR] An error occurred in the user provided function in foreach batch sink. "
        "Reason: An exception was raised by the Python Proxy. "
        "race.test_stream_kill9.StreamKilled: stream.after_silver_write:1"
    )


def test_a_jvm_failure_keeps_its_first_line() -> None:
    assert failure_reason(JVM_RAISED) == (
        "[STREAM_FAILED] Query [id = 1, runId = 2] terminated with exception: Job aborted: disk full"
    )


def test_an_empty_message_names_the_exception() -> None:
    assert failure_reason(RuntimeError()) == "RuntimeError"
