"""Data quality: row expectations, staging-versus-production checks, their results, and the gate before MERGE.

- `expectations.py`: `Expectation(name, table, sql, action)` with warn / drop / quarantine / fail, and
  `apply_expectations`, which evaluates them all in one pass.
- `checks.py`: `SqlCheck`, the seed's validator (a pair of SQL queries, an operator, warn or halt), and the
  duplicate-key and weekly z-score checks.
- `rules.py`: the rules declared for each silver table.
- `gate.py`: `gate` / `run_gate`, called by a stage between staging and MERGE; quarantined rows go to
  `ops.silver_quarantine`; `ensure_tables` creates the two ops tables up front.
- `results.py`: `ops.check_results` and the end-of-run summary; `notify.py`: the optional webhook.
"""

from __future__ import annotations

from lakehouse.quality.checks import Z_90, SqlCheck, ValidationHalted, run_checks, validate_checks
from lakehouse.quality.expectations import (
    Expectation,
    ExpectationFailed,
    ExpectationOutcome,
    apply_expectations,
    validate_expectations,
)
from lakehouse.quality.gate import GateOutcome, ensure_tables, gate, run_gate
from lakehouse.quality.notify import notify_summary
from lakehouse.quality.results import CheckResult, QualityGateError, record_results, run_summary, summarize

__all__ = [
    "Z_90",
    "CheckResult",
    "Expectation",
    "ExpectationFailed",
    "ExpectationOutcome",
    "GateOutcome",
    "QualityGateError",
    "SqlCheck",
    "ValidationHalted",
    "apply_expectations",
    "ensure_tables",
    "gate",
    "notify_summary",
    "record_results",
    "run_checks",
    "run_gate",
    "run_summary",
    "summarize",
    "validate_checks",
    "validate_expectations",
]
