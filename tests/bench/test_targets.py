"""The benchmark's target table: each of the issue's pipeline targets judged from literal results (seconds
chosen by hand, boundaries included), and what a run that did not measure a target says. No Spark."""

from __future__ import annotations

from typing import Any

from bench.run_all import TargetCheck, target_checks


def _results(**sizes: tuple[float, float]) -> dict[str, Any]:
    """Results with, per size, (re-run seconds, weekly seconds); the cold phase is there and never judged."""
    return {
        "sizes": [
            {
                "size": size,
                "phases": [
                    {"phase": "cold", "ours": {"wall_seconds": 999.0}},
                    {"phase": "rerun", "ours": {"wall_seconds": rerun}},
                    {"phase": "weekly", "ours": {"wall_seconds": weekly}},
                ],
            }
            for size, (rerun, weekly) in sizes.items()
        ]
    }


def test_one_size_judges_the_rerun_and_the_weekly_run_and_says_what_it_did_not_measure() -> None:
    assert target_checks(_results(**{"1x": (4.2, 62.8)})) == [
        TargetCheck("1x re-run with nothing new <= 10 s", "4.2 s", True),
        TargetCheck("1x weekly run <= 20 s", "62.8 s", False),
        TargetCheck("16x weekly run <= 1.2 x the 1x one", "needs sizes 1 and 16", None),
    ]


def test_the_weekly_run_at_16x_is_judged_against_the_one_at_1x_boundaries_included() -> None:
    # 24.0 / 20.0 = 1.2: on the target, met; 10.0 s re-run: on the target, met; 10.5 s: not.
    assert target_checks(_results(**{"1x": (10.0, 20.0), "16x": (10.5, 24.0)})) == [
        TargetCheck("1x re-run with nothing new <= 10 s", "10.0 s", True),
        TargetCheck("16x re-run with nothing new <= 10 s", "10.5 s", False),
        TargetCheck("1x weekly run <= 20 s", "20.0 s", True),
        TargetCheck("16x weekly run <= 1.2 x the 1x one", "24.0 s = 1.20 x 20.0 s", True),
    ]
    # 25.0 / 20.0 = 1.25: over.
    assert target_checks(_results(**{"1x": (3.0, 20.0), "16x": (3.0, 25.0)}))[-1] == TargetCheck(
        "16x weekly run <= 1.2 x the 1x one", "25.0 s = 1.25 x 20.0 s", False
    )


def test_the_rerun_as_a_new_process_is_judged_too_and_a_failed_one_is_not_met() -> None:
    results = _results(**{"1x": (4.2, 62.8), "4x": (4.3, 70.0)})
    results["sizes"][0]["rerun_new_process"] = {"wall_seconds": 45.8, "returncode": 0}
    results["sizes"][1]["rerun_new_process"] = {"wall_seconds": 3.0, "returncode": 1, "stderr_tail": "boom"}
    assert target_checks(results)[:4] == [
        TargetCheck("1x re-run with nothing new <= 10 s", "4.2 s", True),
        TargetCheck("4x re-run with nothing new <= 10 s", "4.3 s", True),
        TargetCheck("1x re-run with nothing new, new process <= 10 s", "45.8 s", False),
        TargetCheck("4x re-run with nothing new, new process <= 10 s", "failed (exit 1)", False),
    ]
    results["sizes"][0]["rerun_new_process"] = {"wall_seconds": 10.0, "returncode": 0}
    assert TargetCheck("1x re-run with nothing new, new process <= 10 s", "10.0 s", True) in target_checks(results)


def test_the_new_process_row_says_when_no_stage_ran_and_what_the_recheck_took() -> None:
    results = _results(**{"1x": (4.2, 62.8)})
    results["sizes"][0]["rerun_new_process"] = {
        "wall_seconds": 3.1, "returncode": 0, "skipped": True, "recheck": {"wall_seconds": 61.96, "returncode": 0}
    }  # fmt: skip
    assert target_checks(results)[1] == TargetCheck(
        "1x re-run with nothing new, new process <= 10 s", "3.1 s (nothing changed: no stage run; --recheck 62.0 s)",
        True,
    )  # fmt: skip
    results["sizes"][0]["rerun_new_process"] = {
        "wall_seconds": 58.0, "returncode": 0, "skipped": False, "recheck": {"wall_seconds": 9.0, "returncode": 1}
    }  # fmt: skip
    assert target_checks(results)[1] == TargetCheck("1x re-run with nothing new, new process <= 10 s", "58.0 s", False)


def test_a_run_without_1x_leaves_the_weekly_targets_unjudged() -> None:
    assert target_checks(_results(**{"4x": (6.0, 90.0)})) == [
        TargetCheck("4x re-run with nothing new <= 10 s", "6.0 s", True),
        TargetCheck("1x weekly run <= 20 s", "not run", None),
        TargetCheck("16x weekly run <= 1.2 x the 1x one", "needs sizes 1 and 16", None),
    ]


def test_the_live_benchmark_reports_the_heap_window_by_window() -> None:
    """Samples at 0-299 s average into the first window, 300-599 s the second; an empty window is skipped."""
    from bench.race_bench import heap_windows

    heap = [(0.0, 1_000_000_000), (150.0, 1_200_000_000), (299.9, 1_400_000_000), (300.0, 2_000_000_000),
            (950.0, 3_000_000_000)]  # fmt: skip
    assert heap_windows(heap, 300.0) == [1200, 2000, 3000]
    assert heap_windows([], 300.0) == []


def test_a_run_without_the_peer_prints_our_figures_and_dashes_for_duckdb() -> None:
    """`--no-peer`: DuckDB's fields are None; the table shows ours, a dash for each peer column, and says so."""
    from rich.console import Console

    from bench.run_all import print_results

    memory = {"driver_rss_mb": 300.0, "jvm_rss_mb": 2800.0, "jvm_heap_peak_mb": 1900.0}
    phase = {"phase": "weekly", "duckdb": None, "ratio": None, "ratio_same_tables": None,
             "ours": {"records": 12, "wall_seconds": 41.25, "same_tables_seconds": 9.5, "rows_per_second": 0.29,
                      "memory": memory}}  # fmt: skip
    results = {
        "machine": {"cpus": 2, "load_average_1m_at_start": 0.1},
        "mode": "full",
        "our_gold": "every table",
        "sizes": [{"size": "1x", "phases": [phase], "equality": [], "equal": None}],
        "ingestion": [],
    }
    console = Console(width=250, record=True)
    print_results(results, console)
    text = console.export_text()
    row = next(line for line in text.splitlines() if "weekly" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    # size, phase, records, ours s, same-tables s, DuckDB s, ratio, ratio same-tables, ours rows/s, DuckDB rows/s,
    # driver RSS, JVM RSS, JVM heap, DuckDB RSS
    assert cells == ["1x", "weekly", "12", "41.2", "9.5", "-", "-", "-", "0.29", "-", "300", "2,800", "1,900", "-"]
    assert "DuckDB not run (--no-peer)" in text
    assert "DuckDB's tables vs ours" not in text  # no comparison table without a comparison
    assert "1x weekly run <= 20 s" in text
