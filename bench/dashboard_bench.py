"""Benchmark of the dashboard on the demo lakehouse: each page's warm render time, and classifying 1,000+
workouts warm (Spark, as gold does; and numpy, as the Models page explains a label).

    .venv/bin/python -m jobs.pipeline                       # the demo lakehouse under ./data, once
    .venv/bin/python -m bench.dashboard_bench               # pages + classification
    .venv/bin/python -m bench.dashboard_bench --root /tmp/lake --screenshots   # + every page in chromium

A page is rendered with Streamlit's AppTest (the script run, every query and chart built) once cold and then
`--repeat` times warm; the median warm time is reported. Prints a table and writes
bench/results/dashboard-<time>.json; with --screenshots the browser's screenshots go to
bench/results/screenshots/. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_PAGE_S = 1.0
TARGET_CLASSIFY_S = 1.5
MIN_WORKOUTS = 1000


def time_pages(repeat: int) -> list[dict[str, object]]:
    """Cold and median warm AppTest render time per page."""
    from streamlit.testing.v1 import AppTest

    from lakehouse.dashboard.app import PAGES

    out = []
    for page in PAGES:
        script = f"from lakehouse.dashboard.app import run_page\nrun_page({page.slug!r})"
        timings = []
        # One AppTest per page, re-run like a browser's re-render: a new AppTest scans every installed package for
        # Streamlit components (~2.5 s under load, 0.3 s idle), which the real server does once at start-up.
        at = AppTest.from_string(script, default_timeout=300)
        for _ in range(repeat + 1):
            started = time.perf_counter()
            at.run()
            timings.append(time.perf_counter() - started)
            if at.exception:
                raise RuntimeError(f"{page.slug}: {at.exception[0].value}")
        out.append({"page": page.slug, "cold_s": round(timings[0], 3),
                    "warm_s": round(statistics.median(timings[1:]), 3)})
    return out


def time_classification(settings, repeat: int) -> dict[str, object]:
    """Classify 1,000+ on-foot workouts with the saved k-means model, warm: Spark and numpy."""
    import pandas as pd
    from pyspark.sql import functions as F

    from lakehouse.dashboard.models import load_kmeans
    from lakehouse.gold import workout_classification as wc
    from lakehouse.gold.classification_models import model_of
    from lakehouse.spark import get_spark
    from lakehouse.tables import Tables, read_table

    spark = get_spark(settings)
    tables = Tables(settings)
    registry = read_table(spark, tables.ref("ops", "model_registry")).where("model_name = 'workout_kmeans'")
    entry = registry.orderBy("trained_at").collect()[-1]
    feats = wc.features(read_table(spark, tables.ref("silver", "workouts"))).where(
        F.col("person_id") == entry["person_id"]).toPandas()
    copies = -(-MIN_WORKOUTS // max(len(feats), 1))
    many = pd.concat([feats.assign(workout_id=feats["workout_id"] + f"-{i}") for i in range(copies)],
                     ignore_index=True)
    frame = spark.createDataFrame(many).cache()
    frame.count()
    trained = {str(entry["person_id"]): model_of(entry["path"], entry["metadata"])}
    spark_times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        rows = wc.classify(frame, trained).collect()
        spark_times.append(time.perf_counter() - started)
    model = load_kmeans(entry["path"], entry["metadata"])
    values = many[list(wc.FEATURES)].to_numpy(dtype=float)
    numpy_times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        model.classify(values)
        numpy_times.append(time.perf_counter() - started)
    return {"workouts": len(rows), "model_version": entry["model_version"],
            "spark_cold_s": round(spark_times[0], 3), "spark_warm_s": round(statistics.median(spark_times[1:]), 3),
            "numpy_warm_s": round(statistics.median(numpy_times[1:]), 5)}


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="the lakehouse root (default: the settings' root, ./data)")
    parser.add_argument("--env", default="local")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshots", action="store_true", help="open every page in chromium, save screenshots")
    args = parser.parse_args()
    if args.root:
        os.environ["LAKEHOUSE_ROOT"] = str(Path(args.root).resolve())
    os.environ["LAKEHOUSE_ENV"] = args.env
    os.environ.pop("LAKEHOUSE_DASHBOARD_PASSWORD", None)
    from lakehouse.config import load_settings
    from lakehouse.dashboard.data import Lake

    settings = load_settings(args.env)
    if not Lake(settings).exists("gold", "activity_summary_monthly"):
        raise SystemExit(f"no lakehouse at {settings.tables_root}: build it with python -m jobs.pipeline")
    console = Console()
    pages = time_pages(args.repeat)
    classification = time_classification(settings, args.repeat)
    shots: list[dict[str, object]] = []
    if args.screenshots:
        from lakehouse.dashboard.app import PAGES
        from lakehouse.dashboard.browser import running_dashboard, screenshot_pages

        folder = RESULTS / "screenshots"
        charted = {"overview", "kudos", "training-load", "era", "trends", "fitbit", "data-health", "tour"}
        with running_dashboard(str(Path(settings.tables_root).parent), env_name=args.env) as base:
            for shot in screenshot_pages(base, [p.slug for p in PAGES], [folder], charted):
                shots.append({"page": shot.slug, "path": str(shot.screenshot), "charts": shot.charts,
                              "browser_s": round(shot.seconds, 2)})

    table = Table(title=f"dashboard on {settings.tables_root}")
    for column in ("page", "cold s", "warm s", f"<= {TARGET_PAGE_S} s"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for row in pages:
        table.add_row(str(row["page"]), f"{row['cold_s']:.3f}", f"{row['warm_s']:.3f}",
                      "yes" if float(row["warm_s"]) <= TARGET_PAGE_S else "NO")
    console.print(table)
    console.print(f"classify {classification['workouts']} workouts warm: Spark {classification['spark_warm_s']} s "
                  f"(cold {classification['spark_cold_s']} s), numpy {classification['numpy_warm_s']} s "
                  f"(target <= {TARGET_CLASSIFY_S} s)")
    for shot in shots:
        console.print(f"screenshot {shot['page']}: {shot['path']} ({shot['charts']} charts)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"tables_root": settings.tables_root, "pages": pages, "classification": classification,
                               "screenshots": shots}, indent=2))
    console.print(f"written: {out}")


if __name__ == "__main__":
    main()
