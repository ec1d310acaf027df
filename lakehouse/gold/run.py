"""Run the gold stage: build every gold table from silver, recomputing only what new data can change.

Incremental where it matters (METRICS.md, issue "Analytics"):
- `activity_summary_monthly` recomputes the (athlete, month) pairs that Delta's change data feed of
  silver.strava_activities shows touched, before and after images both;
- `fitbit_daily_summary` recomputes the touched days;
- `activity_training_load` and `training_load_daily` recompute from the earliest changed day onwards,
  continuing the CTL/ATL recurrence from the stored values of the day before.
Tables whose every row depends on all the data (k-means labels, z-scores, trends, streaks) are recomputed
whole, compared with what is stored, and replaced in one commit when a row changed (no commit when none did);
tables computed from one input are built in one task and recorded together (the monthly trends are computed
once for the three tables that read them).
`ops.gold_progress` records which silver version each gold table reflects (in one commit at the end of the
stage, `BuildLedger`); with no change since, a table is skipped. An incremental run ends equal to a full
recompute (a test checks it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.concurrency import run_concurrently
from lakehouse.config import Settings
from lakehouse.faults import crash_point
from lakehouse.gold import (
    activity_summary_monthly,
    anomalies,
    classification_models,
    consistency,
    fitbit_daily,
    forecast,
    kudos_prediction,
    kudos_weekly,
    streaks,
    training_load,
    trends,
    workout_classification,
)
from lakehouse.joblabel import job_label
from lakehouse.storage import open_store
from lakehouse.tables import (
    TableRef,
    Tables,
    append,
    append_rows,
    create_if_missing,
    read_changes,
    read_table,
    table_exists,
    table_version,
)
from lakehouse.tables.merge import merge_replace, replace_table, with_row_hash

PROGRESS_TABLE = ("ops", "gold_progress")
PROGRESS_SCHEMA = T.StructType(
    [
        T.StructField("gold_table", T.StringType(), False),
        T.StructField("source_table", T.StringType(), False),
        T.StructField("source_version", T.LongType(), False),
        T.StructField("mode", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("built_at", T.TimestampType()),
    ]
)
REGISTRY_TABLE = ("ops", "model_registry")
REGISTRY_SCHEMA = T.StructType(
    [
        T.StructField("model_name", T.StringType(), False),
        T.StructField("person_id", T.StringType()),
        T.StructField("model_version", T.StringType(), False),
        T.StructField("data_table", T.StringType()),
        T.StructField("data_version", T.LongType()),
        T.StructField("path", T.StringType()),
        T.StructField("n_train", T.LongType()),
        T.StructField("metadata", T.StringType()),
        T.StructField("trained_at", T.TimestampType()),
    ]
)
KUDOS_RUNS_SCHEMA = T.StructType(
    [
        T.StructField("model_version", T.StringType(), False),
        T.StructField("run_id", T.StringType()),
        T.StructField("trained_at", T.TimestampType()),
        T.StructField("data_version", T.LongType()),
        T.StructField("activities", T.LongType()),
        T.StructField("activity_ids_hash", T.StringType()),
        T.StructField("n_train", T.LongType()),
        T.StructField("n_test", T.LongType()),
        T.StructField("mae", T.DoubleType()),
        T.StructField("rmse", T.DoubleType()),
        T.StructField("baseline_mae", T.DoubleType()),
        T.StructField("baseline_rmse", T.DoubleType()),
        T.StructField("model_path", T.StringType()),
    ]
)
SKIP_REASONS = {
    "strava_activities": "no Strava activities loaded",
    "workouts": "no workouts (needs Strava or MapMyRun data)",
    "fitbit_intraday": "no Fitbit/Google intraday data loaded",
    "fitbit_daily": "no Fitbit/Google daily data loaded",
    "people": "silver.people not built yet (run the silver stage)",
}
SILVER_SOURCES = ("strava_activities", "workouts", "fitbit_intraday", "fitbit_daily", "people")


@dataclass
class GoldResult:
    """What one gold table build did."""

    table: str
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0
    mode: str = "full"  # full | incremental | unchanged | no input
    note: str = ""


@dataclass
class GoldContext:
    """What every gold build needs: the session, settings, table refs and the pinned silver versions."""

    spark: SparkSession
    settings: Settings
    run_id: str
    tables: Tables
    versions: dict[str, int] = field(default_factory=dict)
    full: bool = False

    def silver(self, name: str) -> DataFrame:
        """A silver table at the version pinned for this run."""
        return read_table(self.spark, self.tables.ref("silver", name), self.versions[name])

    def gold_ref(self, name: str, layer: str = "gold") -> TableRef:
        """A gold (or ops) table."""
        return self.tables.ref(layer, name)


def _progress(ctx: GoldContext) -> dict[tuple[str, str], int]:
    ref = ctx.tables.ref(*PROGRESS_TABLE)
    create_if_missing(ctx.spark, ref, ctx.spark.createDataFrame([], PROGRESS_SCHEMA))
    rows = read_table(ctx.spark, ref).groupBy("gold_table", "source_table").agg(F.max("source_version")).collect()
    return {(r[0], r[1]): int(r[2]) for r in rows}


RECORD_EVERY_S = 60.0  # a long gold stage writes its build-ledger rows at least this often


class BuildLedger:
    """The build-ledger rows (`ops.gold_progress`: which silver version each gold table now reflects) of one gold
    stage, written in as few commits as possible: each commit of a small Delta table costs about as much as a
    small table's build (0.3 s here), and a gold stage builds a dozen of them.

    Rows wait until the stage ends (`flush`, also when a table failed), or until `every_s` seconds have passed
    since the last write, so a long cold build still keeps what it did. A process killed outright (SIGKILL, power)
    loses the rows not yet written: the next run rebuilds those tables, finds no row changed and commits nothing
    to them (the cost is time, not data). Thread-safe: tables are built on several threads."""

    def __init__(self, ctx: GoldContext, every_s: float) -> None:
        self.ctx, self.every_s = ctx, every_s
        self.pending: list[tuple] = []
        self.lock = threading.Lock()
        self.last_write = time.monotonic()

    def add(self, built: list[tuple[str, Sequence[str], str]]) -> None:
        """Rows for tables just built: (gold table, its silver sources, mode); written now if the last write is
        `every_s` old."""
        now = datetime.now(UTC)
        rows = [(gold, s, self.ctx.versions[s], mode, self.ctx.run_id, now) for gold, sources, mode in built
                for s in sources]  # fmt: skip
        with self.lock:
            self.pending.extend(rows)
        if time.monotonic() - self.last_write >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """Write the waiting rows in one commit (none when none wait), its Spark jobs labelled `gold:build_ledger`."""
        with self.lock:
            rows, self.pending = self.pending, []
            self.last_write = time.monotonic()
            if rows:
                with job_label(self.ctx.spark, "gold", "build_ledger"):
                    append_rows(self.ctx.spark, rows, PROGRESS_SCHEMA, self.ctx.tables.ref(*PROGRESS_TABLE))


def _changes(ctx: GoldContext, done: dict[tuple[str, str], int], gold: str, source: str) -> DataFrame | None:
    """Rows of `source` that changed since `gold` was last built (None: rebuild everything)."""
    last = done.get((gold, source))
    if last is None or ctx.full:
        return None
    if last >= ctx.versions[source]:
        return ctx.silver(source).limit(0)
    try:
        return read_changes(ctx.spark, ctx.tables.ref("silver", source), last + 1, ctx.versions[source])
    except Exception:  # the change feed may not reach back that far (vacuumed, or enabled later): rebuild
        return None


def _merge(ctx: GoldContext, name: str, rows: DataFrame, keys: Sequence[str], scope: str | None = None) -> int:
    """Make gold.<name> hold `rows`: the rows in `scope` (a MERGE that deletes only there), or the whole table
    (one overwrite commit, none when no row changed); returns the rows inserted, updated or deleted."""
    hashed, target = with_row_hash(rows), ctx.gold_ref(name)
    if scope is None:
        counts = replace_table(ctx.spark, target, hashed, keys)
    else:
        counts = merge_replace(ctx.spark, target, hashed, keys, scope)
    return counts["inserted"] + counts["updated"] + counts["deleted"]


def with_kudos(activities: DataFrame) -> DataFrame:
    """The activities whose kudos are known: pulled from the API (Strava's archive carries no kudos)."""
    if "source_route" not in activities.columns:
        return activities
    return activities.where(F.coalesce(F.col("source_route"), F.lit("api")) == "api")


def _sql_list(values: Sequence[object]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def build_activity_summary_monthly(ctx: GoldContext, done: dict[tuple[str, str], int]) -> GoldResult:
    """Monthly summary, recomputing only the touched (athlete, month) pairs."""
    name = activity_summary_monthly.NAME
    activities = ctx.silver("strava_activities")
    changes = _changes(ctx, done, name, "strava_activities")
    if changes is None or not table_exists(ctx.spark, ctx.gold_ref(name)):
        rows = activity_summary_monthly.summarise(activities)
        out = _merge(ctx, name, rows, activity_summary_monthly.KEYS)
        return GoldResult(name, rows_out=out, mode="full")
    months = sorted({str(r[0]) for r in changes.select(F.trunc("activity_date", "month")).distinct().collect() if r[0]})
    if not months:
        return GoldResult(name, mode="unchanged")
    scope = f"t.month IN ({_sql_list(months)})"
    touched = activities.where(F.trunc("activity_date", "month").isin([date.fromisoformat(m) for m in months]))
    out = _merge(ctx, name, activity_summary_monthly.summarise(touched), activity_summary_monthly.KEYS, scope)
    return GoldResult(name, rows_out=out, mode="incremental", note=f"{len(months)} month(s) recomputed")


def build_fitbit_daily_summary(ctx: GoldContext, done: dict[tuple[str, str], int]) -> GoldResult:
    """Fitbit per day and metric, recomputing only the touched days."""
    name = fitbit_daily.SUMMARY_NAME
    intraday = ctx.silver("fitbit_intraday")
    changes = _changes(ctx, done, name, "fitbit_intraday")
    if changes is None or not table_exists(ctx.spark, ctx.gold_ref(name)):
        return GoldResult(name, rows_out=_merge(ctx, name, fitbit_daily.daily_summary(intraday),
                                                fitbit_daily.SUMMARY_KEYS), mode="full")  # fmt: skip
    days = sorted({r[0] for r in changes.select("date").distinct().collect() if r[0]})
    if not days:
        return GoldResult(name, mode="unchanged")
    scope = f"t.date IN ({_sql_list(days)})"
    # The month partition column prunes the read to the touched months.
    months = sorted({d.strftime("%Y-%m") for d in days})
    touched = intraday.where(F.col("month").isin(months) & F.col("date").isin(days))
    out = _merge(ctx, name, fitbit_daily.daily_summary(touched), fitbit_daily.SUMMARY_KEYS, scope)
    return GoldResult(name, rows_out=out, mode="incremental", note=f"{len(days)} day(s) recomputed")


def build_training_load(ctx: GoldContext, done: dict[tuple[str, str], int]) -> list[GoldResult]:
    """TRIMP per workout and the daily fitness/fatigue series, from the earliest changed day onwards.

    Fitbit is optional: without it, TRIMP comes from each workout's own heart rate. A change to silver.people
    (physiology, identities) recomputes everything.
    """
    params = ctx.settings.analytics
    workouts = ctx.silver("workouts")
    heart = (
        ctx.silver("fitbit_intraday").where(F.col("metric") == "heart_rate_bpm")
        if "fitbit_intraday" in ctx.versions
        else None
    )
    daily_fitbit = ctx.silver("fitbit_daily") if "fitbit_daily" in ctx.versions else None
    people = ctx.silver("people")
    act_ref, day_ref = ctx.gold_ref(training_load.ACTIVITY_NAME), ctx.gold_ref(training_load.DAILY_NAME)
    earliest: date | None = None
    incremental = table_exists(ctx.spark, act_ref) and table_exists(ctx.spark, day_ref)
    people_changes = _changes(ctx, done, training_load.DAILY_NAME, "people")
    if people_changes is None or not people_changes.isEmpty():
        incremental = False
    changed_days: list[DataFrame] = []
    for source, column in (
        ("workouts", "workout_date"),
        ("fitbit_intraday", "date"),
        ("fitbit_daily", "date"),
    ):
        if not incremental:
            break
        if source not in ctx.versions:
            continue
        changes = _changes(ctx, done, training_load.DAILY_NAME, source)
        if changes is None:
            incremental = False
            break
        changed_days.append(changes.select(F.col(column).cast("date").alias("day")))
    if incremental and changed_days:
        # The earliest changed day over every source, in one query rather than one per source.
        union = changed_days[0]
        for more in changed_days[1:]:
            union = union.unionByName(more)
        earliest = union.agg(F.min("day")).first()[0]
    if incremental and earliest is None:
        return [GoldResult(training_load.ACTIVITY_NAME, mode="unchanged"),
                GoldResult(training_load.DAILY_NAME, mode="unchanged")]  # fmt: skip
    if not incremental:
        loads = training_load.activity_load(workouts, heart, daily_fitbit, params, people)
        n_act = _merge(ctx, training_load.ACTIVITY_NAME, loads, training_load.ACTIVITY_KEYS)
        stored = read_table(ctx.spark, act_ref)
        pmc = training_load.performance_management(training_load.daily_load(stored), params)
        n_day = _merge(ctx, training_load.DAILY_NAME, pmc, training_load.DAILY_KEYS)
        return [GoldResult(training_load.ACTIVITY_NAME, rows_out=n_act, mode="full"),
                GoldResult(training_load.DAILY_NAME, rows_out=n_day, mode="full")]  # fmt: skip
    assert earliest is not None
    # A UTC workout can fall on the previous local day: start one day early. And the stored series ends at
    # each athlete's last workout: the rest days between it and the new data are new rows too.
    start = earliest - timedelta(days=1)
    ends = read_table(ctx.spark, day_ref).groupBy("person_id").agg(F.max("date").alias("last"))
    first_missing = ends.agg(F.min("last")).first()[0]
    if first_missing is not None:
        start = min(start, first_missing + timedelta(days=1))
    recent = workouts.where(F.col("workout_date") >= F.lit(start))
    recent_heart = heart.where(F.col("date") >= F.lit(start - timedelta(days=1))) if heart is not None else None
    recent_daily = daily_fitbit.where(F.col("date") >= F.lit(start)) if daily_fitbit is not None else None
    loads = training_load.activity_load(recent, recent_heart, recent_daily, params, people)
    n_act = _merge(ctx, training_load.ACTIVITY_NAME, loads, training_load.ACTIVITY_KEYS,
                   scope=f"t.workout_date >= DATE'{start.isoformat()}'")  # fmt: skip
    stored_loads = read_table(ctx.spark, act_ref)
    daily = training_load.daily_load(stored_loads).where(F.col("date") >= F.lit(start - timedelta(days=28)))
    history = read_table(ctx.spark, day_ref).where(F.col("date") < F.lit(start))
    pmc = training_load.performance_management(daily, params, history=history, start=start)
    n_day = _merge(ctx, training_load.DAILY_NAME, pmc, training_load.DAILY_KEYS,
                   scope=f"t.date >= DATE'{start.isoformat()}'")  # fmt: skip
    note = f"from {start.isoformat()}"
    return [GoldResult(training_load.ACTIVITY_NAME, rows_out=n_act, mode="incremental", note=note),
            GoldResult(training_load.DAILY_NAME, rows_out=n_day, mode="incremental", note=note)]  # fmt: skip


def _kmeans_keys(ctx: GoldContext, athletes: Sequence[str], k_of: dict[str, int]) -> dict[str, str]:
    """Where (under the tables root) each athlete's k-means model of this silver.workouts version is saved."""
    version = ctx.versions["workouts"]
    return {a: f"models/workout_kmeans/person={a}/k={k_of[a]}/data_version={version}/model.json" for a in athletes}


def _registered(ctx: GoldContext, paths: Collection[str]) -> dict[str, str]:
    """The metadata of those of `paths` that ops.model_registry lists whole: one query for every athlete."""
    if not paths:
        return {}
    registry = ctx.tables.ref(*REGISTRY_TABLE)
    create_if_missing(ctx.spark, registry, ctx.spark.createDataFrame([], REGISTRY_SCHEMA))
    rows = (
        read_table(ctx.spark, registry)
        .where((F.col("model_name") == "workout_kmeans") & F.col("path").isin(sorted(paths)))
        .select("path", "metadata").collect()
    )  # fmt: skip
    return {r["path"]: r["metadata"] for r in rows if workout_classification.is_complete(r["metadata"])}


def _by_person(values: dict[str, object]) -> Column:
    """The value of each row's person_id in `values` (a literal map; null for anyone else)."""
    pairs = [F.lit(x) for person, value in sorted(values.items()) for x in (person, value)]
    return F.create_map(*pairs)[workout_classification.person_key()]


def build_classification(ctx: GoldContext) -> GoldResult:
    """k-means labels per athlete (or the era / threshold fallbacks), with the model's data version.

    Every athlete whose model of this data version is not registered yet is trained in one grouped pass;
    the registered ones are read from ops.model_registry (one query), the versions chosen with jobs.classify
    likewise. Then one query labels every athlete's workouts. Newly trained models are listed in
    ops.model_registry in one commit once every one is saved."""
    name = workout_classification.NAME
    feats = workout_classification.features(ctx.silver("workouts")).persist()
    people = (
        ctx.silver("people").select("person_id", "event_date", "kmeans_k").collect() if "people" in ctx.versions else []
    )
    settings_of = {r["person_id"]: r for r in people}
    defaults = ctx.settings.analytics
    try:
        counted = workout_classification.sizes(feats).collect()
        sizes = {workout_classification.key_of(r["person_id"]): r for r in counted}
        active = classification_models.active_models(ctx.spark, ctx.tables)  # versions chosen by jobs.classify
        k_of: dict[str, int] = {}
        era: dict[str, date] = {}
        by_pace: list[str] = []
        clustered: list[str] = []
        for athlete_id, size in sorted(sizes.items()):
            person = settings_of.get(athlete_id)
            event_date = person["event_date"] if person else defaults.event_date
            k = k_of[athlete_id] = int(person["kmeans_k"]) if person else defaults.kmeans_k
            n = int(size["workouts"])
            if athlete_id in active:
                clustered.append(athlete_id)
            elif n < workout_classification.MIN_WORKOUTS and event_date is not None:
                era[athlete_id] = event_date
            elif n >= workout_classification.MIN_WORKOUTS and size["distinct_plausible"] >= k:
                clustered.append(athlete_id)
            else:
                by_pace.append(athlete_id)
        store = open_store(ctx.tables.settings.tables_root, ctx.tables.settings.s3)
        keys = _kmeans_keys(ctx, [a for a in clustered if a not in active], k_of)
        paths = {a: store.uri(key) for a, key in keys.items()}
        registered = _registered(ctx, paths.values())
        chosen = {a: active[a] for a in clustered if a in active}
        models = classification_models.load_active(ctx.spark, ctx.tables, chosen)
        models |= {a: workout_classification.from_json(registered[p]) for a, p in paths.items() if p in registered}
        fresh = sorted(a for a, p in paths.items() if p not in registered)
        if fresh:
            mine = workout_classification.plausible(feats).where(workout_classification.person_key().isin(fresh))
            trained = workout_classification.train(mine, {a: k_of[a] for a in fresh})
            version, now = ctx.versions["workouts"], datetime.now(UTC)
            rows = []
            for a in fresh:
                text = workout_classification.to_json(trained[a])  # the file and the registry hold the same JSON
                store.write_bytes(keys[a], text.encode("utf-8"))
                rows.append(("workout_kmeans", a, f"{a}-k{k_of[a]}-{version}", "silver.workouts", version, paths[a],
                             trained[a].n_train, text, now))  # fmt: skip
            crash_point("gold.after_model_save")  # models saved, their registry rows not written: retrained next run
            append_rows(ctx.spark, rows, REGISTRY_SCHEMA, ctx.tables.ref(*REGISTRY_TABLE))
            models |= trained
        parts = []
        if models:
            model_path = {a: active[a].path if a in active else paths[a] for a in models}
            labelled = workout_classification.classify(feats, models)
            parts.append(labelled.withColumn("model_path", _by_person(model_path)))
        if era:
            parts.append(workout_classification.era_defaults(feats.where(_by_person(era).isNotNull()), _by_person(era))
                         .withColumn("model_path", F.lit(None)))  # fmt: skip
        if by_pace:
            pace_rows = feats.where(workout_classification.person_key().isin(by_pace))
            parts.append(workout_classification.pace_thresholds(pace_rows)
                         .withColumn("model_path", F.lit(None)))  # fmt: skip
        if not parts:
            return GoldResult(name, mode="no input")
        rows_out = parts[0]
        for part in parts[1:]:
            rows_out = rows_out.unionByName(part)
        rows_out = rows_out.select(*[c for c in rows_out.columns if c != "model_path"],
                                   F.lit(ctx.versions["workouts"]).cast("long").alias("data_version"),
                                   F.col("model_path").cast("string").alias("model_path"))  # fmt: skip
        return GoldResult(name, rows_out=_merge(ctx, name, rows_out, workout_classification.KEYS))
    finally:
        feats.unpersist()


def build_kudos_prediction(ctx: GoldContext) -> list[GoldResult]:
    """Retrain the kudos model when new activities landed; record its held-out error; predict every activity."""
    activities = with_kudos(ctx.silver("strava_activities"))
    feats = kudos_prediction.features(activities).persist()
    try:
        ids = feats.agg(F.count(F.lit(1)), F.sha2(F.concat_ws(",", F.sort_array(F.collect_list(
            F.concat_ws(":", "athlete_id", "activity_id", "kudos")))), 256)).first()  # fmt: skip
        n, ids_hash = int(ids[0]), ids[1]
        runs_ref = ctx.gold_ref(kudos_prediction.RUNS_NAME, "ops")
        create_if_missing(ctx.spark, runs_ref, ctx.spark.createDataFrame([], KUDOS_RUNS_SCHEMA))
        if n < kudos_prediction.MIN_ACTIVITIES:
            return [GoldResult(kudos_prediction.PREDICTIONS_NAME, mode="no input",
                               note=f"needs {kudos_prediction.MIN_ACTIVITIES} activities")]  # fmt: skip
        latest = read_table(ctx.spark, runs_ref).orderBy(F.col("trained_at").desc()).first()
        if (
            latest
            and latest["activity_ids_hash"] == ids_hash
            and table_exists(ctx.spark, ctx.gold_ref(kudos_prediction.PREDICTIONS_NAME))
        ):
            return [GoldResult(kudos_prediction.PREDICTIONS_NAME, mode="unchanged", note="no new activities")]
        rows_on_driver = kudos_prediction.to_pandas(feats)
        train, test = kudos_prediction.split_rows(rows_on_driver)
        model = kudos_prediction.fit(train)
        evaluation = kudos_prediction.evaluate(model, train, test)
        version = f"{ctx.versions['strava_activities']}-{ids_hash[:8]}"
        store = open_store(ctx.tables.settings.tables_root, ctx.tables.settings.s3)
        key = f"models/kudos_gbt/{version}.joblib"
        store.write_bytes(key, kudos_prediction.serialise(model))
        path = store.uri(key)
        crash_point("gold.after_model_save")
        rows = kudos_prediction.predictions(ctx.spark, model, feats, rows_on_driver, version)
        out = _merge(ctx, kudos_prediction.PREDICTIONS_NAME, rows, kudos_prediction.PREDICTIONS_KEYS)
        crash_point("gold.before_model_run_row")
        # The run row last: it is what says "predictions are current for these activities", so a crash before
        # it retrains next time instead of leaving the previous model's predictions in place.
        append(
            ctx.spark.createDataFrame(
                [(version, ctx.run_id, datetime.now(UTC), ctx.versions["strava_activities"], n, ids_hash,
                  evaluation.n_train, evaluation.n_test, evaluation.mae, evaluation.rmse, evaluation.baseline_mae,
                  evaluation.baseline_rmse, path)],
                KUDOS_RUNS_SCHEMA,
            ),
            runs_ref,
        )  # fmt: skip
        note = (f"held-out MAE {evaluation.mae:.2f} vs baseline {evaluation.baseline_mae:.2f} "
                f"(RMSE {evaluation.rmse:.2f} vs {evaluation.baseline_rmse:.2f})")  # fmt: skip
        return [GoldResult(kudos_prediction.PREDICTIONS_NAME, rows_out=out, note=note)]
    finally:
        feats.unpersist()


def _full(ctx: GoldContext, name: str, keys: Sequence[str], build: Callable[[], DataFrame]) -> GoldResult:
    return GoldResult(name, rows_out=_merge(ctx, name, build(), keys))


@dataclass(frozen=True)
class Whole:
    """A gold table recomputed whole: its name, keys, and its transform of its group's input frame."""

    name: str
    keys: Sequence[str]
    transform: Callable[[DataFrame], DataFrame]


def build_together(ctx: GoldContext, members: Sequence[Whole], source: Callable[[], DataFrame],
                   shared: Callable[[DataFrame], DataFrame] | None = None) -> list[GoldResult]:  # fmt: skip
    """Tables recomputed whole from one input frame, one after the other (recorded together). `shared`: a
    computation of the input that every member reads (the monthly trends): computed once and kept for the group
    (a local checkpoint), not once per table."""
    frame = source()
    if shared is not None:
        frame = shared(frame)
        if len(members) > 1:
            frame = frame.localCheckpoint(eager=True)
    return [GoldResult(m.name, rows_out=_merge(ctx, m.name, m.transform(frame), m.keys)) for m in members]


def run_gold(
    spark: SparkSession,
    settings: Settings,
    run_id: str = "adhoc",
    full: bool = False,
    only: Collection[str] | None = None,
) -> list[GoldResult]:
    """Every gold table, in order; `full=True` ignores progress and recomputes everything; `only` (gold table
    names) builds just those (the benchmark's like-for-like run), the others are neither built nor reported."""
    tables = Tables(settings)
    with job_label(spark, "gold", "silver_versions"):
        versions = {
            name: table_version(spark, tables.ref("silver", name))
            for name in SILVER_SOURCES
            if table_exists(spark, tables.ref("silver", name))
        }
        ctx = GoldContext(spark, settings, run_id, tables, versions, full)
        done = _progress(ctx)
    ledger = BuildLedger(ctx, RECORD_EVERY_S)

    def timed(
        names: Sequence[str],
        required: Sequence[str],
        build: Callable[[], GoldResult | list[GoldResult]],
        optional: Sequence[str] = (),
    ) -> list[GoldResult]:
        missing = [s for s in required if s not in versions]
        if missing:
            why = SKIP_REASONS.get(missing[0], f"no silver.{missing[0]} yet")
            return [GoldResult(n, mode="no input", note=f"skipped: {why}") for n in names]
        sources = [*required, *(s for s in optional if s in versions)]
        current = all(done.get((n, s), -1) >= versions[s] for n in names for s in sources)
        if current and not full and all(table_exists(spark, ctx.gold_ref(n)) for n in names):
            return [GoldResult(n, mode="unchanged") for n in names]
        started = time.monotonic()
        crash_point("gold.before_table")
        built = build()
        crash_point("gold.after_table")  # built, not yet in the build ledger: the next run rebuilds it
        built = built if isinstance(built, list) else [built]
        elapsed = (time.monotonic() - started) / len(built)
        for result in built:
            result.seconds = elapsed
        ledger.add([(r.table, sources, r.mode) for r in built if r.mode != "no input"])
        return built

    activities, workouts, fitbit_sources = ("strava_activities",), ("workouts",), ("fitbit_intraday",)
    per_person = ("workouts", "people")  # tables that read each person's settings (event date, target, k...)

    def full_table(name: str, keys: Sequence[str], source: str, transform: Callable[[DataFrame], DataFrame]):
        return lambda: _full(ctx, name, keys, lambda: transform(ctx.silver(source)))

    def together(required: Sequence[str], source: str, *members: Whole,
                 shared: Callable[[DataFrame], DataFrame] | None = None) -> tuple:  # fmt: skip
        """Tables built from one input in one task, recorded in one commit (those of `only`, when given)."""
        chosen = [m for m in members if only is None or m.name in only]

        def build() -> list[GoldResult]:
            return build_together(ctx, chosen, lambda: ctx.silver(source), shared)

        return ([m.name for m in chosen], required, build)

    def people() -> DataFrame:  # read when a table is built, not when planned
        return ctx.silver("people")

    plan: list[tuple] = [
        ([activity_summary_monthly.NAME], activities, lambda: build_activity_summary_monthly(ctx, done)),
        ([kudos_weekly.NAME], activities,
         full_table(kudos_weekly.NAME, kudos_weekly.KEYS, "strava_activities",
                    lambda a: kudos_weekly.weekly_kudos(with_kudos(a)))),
        ([fitbit_daily.SUMMARY_NAME], fitbit_sources, lambda: build_fitbit_daily_summary(ctx, done)),
        ([fitbit_daily.ZONES_NAME], ("fitbit_daily",),
         full_table(fitbit_daily.ZONES_NAME, fitbit_daily.ZONES_KEYS, "fitbit_daily", fitbit_daily.zone_minutes)),
        ([workout_classification.NAME], per_person, lambda: build_classification(ctx)),
        # Tables that read each workout and each person's settings (targets, event date).
        together(per_person, "workouts",
                 Whole(consistency.WEEKLY_NAME, consistency.KEYS,
                       lambda w: consistency.consistency(w, "week", people())),
                 Whole(consistency.MONTHLY_NAME, consistency.KEYS,
                       lambda w: consistency.consistency(w, "month", people())),
                 Whole(trends.BEFORE_AFTER_NAME, trends.BEFORE_AFTER_KEYS, lambda w: trends.before_after(w, people()))),
        ([anomalies.NAME], workouts, full_table(anomalies.NAME, anomalies.KEYS, "workouts", anomalies.detect)),
        # The monthly trends, computed once for the three tables that read them.
        together(workouts, "workouts",
                 Whole(trends.MONTHLY_NAME, trends.MONTHLY_KEYS, lambda monthly: monthly),
                 Whole(trends.FITS_NAME, trends.FITS_KEYS, trends.fits),
                 Whole(forecast.NAME, forecast.KEYS, forecast.forecast),
                 shared=trends.monthly),
        ([training_load.ACTIVITY_NAME, training_load.DAILY_NAME], per_person,
         lambda: build_training_load(ctx, done), ("fitbit_intraday", "fitbit_daily")),
        together(workouts, "workouts",
                 Whole(streaks.STREAKS_NAME, streaks.STREAKS_KEYS, streaks.streaks),
                 Whole(streaks.EDDINGTON_NAME, streaks.EDDINGTON_KEYS, streaks.eddington)),
        ([kudos_prediction.PREDICTIONS_NAME], activities, lambda: build_kudos_prediction(ctx)),
    ]  # fmt: skip

    def task(names: Sequence[str], required: Sequence[str], build: Callable, *optional: Sequence[str]):
        def labelled() -> list[GoldResult]:
            with job_label(spark, "gold", "+".join(names)):
                return timed(names, required, build, *optional)

        return labelled

    # The tables read silver (pinned above) and write only themselves and their own ledger rows: independent,
    # so a few are built at once (`[spark] table_threads`); the results keep the plan's order.
    tasks = [task(*item) for item in plan if only is None or any(n in only for n in item[0])]
    try:
        results = [r for built in run_concurrently(spark, tasks, settings.spark.table_threads) for r in built]
    except Exception:  # a table failed: the ones built keep their rows (not on a kill: nothing runs after one)
        ledger.flush()
        raise
    ledger.flush()
    return results
