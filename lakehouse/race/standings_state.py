"""Live standings carried forward micro-batch by micro-batch, instead of recomputed from the whole stage.

A stage's standings are a function of three things (`gold.live_standings.standings_from`): every rider's
crossings of the stage's marks, each rider's newest matched point, and the stage's newest point. A crossing is
the first time a pair of a rider's consecutive matched points (t0, d0) -> (t1, d1) passes a mark
(`gold.crossings`). A rider's new points change only the pairs from his *anchor* on, the newest point he had
before the oldest new one (his newest point so far when points arrive in time order; an earlier one when a late
point falls among them): a crossing made by a pair that ended at or before the anchor stands, the others are
recomputed from the anchor, the kept points after it and the new points. So the driver keeps, per stage, each
rider's first crossings with the end of the pair that made each, his matched points of the last `TAIL_S`
seconds, the stage's newest point and how many silver points of the stage's day that reflects; each
micro-batch carries it forward from its own rows, and the standings come from it. Reading and re-pairing every
point of the stage each micro-batch took 12-25 s at 60x once the stage held a million points; this reads none.

A carried micro-batch's crossings are computed here, on the driver (`rider_crossings`: numpy over the batch's
points, which it collects anyway for the tails), with the very arithmetic of `gold.crossings` in the same order,
so the doubles are the same; the marks and start times come from the reference tables in one small query, kept
while those tables keep their Delta versions (a route loaded again mid-stream is read again). As a
Spark query (pairs, buckets, a broadcast join, a group-by) the same few thousand points cost 3-7 s of a 1x
micro-batch on two busy cores: the largest share of the standings step. A rebuild still uses `gold.crossings`.

The state is rebuilt from silver (what `stream.standings_for` computes) whenever it cannot be carried forward
exactly: on a stage's first micro-batch after a (re)start, when a rider's new point is older than every point
kept for him, or when silver holds a different number of the day's points than the state plus the micro-batch
(a batch run inserted points meanwhile). Either way the standings equal a recompute from silver once the
micro-batch's rows are in it (tests check both paths): the stream publishes the standings first and appends to
silver after, so the standings are carried over silver plus the micro-batch's rows. Silver's day is counted only
when its Delta log cannot vouch for it: when silver is still at the version the stage's state matched after its
last micro-batch's own commit, nothing else was committed in between (one file read, not a count that grew with
the day's files to 2-4 s). At most `KEEP_STAGES` stages are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.race.gold.crossings import crossings, epoch_seconds, marks, point_pairs, rider_starts
from lakehouse.race.gold.live_standings import stage_as_of, standings_from

KEEP_STAGES = 3
TAIL_S = 900  # seconds of each rider's newest matched points kept: how late a point can be and still be carried
# Times cross the driver as epoch microseconds: a naive local datetime is ambiguous in a DST fall-back hour.
CROSSING_SCHEMA = T.StructType(
    [
        T.StructField("stage", T.IntegerType()),
        T.StructField("rider_id", T.IntegerType()),
        T.StructField("mark_m", T.DoubleType()),
        T.StructField("mark_kind", T.StringType()),
        T.StructField("checkpoint", T.StringType()),
        T.StructField("crossed_s", T.DoubleType()),
        T.StructField("elapsed_s", T.DoubleType()),
        T.StructField("pair_end_s", T.DoubleType()),
    ]
)
LATEST_SCHEMA = T.StructType(
    [
        T.StructField("stage", T.IntegerType()),
        T.StructField("rider_id", T.IntegerType()),
        T.StructField("last_us", T.LongType()),
        T.StructField("last_distance", T.DoubleType()),
    ]
)
AS_OF_SCHEMA = T.StructType([T.StructField("stage", T.IntegerType()), T.StructField("as_of_us", T.LongType())])

Mark = tuple[float, str, "str | None"]  # mark_m, mark_kind, checkpoint
Point = tuple[int, float]  # epoch microseconds, metres along the route
Crossing = tuple[float, "float | None", float]  # crossed_s, elapsed_s (None without a start time), pair_end_s


def row_crossing(r: Row) -> tuple[Mark, Crossing]:
    """A row of `gold.crossings(..., pair_end=True)` as (mark, crossing)."""
    return (float(r["mark_m"]), r["mark_kind"], r["checkpoint"]), (r["crossed_s"], r["elapsed_s"], r["pair_end_s"])


@dataclass(frozen=True)
class StageMarks:
    """One stage's marks as `gold.crossings.marks` makes them, ordered by distance, and its start times."""

    marks: tuple[Mark, ...]
    start_s: float | None  # the stage's start, epoch seconds
    own_start_s: dict[int, float]  # a time trial's riders' own starts

    def start_of(self, rider: int) -> float | None:
        """When `rider` started: his own start, else the stage's (`gold.crossings.rider_starts`)."""
        return self.own_start_s.get(rider, self.start_s)


