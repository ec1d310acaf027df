"""The intelligence briefing: a few sentences about the week, each with the numbers behind it.

`weekly_briefing` is pure pandas: it takes the tables (already filtered to one person) and an as-of date,
and returns `Sentence`s: this week against the usual (the mean of the `USUAL_WEEKS` weeks before), the
streak status, the load zone (ACWR and TSB), anomalies flagged this week, and one recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

USUAL_WEEKS = 8
ANOMALY_MIN_METHODS = 2  # a workout is "unusual" when at least this many methods flag the same metric


@dataclass(frozen=True)
class Sentence:
    """One sentence of the briefing and the rows that back it."""

    topic: str
    text: str
    numbers: pd.DataFrame


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def this_week_vs_usual(workouts: pd.DataFrame, as_of: date) -> Sentence:
    """Workouts and distance this week (Monday to `as_of`) against the mean of the weeks before."""
    days = pd.to_datetime(workouts["workout_date"]).dt.date
    start = _week_start(as_of)
    weeks = workouts.assign(week_start=days.map(_week_start))
    per_week = weeks.groupby("week_start").agg(workouts=("workout_id", "count"), distance_km=("distance_m", "sum"))
    per_week["distance_km"] = per_week["distance_km"].fillna(0) / 1000
    spine = [start - timedelta(weeks=i) for i in range(USUAL_WEEKS, -1, -1)]
    per_week = per_week.reindex(spine, fill_value=0).rename_axis("week_start").reset_index()
    current = per_week.iloc[-1]
    usual = per_week.iloc[:-1][["workouts", "distance_km"]].mean()
    current_n, usual_n = int(current["workouts"]), float(usual["workouts"])
    if usual_n == 0:
        verdict = "more than usual" if current_n else "as quiet as the weeks before"
    elif current_n >= 1.2 * usual_n:
        verdict = "more than usual"
    elif current_n <= 0.8 * usual_n:
        verdict = "less than usual"
    else:
        verdict = "about as usual"
    text = (f"This week (from {start:%a %d %b}) you logged {current_n} workouts and {current['distance_km']:.1f} km: "
            f"{verdict} (the previous {USUAL_WEEKS} weeks averaged {usual_n:.1f} workouts and "
            f"{usual['distance_km']:.1f} km).")
    return Sentence("this week", text, per_week.assign(this_week=per_week["week_start"] == start))


def streak_status(streaks: pd.DataFrame, as_of: date) -> Sentence:
    """The latest streak of active days (any sport): alive (ended today or yesterday) or over."""
    if streaks.empty:
        return Sentence("streak", "No streaks yet.", streaks)
    latest = streaks.sort_values(["last_active_day", "latest_streak_days"]).iloc[-1]
    last = pd.Timestamp(latest["last_active_day"]).date()
    gap = (as_of - last).days
    longest = streaks.sort_values("longest_streak_days").iloc[-1]
    if gap <= 1:
        days = int(latest["latest_streak_days"])
        text = (f"Your {latest['sport']} streak is alive: {days} day{'s' if days != 1 else ''} in a row "
                f"(longest ever: {int(longest['longest_streak_days'])} days of {longest['sport']}).")
    else:
        text = (f"Your last streak ({int(latest['latest_streak_days'])} days of {latest['sport']}) ended "
                f"{gap} days ago on {last:%d %b %Y}: one workout today starts a new one.")
    return Sentence("streak", text, streaks)


def load_zone(load: pd.DataFrame, as_of: date) -> Sentence:
    """The acute:chronic workload ratio and form (TSB) of the latest day up to `as_of`."""
    upto = load[pd.to_datetime(load["date"]).dt.date <= as_of].sort_values("date")
    if upto.empty:
        return Sentence("load", "No training load yet (it needs workouts with heart rate).", upto)
    day = upto.iloc[-1]
    zone = day["acwr_zone"] or "unknown"
    acwr = "-" if pd.isna(day["acwr"]) else f"{day['acwr']:.2f}"
    text = (f"Load zone on {pd.Timestamp(day['date']):%d %b}: ACWR {acwr} ({str(zone).replace('_', ' ')}), "
            f"fitness (CTL) {day['ctl']:.1f}, fatigue (ATL) {day['atl']:.1f}, form (TSB) {day['tsb']:+.1f}.")
    return Sentence("load", text, upto.tail(7))


def anomalies_this_week(flags: pd.DataFrame, as_of: date) -> Sentence:
    """Workouts of this week flagged by at least `ANOMALY_MIN_METHODS` methods on the same metric."""
    start = _week_start(as_of)
    days = pd.to_datetime(flags["workout_date"]).dt.date
    week = flags[(days >= start) & (days <= as_of) & flags["is_anomaly"].astype(bool)]
    agreed = week.groupby(["workout_id", "metric"]).filter(lambda g: g["method"].nunique() >= ANOMALY_MIN_METHODS)
    if agreed.empty:
        return Sentence("anomalies", "Nothing unusual this week: no workout stood out on pace, distance, duration "
                        "or heart rate.", week)
    pairs = agreed[["workout_id", "metric"]].drop_duplicates()
    described = ", ".join(f"{m.replace('_', ' ')} of workout {w}" for w, m in pairs.head(3).itertuples(index=False))
    return Sentence("anomalies", f"{len(pairs)} unusual value(s) this week: {described}.", agreed)


def recommendation(load: pd.DataFrame, week: Sentence, as_of: date) -> Sentence:
    """One suggestion from the load zone and this week's volume."""
    upto = load[pd.to_datetime(load["date"]).dt.date <= as_of].sort_values("date") if len(load) else load
    zone = upto.iloc[-1]["acwr_zone"] if len(upto) else None
    tsb = float(upto.iloc[-1]["tsb"]) if len(upto) else 0.0
    if zone == "danger" or tsb < -30:
        text = "Recommendation: take an easy day or rest; load has climbed faster than fitness (injury risk)."
    elif zone == "caution":
        text = "Recommendation: hold the volume this week; the ratio is in the caution band."
    elif zone == "low" or "less than usual" in week.text:
        text = "Recommendation: add an easy session; you are below your usual load, so there is room to build."
    else:
        text = "Recommendation: keep going as you are; load is in the sweet spot."
    numbers = upto.tail(1) if len(upto) else pd.DataFrame({"acwr_zone": [zone], "tsb": [tsb]})
    return Sentence("recommendation", text, numbers)


def weekly_briefing(
    as_of: date,
    workouts: pd.DataFrame,
    streaks: pd.DataFrame | None = None,
    load: pd.DataFrame | None = None,
    flags: pd.DataFrame | None = None,
) -> list[Sentence]:
    """The briefing as of `as_of` from one person's tables (any of the optional ones may be missing)."""
    week = this_week_vs_usual(workouts, as_of)
    out = [week]
    if streaks is not None:
        out.append(streak_status(streaks, as_of))
    if load is not None:
        out.append(load_zone(load, as_of))
    if flags is not None:
        out.append(anomalies_this_week(flags, as_of))
    out.append(recommendation(load if load is not None else pd.DataFrame(), week, as_of))
    return out
