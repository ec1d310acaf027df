"""The summary webhook against a local HTTP receiver (stdlib http.server on 127.0.0.1, port 0). No Spark."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lakehouse.quality.notify import WEBHOOK_ENV, notify_summary, post_text, webhook_url

SUMMARY = (
    "data quality, run run-7: 10 rules, 9 ok, 1 warn\n"
    "WARN        silver.strava_activities  weekly_activity_count_zscore: observed -5.06, expected within ±1.645"
)


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers with `status`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[dict[str, Any]] = []
        self.status = 200

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/services/T000/B000/secret-token"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            {"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)}
        )
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_receiver_gets_the_summary_as_slack_json(receiver: Receiver) -> None:
    delivered = notify_summary(SUMMARY, environ={WEBHOOK_ENV: receiver.url})

    assert delivered is True
    assert receiver.received == [
        {
            "path": "/services/T000/B000/secret-token",
            "content_type": "application/json",
            "json": {"text": SUMMARY},
        }
    ]


def test_an_explicit_url_wins_over_the_environment(receiver: Receiver) -> None:
    assert webhook_url("http://from-settings", {WEBHOOK_ENV: "http://from-env"}) == "http://from-settings"
    assert webhook_url(None, {WEBHOOK_ENV: "http://from-env"}) == "http://from-env"
    assert notify_summary(SUMMARY, receiver.url, environ={}) is True
    assert len(receiver.received) == 1


def test_no_webhook_configured_sends_nothing() -> None:
    assert notify_summary(SUMMARY, environ={}) is False
    assert webhook_url(None, {WEBHOOK_ENV: ""}) is None


def test_a_failing_receiver_is_logged_never_raised(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="lakehouse.quality.notify"):
        answered_500 = post_text(receiver.url, SUMMARY)
    host, port = receiver.server_address[:2]
    receiver.shutdown()
    receiver.server_close()
    with caplog.at_level(logging.WARNING, logger="lakehouse.quality.notify"):
        unreachable = notify_summary(SUMMARY, receiver.url, timeout=2)

    assert (answered_500, unreachable) == (False, False)
    assert [r.getMessage() for r in caplog.records] == [
        f"quality webhook to {host!s}:{port} answered HTTP 500",
        f"quality webhook to {host!s}:{port} failed: ConnectionError",
    ]
    assert all("secret-token" not in r.getMessage() for r in caplog.records)  # the URL is a secret