def rider_crossings(points: Sequence[Point], stage: StageMarks, rider: int) -> list[tuple[Mark, Crossing]]:
    """The first crossing of each mark by the pairs of a rider's matched `points` (time order), with the end of
    the pair that made it: `gold.crossings.crossings(point_pairs(...), ..., pair_end=True)` for one rider.

    Same arithmetic in the same order as the Spark expression (t = microseconds / 1e6; t0 + (m - d0) / (d1 - d0)
    * (t1 - t0)), so the same doubles; a pair counts only where the distance grows (d1 > d0), and it crosses the
    marks m with d0 < m <= d1. Of two pairs crossing a mark at the same instant, the earlier pair's end counts."""
    if len(points) < 2 or not stage.marks:
        return []
    t = np.fromiter((p[0] for p in points), dtype=np.int64, count=len(points)) / 1e6
    d = np.fromiter((p[1] for p in points), dtype=np.float64, count=len(points))
    mark_m = np.array([m[0] for m in stage.marks], dtype=np.float64)
    lo = np.searchsorted(mark_m, d[:-1], side="right")  # the first mark beyond d0
    hi = np.searchsorted(mark_m, d[1:], side="right")  # past the last mark at or before d1
    first: dict[Mark, tuple[float, float]] = {}
    for i in np.nonzero((d[1:] > d[:-1]) & (hi > lo))[0]:
        t0, d0, t1, d1 = float(t[i]), float(d[i]), float(t[i + 1]), float(d[i + 1])
        for j in range(int(lo[i]), int(hi[i])):
            mark = stage.marks[j]
            at = t0 + (mark[0] - d0) / (d1 - d0) * (t1 - t0)
            known = first.get(mark)
            if known is None or (at, t1) < known:
                first[mark] = (at, t1)
    start = stage.start_of(rider)
    return [(m, (at, None if start is None else at - start, end)) for m, (at, end) in first.items()]


@dataclass
class StageState:
    """What one stage's standings are computed from, as of `points` silver points (of the stage's day)."""

    points: int
    as_of_us: int | None
    # the silver version the state is known to match (its Delta log shows no other commit up to it), if known
    silver_version: int | None = None
    # rider -> his matched points of the last `TAIL_S` seconds up to his newest, oldest first
    tails: dict[int, list[Point]] = field(default_factory=dict)
    # rider -> mark -> (crossed_s, elapsed_s, pair_end_s): his first crossing, and the end of the pair that made it
    crossings: dict[int, dict[Mark, tuple[float, float, float]]] = field(default_factory=dict)

    def add_crossings(self, rider: int, found: Sequence[tuple[Mark, Crossing]]) -> None:
        """Keep the earliest crossing of each mark."""
        marks = self.crossings.setdefault(rider, {})
        for mark, crossing in found:
            known = marks.get(mark)
            if known is None or crossing[0] < known[0]:
                marks[mark] = crossing

    def anchor(self, rider: int, first_us: int) -> Point | None:
        """The rider's matched point his new points (from `first_us` on) continue from: his newest before them.

        Raises `LookupError` when the tail kept does not reach back that far."""
        tail = self.tails.get(rider)
        if not tail:
            return None  # no matched point yet: his first pairs are all in the micro-batch
        before = [p for p in tail if p[0] < first_us]
        if not before:
            raise LookupError(f"rider {rider}: a point older than the {TAIL_S} s kept")
        return before[-1]

    def fold(
        self,
        rider: int,
        anchor: Point | None,
        new_points: Sequence[Point],
        new_crossings: Sequence[tuple[Mark, Crossing]],
    ) -> None:
        """Fold in a rider's new points and the crossings of his pairs from `anchor` on.

        A kept crossing whose pair ended after the anchor came from a pair the new points may have split: it is
        replaced by what the recomputed pairs give (or dropped); the others stand, being earlier."""
        after = float("-inf") if anchor is None else anchor[0] / 1e6  # as `point_pairs` makes t1 of ts
        marks = self.crossings.setdefault(rider, {})
        for mark in [m for m, v in marks.items() if v[2] > after]:
            del marks[mark]
        self.add_crossings(rider, new_crossings)
        tail = sorted({*self.tails.get(rider, []), *new_points})
        newest = tail[-1][0]
        self.tails[rider] = [p for p in tail if p[0] >= newest - TAIL_S * 1_000_000]


