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

The state is rebuilt from silver (what `stream.standings_for` computes) whenever it cannot be carried forward
exactly: on a stage's first micro-batch after a (re)start, when a rider's new point is older than every point
kept for him, or when silver holds a different number of the day's points than the state plus the micro-batch
(a batch run inserted points meanwhile). Either way the standings equal a recompute from silver (tests check
both paths). At most `KEEP_STAGES` stages are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.race.gold.crossings import crossings, marks, point_pairs, rider_starts
from lakehouse.race.gold.live_standings import stage_as_of, standings_from

KEEP_STAGES = 3
TAIL_S = 900  # seconds of each rider's newest matched points kept: how late a point can be and still be carried
# Times cross the driver as epoch microseconds: a naive local datetime is ambiguous in a DST fall-back hour.
POINT_SCHEMA = T.StructType(
    [
        T.StructField("stage", T.IntegerType()),
        T.StructField("rider_id", T.IntegerType()),
        T.StructField("ts_us", T.LongType()),
        T.StructField("distance_m", T.DoubleType()),
    ]
)
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


@dataclass
class StageState:
    """What one stage's standings are computed from, as of `points` silver points (of the stage's day)."""

    points: int
    as_of_us: int | None
    # rider -> his matched points of the last `TAIL_S` seconds up to his newest, oldest first
    tails: dict[int, list[Point]] = field(default_factory=dict)
    # rider -> mark -> (crossed_s, elapsed_s, pair_end_s): his first crossing, and the end of the pair that made it
    crossings: dict[int, dict[Mark, tuple[float, float, float]]] = field(default_factory=dict)

    def add_crossings(self, rider: int, rows: Sequence[Row]) -> None:
        """Keep the earliest crossing of each mark."""
        marks = self.crossings.setdefault(rider, {})
        for r in rows:
            mark = (float(r["mark_m"]), r["mark_kind"], r["checkpoint"])
            known = marks.get(mark)
            if known is None or r["crossed_s"] < known[0]:
                marks[mark] = (r["crossed_s"], r["elapsed_s"], r["pair_end_s"])

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

    def fold(self, rider: int, anchor: Point | None, new_points: Sequence[Point], new_crossings: Sequence[Row]) -> None:
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


TAIL_COLUMNS = ("stage", "rider_id", "ts_us", "distance_m", "first_us")


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


@dataclass(frozen=True)
class Reference:
    """The silver reference tables the standings read."""

    stages: DataFrame
    checkpoints: DataFrame
    start_times: DataFrame

    def crossings(self, points: DataFrame) -> DataFrame:
        """Every crossing the pairs of `points` (stage, rider_id, ts, distance_m) make, with `pair_end_s`."""
        starts = rider_starts(points, self.stages, self.start_times)
        return crossings(point_pairs(points), marks(self.stages, self.checkpoints), starts, pair_end=True)


class LiveStandings:
    """The standings state of the last few stages a stream touched (see the module docstring)."""

    def __init__(self) -> None:
        self.stages: OrderedDict[int, StageState] = OrderedDict()
        self.rebuilt: list[int] = []  # stages rebuilt from silver, in order (for tests)

    def carry(
        self,
        spark: SparkSession,
        reference: Reference,
        batch: Sequence[BatchStage],
        rows: DataFrame,
        silver_points: Callable[[BatchStage], int],
        stage_points: Callable[[list[date]], DataFrame],
    ) -> None:
        """Bring the state of the stages in `batch` up to silver, which holds the micro-batch's rows now.

        `rows`: the micro-batch's silver rows; `silver_points(stage)`: the points of that stage's day in silver
        now (asked only of a stage with state); `stage_points(dates)`: the silver points of the stages run on
        `dates` (read only to rebuild one)."""
        by_rider: dict[tuple[int, int], list[Point]] = {}  # the newest of each rider's new points
        first_us: dict[tuple[int, int], int] = {}  # and the time of his oldest
        tails = tail_points(rows).toArrow().to_pydict()  # often most of a micro-batch: as Arrow, not as Rows
        for stage, rider, us, metres, first in zip(*(tails[c] for c in TAIL_COLUMNS), strict=True):
            by_rider.setdefault((stage, rider), []).append((us, metres))
            first_us[(stage, rider)] = first
        anchors: dict[tuple[int, int], Point | None] = {}
        rebuild = []
        for b in batch:
            state = self.stages.get(b.stage)
            try:
                if state is None or state.points + b.points != silver_points(b):
                    raise LookupError(f"stage {b.stage}: no state, or silver changed beside the stream")
                for (stage, rider), first in first_us.items():
                    if stage == b.stage:
                        anchors[(stage, rider)] = state.anchor(rider, first)
            except LookupError:
                rebuild.append(b)
        carried = [b for b in batch if b not in rebuild]
        if carried:
            self._carry_forward(spark, reference, carried, rows, by_rider, anchors)
        for b in rebuild:
            self._rebuild(reference, b, stage_points([b.stage_date]))
        for b in batch:
            self.stages.move_to_end(b.stage)
        while len(self.stages) > max(KEEP_STAGES, len(batch)):  # the least recently touched go first
            self.stages.popitem(last=False)

    def _carry_forward(
        self,
        spark: SparkSession,
        reference: Reference,
        carried: Sequence[BatchStage],
        rows: DataFrame,
        by_rider: dict[tuple[int, int], list[Point]],
        anchors: dict[tuple[int, int], Point | None],
    ) -> None:
        # Each rider's pairs from his anchor on: the kept points from it (a late point falls among them) and the
        # new ones. The pairs before the anchor are unchanged.
        ids = [b.stage for b in carried]
        kept = [
            (stage, rider, us, d)
            for (stage, rider), anchor in anchors.items()
            if stage in ids and anchor is not None
            for us, d in self.stages[stage].tails[rider]
            if us >= anchor[0]
        ]
        new = rows.where(F.col("stage").isin(ids)).select("stage", "rider_id", "ts", "distance_m")
        points = _as_timestamp(_frame(spark, kept, POINT_SCHEMA), "ts_us", "ts").unionByName(new)
        made: dict[tuple[int, int], list[Row]] = {}
        for r in reference.crossings(points).collect():
            made.setdefault((int(r["stage"]), int(r["rider_id"])), []).append(r)
        for b in carried:
            state = self.stages[b.stage]
            for (stage, rider), anchor in anchors.items():
                if stage == b.stage:
                    state.fold(rider, anchor, by_rider[(stage, rider)], made.get((stage, rider), []))
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
                state.add_crossings(rider, rows)
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
