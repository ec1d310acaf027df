"""Race questions: the parser's answers on the demo race equal answers computed independently with pandas
on the gold tables; hand-built climb times give the known fastest rider; an OpenAI-compatible endpoint (a
tiny local fake server) is asked only for unknown questions and its SQL must pass the read-only check."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.config import Settings
from lakehouse.dashboard.data import Lake
from lakehouse.dashboard.race_questions import API_KEY_ENV, UnknownQuestionError, answer, parse
from lakehouse.dashboard.sql import ReadOnlyError


def ids(frame: pd.DataFrame, column: str = "rider_id") -> list[int]:
    return sorted(int(v) for v in frame[column])


def test_stage_winners_gc_leaders_top3_and_gaps_match_pandas(demo_lake: Lake) -> None:
    results = demo_lake.df("gold", "race_stage_results")
    gc = demo_lake.df("gold", "race_general_classification")
    riders = demo_lake.df("silver", "race_riders")
    stages = sorted(results["stage"].unique())
    assert stages
    for stage in stages:
        mine = results[results["stage"] == stage]
        assert ids(answer(demo_lake, f"Who won stage {stage}?").frame) == ids(mine[mine["rank"] == 1])
        top3 = answer(demo_lake, f"top 3 of stage {stage}").frame
        assert ids(top3) == ids(mine[mine["rank"] <= 3])
        after = gc[gc["after_stage"] == stage].sort_values("rank")
        assert ids(answer(demo_lake, f"who led the GC after stage {stage}").frame) == ids(after[after["rank"] == 1])
        if len(after) >= 2:
            first, second = after.iloc[0], after.iloc[-1]
            expected = float(second["total_time_s"] - first["total_time_s"])
            by_number = answer(demo_lake, f"gap between rider {first['rider_id']} and rider {second['rider_id']} "
                                          f"after stage {stage}").frame
            assert float(by_number["gap_s"].iloc[0]) == pytest.approx(expected)
            name_a = riders.set_index("rider_id").at[first["rider_id"], "name"]
            name_b = riders.set_index("rider_id").at[second["rider_id"], "name"]
            if (riders["name"] == name_a).sum() == 1 and (riders["name"] == name_b).sum() == 1:
                by_name = answer(demo_lake, f"What is the gap between {name_a.upper()} and {name_b} after stage "
                                            f"{stage}?").frame
                assert float(by_name["gap_s"].iloc[0]) == pytest.approx(expected)
    absent = max(stages) + 1
    assert answer(demo_lake, f"who won stage {absent}").frame.empty


@pytest.fixture
def hand_built_race(tmp_path: Path, base_settings: Settings) -> Lake:
    """Climb times of stage 15 written by hand (deltalake, no Spark): the last climb is the Alpe."""
    settings = base_settings.with_roots(str(tmp_path / "landing"), str(tmp_path / "tables"))
    root = Path(settings.tables_root)
    climbs = pd.DataFrame({
        "stage": [15] * 6,
        "rider_id": [1, 2, 3, 1, 2, 3],
        "climb": ["Col A"] * 3 + ["Alpe"] * 3,
        "top_m": [50_000.0] * 3 + [150_000.0] * 3,
        "climb_time_s": [900.0, 880.0, 910.0, 2400.0, 2450.0, 2390.0],  # rider 2 fastest on Col A, 3 on Alpe
        "vam_m_per_h": [1500.0, 1530.0, 1480.0, 1650.0, 1620.0, 1660.0],
    })
    write_deltalake(str(root / "gold" / "race_climb_times"), pa.Table.from_pandas(climbs, preserve_index=False))
    results = pd.DataFrame({"stage": [15, 15, 15], "rider_id": [1, 2, 3], "rank": [2, 3, 1],
                            "stage_time": ["5:00:10", "5:01:00", "5:00:00"],
                            "stage_time_s": [18010.0, 18060.0, 18000.0],
                            "gap_s": [10.0, 60.0, 0.0]})
    write_deltalake(str(root / "gold" / "race_stage_results"), pa.Table.from_pandas(results, preserve_index=False))
    riders = pd.DataFrame({"rider_id": [1, 2, 3], "name": ["Ann Ay", "Bo Bee", "Cy Sea"], "team": ["T1", "T2", "T1"]})
    write_deltalake(str(root / "silver" / "race_riders"), pa.Table.from_pandas(riders, preserve_index=False))
    return Lake(settings)


def test_fastest_up_the_last_climb_on_hand_built_times(hand_built_race: Lake) -> None:
    got = answer(hand_built_race, "Who was fastest up the last climb of stage 15?").frame
    assert got[["rider_id", "name", "climb", "climb_time_s"]].to_dict("records") == [
        {"rider_id": 3, "name": "Cy Sea", "climb": "Alpe", "climb_time_s": 2390.0}]
    assert ids(answer(hand_built_race, "who won stage 15").frame) == [3]


def test_an_unknown_question_without_an_endpoint_lists_the_known_shapes() -> None:
    with pytest.raises(UnknownQuestionError, match="who won stage 9"):
        parse("how windy was it?")


class FakeChat(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions that replies with the SQL it was given."""

    reply = ""
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeChat.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": FakeChat.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(API_KEY_ENV, "test-key-123")
    FakeChat.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_the_endpoint_answers_unknown_questions_with_checked_sql(hand_built_race: Lake, fake_llm: str) -> None:
    FakeChat.reply = ("Here you go:\n```sql\nSELECT team, count(*) AS riders FROM race_riders GROUP BY team "
                      "ORDER BY team\n```")
    got = answer(hand_built_race, "how many riders per team?", fake_llm, "tiny-model")
    assert got.source == "llm"
    assert got.frame.to_dict("records") == [{"team": "T1", "riders": 2}, {"team": "T2", "riders": 1}]
    sent = FakeChat.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer test-key-123"
    assert sent["body"]["model"] == "tiny-model"
    assert "race_climb_times(" in sent["body"]["messages"][0]["content"]  # the schema went with the question
    # A question the parser knows never reaches the endpoint.
    count = len(FakeChat.requests)
    assert answer(hand_built_race, "who won stage 15", fake_llm, "tiny-model").source == "parser"
    assert len(FakeChat.requests) == count


def test_a_write_from_the_endpoint_is_refused(hand_built_race: Lake, fake_llm: str) -> None:
    FakeChat.reply = "```sql\nDROP TABLE race_riders\n```"
    with pytest.raises(ReadOnlyError, match="read-only"):
        answer(hand_built_race, "please tidy up", fake_llm, "tiny-model")
    assert len(hand_built_race.df("silver", "race_riders")) == 3