@dataclass(frozen=True)
class BatchStage:
    """One stage's share of a micro-batch (`batch_stages`)."""

    stage: int
    stage_date: date
    points: int
    newest_us: int | None


def batch_stages(rows: DataFrame) -> DataFrame:
    """Silver rows of a micro-batch -> per stage: points, newest point time, landing files."""
    return rows.groupBy("stage", "stage_date").agg(
        F.count(F.lit(1)).alias("points"),
        F.unix_micros(F.max("ts")).alias("newest_us"),
        F.collect_set("_source_file").alias("files"),
    )


def matched_points(rows: DataFrame) -> DataFrame:
    """Silver rows -> their matched points as (stage, rider_id, ts_us, distance_m)."""
    return rows.where(F.col("distance_m").isNotNull()).select(
        "stage", "rider_id", F.unix_micros("ts").alias("ts_us"), "distance_m"
    )


def batch_points(rows: DataFrame) -> pa.Table:
    """A micro-batch's silver rows -> their matched points on the driver, as Arrow (often most of a
    micro-batch: a fraction of the time Python rows take), for `LiveStandings.carry`."""
    return matched_points(rows).toArrow()


TAIL_COLUMNS = ("stage", "rider_id", "ts_us", "distance_m", "first_us")
POINT_COLUMNS = ("stage", "rider_id", "ts_us", "distance_m")


def tail_points(rows: DataFrame) -> DataFrame:
    """Silver rows -> each rider's matched points of the `TAIL_S` seconds up to his newest, and the time of his
    oldest matched point (`first_us`): (stage, rider_id, ts_us, distance_m, first_us)."""
    rider = Window.partitionBy("stage", "rider_id")
    return (
        matched_points(rows)
        .select("*", F.max("ts_us").over(rider).alias("_newest"), F.min("ts_us").over(rider).alias("first_us"))
        .where(F.col("ts_us") >= F.col("_newest") - TAIL_S * 1_000_000)
        .select(*TAIL_COLUMNS)
    )


ARROW_TYPES = {"integer": pa.int32(), "long": pa.int64(), "double": pa.float64(), "string": pa.string()}


