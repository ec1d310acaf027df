"""Workout classification models: train a new k-means version, activate it, or roll back to an earlier one.

    python -m jobs.classify --list                         # registered versions and the active one
    python -m jobs.classify --k 4 --activate               # train k=4 for every athlete and use it
    python -m jobs.classify --k 3 --outlier-distance 2.5   # train and register only
    python -m jobs.classify --rollback 1021301-7-k3-ab12cd # use an earlier version again

Activating re-labels gold.workout_classification for that athlete; later gold runs keep the active version.
Exits 0 on success, 1 on failure (a one-line reason), 2 for bad arguments or settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lakehouse.config import ConfigError, load_settings
from lakehouse.gold import classification_models as cm
from lakehouse.gold import workout_classification as wc


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(prog="classify", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="settings file conf/<env>.toml")
    parser.add_argument("--k", type=int, default=None, help="train a new version with this many clusters")
    parser.add_argument("--outlier-distance", type=float, default=wc.OUTLIER_DISTANCE,
                        help="standardised distance from the centroid beyond which a workout is an outlier")
    parser.add_argument("--person", "--athlete", dest="athlete", action="append", help="only this person (repeatable)")
    parser.add_argument("--activate", action="store_true", help="use the new version from now on")
    parser.add_argument("--rollback", metavar="VERSION", help="activate an earlier registered version")
    parser.add_argument("--list", action="store_true", help="list the registered versions")
    args = parser.parse_args(argv)
    if not (args.k or args.rollback or args.list):
        parser.error("give --k K (train), --rollback VERSION or --list")
    if args.k is not None and args.k < 2:
        parser.error("--k must be at least 2")
    return args


def say(message: str) -> None:
    """A status line (the dashboard shows them as they come)."""
    print(message, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m jobs.classify`."""
    args = parse_args(argv)
    try:
        settings = load_settings(args.env)
    except ConfigError as exc:
        print(f"classify: bad settings: {exc}", file=sys.stderr)
        return 2
    from lakehouse.spark import get_spark
    from lakehouse.tables import Tables, read_table, table_exists

    try:
        say("starting Spark")
        spark = get_spark(settings)
        if args.list:
            from lakehouse.gold.run import REGISTRY_TABLE

            tables = Tables(settings)
            ref = tables.ref(*REGISTRY_TABLE)
            active = cm.active_models(spark, tables)
            if table_exists(spark, ref):
                for r in read_table(spark, ref).orderBy("trained_at").collect():
                    mark = " (active)" if active.get(r["person_id"], None) and \
                        active[r["person_id"]].model_version == r["model_version"] else ""
                    say(f"{r['model_version']}  data v{r['data_version']}  n={r['n_train']}  {r['trained_at']}{mark}")
        if args.k:
            for athlete in args.athlete or cm.athletes(spark, settings):
                say(f"training k={args.k} for athlete {athlete}")
                made = cm.train_version(spark, settings, athlete, args.k, args.outlier_distance)
                say(f"registered {made['model_version']} (data version {made['data_version']}, "
                    f"{made['n_train']} workouts)")
                if args.activate:
                    cm.activate(spark, settings, str(made["model_version"]))
                    say(f"activated {made['model_version']}: gold.workout_classification re-labelled")
        if args.rollback:
            active = cm.activate(spark, settings, args.rollback, action="rollback")
            say(f"rolled back athlete {active.person_id} to {active.model_version}: re-labelled")
    except cm.ModelVersionError as exc:
        print(f"classify: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # one clear line for the operator
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"classify failed: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
