"""The briefing's sentences on literal tables whose numbers are worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from lakehouse.dashboard.briefing import weekly_briefing

AS_OF = date(2024, 3, 13)  # a Wednesday; its week starts on Monday 11 March


def workouts() -> pd.DataFrame:
    this_week = [("w1", date(2024, 3, 11), 5000.0), ("w2", date(2024, 3, 12), 5000.0),
                 ("w3", date(2024, 3, 13), 10000.0)]
    # One 4 km workout on the Tuesday of each of the 8 weeks before: the usual is 1 workout and 4 km a week.
    before = [(f"b{i}", date(2024, 3, 12) - timedelta(weeks=i), 4000.0) for i in range(1, 9)]
    older = [("old", date(2023, 1, 3), 42000.0)]  # outside the 8 weeks: not in the usual
    rows = this_week + before + older
    return pd.DataFrame(rows, columns=["workout_id", "workout_date", "distance_m"])


def test_a_big_week_in_the_danger_zone() -> None:
    streaks = pd.DataFrame({"athlete_id": [1, 1], "sport": ["run", "walk"], "longest_streak_days": [12, 4],
                            "latest_streak_days": [3, 1], "last_active_day": [date(2024, 3, 13), date(2024, 2, 1)]})
    load = pd.DataFrame({"date": [date(2024, 3, 12), date(2024, 3, 13), date(2024, 3, 14)],
                         "ctl": [40.0, 41.0, 41.5], "atl": [60.0, 70.0, 75.0], "tsb": [-20.0, -29.0, -33.5],
                         "acwr": [1.4, 1.6, 1.7], "acwr_zone": ["caution", "danger", "danger"]})
    flags = pd.DataFrame({
        "workout_id": ["w3", "w3", "w3", "w2", "b1"],
        "workout_date": [date(2024, 3, 13)] * 3 + [date(2024, 3, 12), date(2024, 3, 5)],
        "metric": ["distance_m"] * 3 + ["duration_s", "distance_m"],
        "method": ["iqr", "zscore", "modified_zscore", "iqr", "iqr"],
        "is_anomaly": [True, True, False, True, True],
    })
    sentences = weekly_briefing(AS_OF, workouts(), streaks, load, flags)
    by_topic = {s.topic: s for s in sentences}
    assert [s.topic for s in sentences] == ["this week", "streak", "load", "anomalies", "recommendation"]
    week = by_topic["this week"]
    assert "3 workouts and 20.0 km: more than usual" in week.text
    assert "averaged 1.0 workouts and 4.0 km" in week.text
    assert week.numbers["this_week"].sum() == 1 and len(week.numbers) == 9
    assert "run streak is alive: 3 days in a row (longest ever: 12 days of run)" in by_topic["streak"].text
    assert "ACWR 1.60 (danger)" in by_topic["load"].text and "13 Mar" in by_topic["load"].text
    assert "form (TSB) -29.0" in by_topic["load"].text
    # w3's distance is flagged by two methods (counted); w2 by one (not); b1 is last week's.
    assert by_topic["anomalies"].text.startswith("1 unusual value(s) this week: distance m of workout w3")
    assert "rest" in by_topic["recommendation"].text
    assert by_topic["recommendation"].numbers["acwr_zone"].tolist() == ["danger"]


def test_a_quiet_week_and_an_ended_streak() -> None:
    quiet = workouts()[lambda f: ~f["workout_id"].isin(["w1", "w2", "w3"])]
    streaks = pd.DataFrame({"sport": ["run"], "longest_streak_days": [5], "latest_streak_days": [2],
                            "last_active_day": [date(2024, 3, 5)]})
    load = pd.DataFrame({"date": [date(2024, 3, 13)], "ctl": [30.0], "atl": [20.0], "tsb": [10.0], "acwr": [0.6],
                         "acwr_zone": ["low"]})
    sentences = {s.topic: s for s in weekly_briefing(AS_OF, quiet, streaks, load, None)}
    assert "0 workouts and 0.0 km: less than usual" in sentences["this week"].text
    assert "ended 8 days ago on 05 Mar 2024" in sentences["streak"].text
    assert "add an easy session" in sentences["recommendation"].text