def _frame(spark: SparkSession, rows: Sequence[tuple[Any, ...]], schema: T.StructType) -> DataFrame:
    """Rows made on the driver as a DataFrame, shipped as one Arrow table (tens of thousands of crossings: a
    fraction of the time Python rows take)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.fields]
    table = pa.table(
        {
            f.name: pa.array(c, type=ARROW_TYPES[f.dataType.typeName()])
            for f, c in zip(schema.fields, columns, strict=True)
        }
    )
    return spark.createDataFrame(table).select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])


def _as_timestamp(df: DataFrame, micros: str, name: str) -> DataFrame:
    """The epoch-microseconds column `micros` as the timestamp column `name`, in its place."""
    return df.select(*[F.timestamp_micros(c).alias(name) if c == micros else F.col(c) for c in df.columns])


def _rider_points(table: pa.Table) -> dict[tuple[int, int], list[Point]]:
    """Matched points (`POINT_COLUMNS`) -> (stage, rider) -> his points, oldest first."""
    columns = table.select(list(POINT_COLUMNS)).to_pydict()
    found: dict[tuple[int, int], list[Point]] = {}
    for stage, rider, us, metres in zip(*(columns[c] for c in POINT_COLUMNS), strict=True):
        found.setdefault((stage, rider), []).append((us, metres))
    for points in found.values():
        points.sort()
    return found


@dataclass(frozen=True)
class Reference:
    """The silver reference tables the standings read."""

    stages: DataFrame
    checkpoints: DataFrame
    start_times: DataFrame
    # The three tables' Delta versions when read (None: unknown): marks and starts are kept while they stay.
    versions: tuple[int | None, ...] | None = None

    def crossings(self, points: DataFrame) -> DataFrame:
        """Every crossing the pairs of `points` (stage, rider_id, ts, distance_m) make, with `pair_end_s`."""
        starts = rider_starts(points, self.stages, self.start_times)
        return crossings(point_pairs(points), marks(self.stages, self.checkpoints), starts, pair_end=True)

    def stage_marks(self, stage_ids: Sequence[int]) -> dict[int, StageMarks]:
        """The marks and start times of `stage_ids` (those in silver.race_stages), in one small query."""
        ids = [int(i) for i in stage_ids]
        none = F.lit(None)
        rows = (
            marks(self.stages, self.checkpoints)
            .where(F.col("stage").isin(ids))
            .select("stage", none.cast("int").alias("rider_id"), "mark_m", "mark_kind", "checkpoint",
                    none.cast("double").alias("start_s"))
            .unionByName(
                self.stages.where(F.col("stage").isin(ids)).select(
                    "stage", none.cast("int").alias("rider_id"), none.cast("double").alias("mark_m"),
                    none.cast("string").alias("mark_kind"), none.cast("string").alias("checkpoint"),
                    epoch_seconds(F.col("start_time")).alias("start_s"),
                )
            )
            .unionByName(
                self.start_times.where(F.col("stage").isin(ids)).select(
                    "stage", "rider_id", none.cast("double").alias("mark_m"), none.cast("string").alias("mark_kind"),
                    none.cast("string").alias("checkpoint"), epoch_seconds(F.col("start_time")).alias("start_s"),
                )
            )
            .collect()
        )  # fmt: skip
        found: dict[int, StageMarks] = {}
        for stage in {int(r["stage"]) for r in rows if r["mark_kind"] is None and r["rider_id"] is None}:
            of_stage = [r for r in rows if r["stage"] == stage]
            found[stage] = StageMarks(
                marks=tuple(sorted(((float(r["mark_m"]), r["mark_kind"], r["checkpoint"]) for r in of_stage
                                    if r["mark_kind"] is not None), key=lambda m: (m[0], m[1], m[2] or ""))),
                start_s=next(r["start_s"] for r in of_stage if r["mark_kind"] is None and r["rider_id"] is None),
                own_start_s={int(r["rider_id"]): r["start_s"] for r in of_stage
                             if r["rider_id"] is not None and r["start_s"] is not None},
            )  # fmt: skip
        return found


class LiveStandings:
    """The standings state of the last few stages a stream touched (see the module docstring)."""

    def __init__(self) -> None:
        self.stages: OrderedDict[int, StageState] = OrderedDict()
        self.rebuilt: list[int] = []  # stages rebuilt from silver, in order (for tests)
        self.marks: dict[int, StageMarks] = {}  # per stage, as of the reference versions below
        self.marks_versions: tuple[int | None, ...] | None = None

    def carry(
        self,
        reference: Reference,
        batch: Sequence[BatchStage],
        points: pa.Table,
        silver_points: Callable[[BatchStage], int],
        stage_points: Callable[[list[date]], DataFrame],
        base: int | None = None,
    ) -> None:
        """Bring the state of the stages in `batch` up to silver plus the micro-batch's rows, which the stream
        appends to silver right after publishing the standings (`appended` then says at which version).

        `points`: the micro-batch's matched points (`batch_points`); `silver_points(stage)`: the points of that
        stage's day in silver now, without the micro-batch's (asked only of a stage with state); `stage_points(dates)`:
        the points of the stages run on `dates`, silver's and the micro-batch's (read only to rebuild one); `base`:
        silver's version now, when the caller knows it from the Delta log. A stage whose state matched `base` needs
        no count: nothing was committed since its last micro-batch (each commit of one stage's consecutive
        micro-batches, the live case); any other commit between two of its micro-batches makes the next one
        count."""
        new = _rider_points(points)
        anchors: dict[tuple[int, int], Point | None] = {}
        rebuild = []
        for b in batch:
            state = self.stages.get(b.stage)
            try:
                if state is None:
                    raise LookupError(f"stage {b.stage}: no state yet")
                follows = base is not None and state.silver_version == base
                if not follows and state.points != silver_points(b):
                    raise LookupError(f"stage {b.stage}: silver changed beside the stream")
                for (stage, rider), points in new.items():
                    if stage == b.stage:
                        anchors[(stage, rider)] = state.anchor(rider, points[0][0])
            except LookupError:
                rebuild.append(b)
        carried = [b for b in batch if b not in rebuild]
        if carried:
            self._carry_forward(self._stage_marks(reference, [b.stage for b in carried]), carried, new, anchors)
        for b in rebuild:
            self._rebuild(reference, b, stage_points([b.stage_date]))
        for b in batch:
            self.stages[b.stage].silver_version = None  # until `appended` says which version holds the rows
            self.stages.move_to_end(b.stage)
        while len(self.stages) > max(KEEP_STAGES, len(batch)):  # the least recently touched go first
            self.stages.popitem(last=False)

    def appended(self, stage_ids: Sequence[int], version: int | None) -> None:
        """The micro-batch carried into `stage_ids` is in silver now, and `version` is the silver version the
        states match (nothing committed beside the stream since `carry`'s `base`), when the Delta log shows it."""
        for stage in stage_ids:
            if stage in self.stages:
                self.stages[stage].silver_version = version

    def _stage_marks(self, reference: Reference, stage_ids: list[int]) -> dict[int, StageMarks]:
        """The marks of `stage_ids`, read again only when a reference table has a new version (or no version is
        known): one small query a micro-batch saved, while a route loaded again mid-stream is still seen."""
        if reference.versions is None or reference.versions != self.marks_versions:
            self.marks, self.marks_versions = {}, reference.versions
        missing = [i for i in stage_ids if i not in self.marks]
        if missing:
            self.marks.update(reference.stage_marks(missing))
        return self.marks

    def _carry_forward(
        self,
        stage_marks: dict[int, StageMarks],
        carried: Sequence[BatchStage],
        new: dict[tuple[int, int], list[Point]],
        anchors: dict[tuple[int, int], Point | None],
    ) -> None:
        # Each rider's pairs from his anchor on: the kept points from it (a late point falls among them) and the
        # new ones. The pairs before the anchor are unchanged.
        for b in carried:
            state = self.stages[b.stage]
            marks_of = stage_marks.get(b.stage, StageMarks((), None, {}))
            for (stage, rider), anchor in anchors.items():
                if stage != b.stage:
                    continue
                kept = [p for p in state.tails.get(rider, []) if anchor is not None and p[0] >= anchor[0]]
                points = sorted([*kept, *new[(stage, rider)]])
                state.fold(rider, anchor, new[(stage, rider)], rider_crossings(points, marks_of, rider))
            if b.newest_us is not None and (state.as_of_us is None or b.newest_us > state.as_of_us):
                state.as_of_us = b.newest_us
            state.points += b.points

    def _rebuild(self, reference: Reference, b: BatchStage, points: DataFrame) -> None:
        day = points.persist()
        try:
            state = StageState(points=day.count(), as_of_us=None)  # what `silver_points` counts: the whole day
            points = day.where(F.col("stage") == b.stage)
            as_of = stage_as_of(points).select(F.unix_micros("as_of_ts")).first()
            state.as_of_us = as_of[0] if as_of else None
            by_rider: dict[int, list[Row]] = {}
            for r in reference.crossings(points).collect():
                by_rider.setdefault(int(r["rider_id"]), []).append(r)
            for rider, rows in by_rider.items():
                state.add_crossings(rider, [row_crossing(r) for r in rows])
            tails = tail_points(points).orderBy("rider_id", "ts_us").toArrow().to_pydict()
            for rider, us, metres in zip(tails["rider_id"], tails["ts_us"], tails["distance_m"], strict=True):
                state.tails.setdefault(rider, []).append((us, metres))
        finally:
            day.unpersist()
        self.stages[b.stage] = state
        self.rebuilt.append(b.stage)

    def standings(self, spark: SparkSession, reference: Reference, stage_ids: Sequence[int]) -> DataFrame:
        """The standings of `stage_ids` (which have state) from their state: small frames made here."""
        cross, latest, as_of = [], [], []
        for stage in stage_ids:
            state = self.stages[stage]
            cross += [(stage, rider, *m, *v) for rider, marks in state.crossings.items() for m, v in marks.items()]
            latest += [(stage, rider, *tail[-1]) for rider, tail in state.tails.items()]
            as_of.append((stage, state.as_of_us))
        return standings_from(
            _as_timestamp(_frame(spark, latest, LATEST_SCHEMA), "last_us", "last_ts"),
            _as_timestamp(_frame(spark, as_of, AS_OF_SCHEMA), "as_of_us", "as_of_ts"),
            _frame(spark, cross, CROSSING_SCHEMA).drop("pair_end_s"),
            reference.stages,
        )
