"""The API clients against hostile or broken servers: each case crashed, looped, slept unbounded, lost data or
leaked a secret before its fix. Pure Python, no Spark, nothing sleeps (a `ManualClock`); runs without the
conftest: `pytest -p no:cacheprovider --noconftest -n 0 tests/ingest/test_hostile_api_clients.py`.
"""

from __future__ import annotations

import base64
import json
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from ingest_support import START_OF_TESTS, TEST_HTTP, read_landed

from lakehouse.landing import LandingZone
from lakehouse.sources.clock import ManualClock
from lakehouse.sources.credentials import Secret, TokenFile
from lakehouse.sources.errors import (
    ApiRequestError,
    CredentialsError,
    MalformedResponseError,
    RateLimitedError,
    ReauthorizationRequiredError,
    StateFileError,
    UnauthorizedError,
)
from lakehouse.sources.google_health import (
    DATA_TYPES,
    GoogleHealthSettings,
    google_error_summary,
    point_month,
    sync_google_health,
)
from lakehouse.sources.http import ApiClient, CallLedger, build_session
from lakehouse.sources.oauth import OAuthClient, TokenManager
from lakehouse.sources.ratelimit import FitbitRateLimiter, PerMinuteRateLimiter, StravaRateLimiter
from lakehouse.sources.strava import StravaSettings, open_strava_client, strava_error_summary, sync_strava
from lakehouse.sources.sync import SyncReport, load_state
from lakehouse.storage import LocalStore
from lakehouse_demo.standins._server import Reply, Request, StandinServer, json_reply

CLIENT_SECRET, REFRESH = "SECRET-client-5e4d3c", "SECRET-refresh-2b1a09"


class Scripted(StandinServer):
    """A server whose every answer comes from `answer(request)`; it keeps the requests it saw."""

    def __init__(self, answer: Callable[[Request], Reply]) -> None:
        super().__init__()
        self.answer = answer
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Reply:
        self.requests.append(request)
        return self.answer(request)


class BoundedClock(ManualClock):
    """A manual clock that fails the test instead of sleeping for hours or sleeping forever."""

    def __init__(self, start: datetime, *, longest_sleep: float = 2 * 3600, most_sleeps: int = 50) -> None:
        super().__init__(start)
        self.longest_sleep, self.most_sleeps, self.sleeps = longest_sleep, most_sleeps, 0

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        assert seconds <= self.longest_sleep, f"asked to sleep {seconds} s"
        assert self.sleeps <= self.most_sleeps, "kept sleeping: an endless wait loop"
        super().sleep(seconds)


def texts_of(exc: BaseException) -> str:
    """Everything an exception can show: its text, repr and traceback."""
    return f"{exc}\n{exc!r}\n{''.join(traceback.format_exception(exc))}"


def token_manager(token_url: str, tmp_path: Path, clock: ManualClock) -> TokenManager:
    """A Strava-style token manager (form credentials) with a bootstrap refresh token and no token file yet."""
    oauth = OAuthClient(
        source="strava", token_url=token_url, token_endpoint="/oauth/token", client_id="4242",
        client_secret=Secret(CLIENT_SECRET), basic_auth=False, refresh_token_env="STRAVA_REFRESH_TOKEN",
        client_env_prefix="STRAVA_",
    )  # fmt: skip
    return TokenManager(
        oauth, TokenFile(tmp_path / "config" / "token.json"), Secret(REFRESH),
        session=build_session(TEST_HTTP), ledger=CallLedger("strava", "run-1", clock), clock=clock, http=TEST_HTTP,
    )  # fmt: skip


@pytest.fixture
def clock() -> BoundedClock:
    return BoundedClock(START_OF_TESTS)


# ---- OAuth token endpoint --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_token_endpoint_redirecting_elsewhere_gets_no_secret_forwarded(
    status: int, tmp_path: Path, clock: ManualClock
) -> None:
    with Scripted(lambda request: json_reply(200, {"access_token": "stolen"})) as elsewhere:
        redirect = Reply(status, b"", {"Location": f"{elsewhere.base_url}/collect"})
        with Scripted(lambda request: redirect) as token_server:
            manager = token_manager(f"{token_server.base_url}/oauth/token", tmp_path, clock)
            with pytest.raises(ApiRequestError, match=f"answered {status} \\(a redirect: not followed") as caught:
                manager.access_token()
    assert elsewhere.requests == []
    assert caught.value.status == status
    assert CLIENT_SECRET not in texts_of(caught.value) and REFRESH not in texts_of(caught.value)


def refresh_against(body: bytes, tmp_path: Path, clock: ManualClock) -> tuple[TokenManager, Secret]:
    """A token manager whose token endpoint answers 200 with `body`, and the access token it then hands out."""
    answer = Reply(200, body, {"Content-Type": "application/json"})
    with Scripted(lambda request: answer) as token_server:
        manager = token_manager(f"{token_server.base_url}/oauth/token", tmp_path, clock)
        return manager, manager.access_token()


NOW = int(START_OF_TESTS.timestamp())


@pytest.mark.parametrize(
    ("body", "expires_at"),
    [
        (b'{"access_token":"tok-1","refresh_token":"rt-2","expires_in":"soon"}', NOW),  # was: ValueError
        (b'{"access_token":"tok-1","refresh_token":"rt-2","expires_at":null,"expires_in":3600}', NOW + 3600),
        (b'{"access_token":"tok-1","refresh_token":"rt-2","expires_at":"later"}', NOW),  # was: ValueError
        (b'{"access_token":"tok-1","refresh_token":"rt-2","expires_in":1e309}', NOW),  # inf; was: OverflowError
        (b'{"access_token":"tok-1","refresh_token":"rt-2","expires_in":"21600"}', NOW + 21600),
    ],
)
def test_an_unreadable_expiry_means_refresh_before_the_next_call_and_the_rotation_is_kept(
    body: bytes, expires_at: int, tmp_path: Path, clock: ManualClock
) -> None:
    manager, access = refresh_against(body, tmp_path, clock)
    assert access.reveal() == "tok-1"
    assert manager.tokens.expires_at == expires_at
    stored = TokenFile(tmp_path / "config" / "token.json").load()
    assert stored is not None and stored.refresh_token.reveal() == "rt-2"


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token":null,"refresh_token":"rt-2","expires_in":21600}',  # was: the token "None"
        b'{"access_token":"","refresh_token":"rt-2","expires_in":21600}',  # was: "Bearer " on every call
        b'{"access_token":{"value":"x"},"refresh_token":"rt-2","expires_in":21600}',  # was: "{'value': 'x'}"
    ],
)
def test_a_token_answer_without_a_usable_access_token_stops_and_keeps_the_rotated_refresh_token(
    body: bytes, tmp_path: Path, clock: ManualClock
) -> None:
    with pytest.raises(MalformedResponseError, match="strava token answer has no access_token"):
        refresh_against(body, tmp_path, clock)
    stored = TokenFile(tmp_path / "config" / "token.json").load()
    assert stored is not None and stored.refresh_token.reveal() == "rt-2" and stored.access_token is None


# ---- the token file ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is not a valid token file"),
        ("not json {", "is not a valid token file"),
        ('["refresh_token"]', "is not a valid token file"),
        ('{"refresh_token": null}', "refresh_token is not a non-empty string"),  # was: the refresh token "None"
        ('{"refresh_token": 12345}', "refresh_token is not a non-empty string"),  # was: "12345"
        ('{"refresh_token": ""}', "refresh_token is not a non-empty string"),
    ],
)
def test_an_unusable_token_file_says_which_file_and_why(text: str, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(CredentialsError, match=reason) as caught:
        TokenFile(path).load()
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "access", "expires_at"),
    [
        ('"access_token": "tok", "expires_at": "soon"', "tok", None),  # was: ValueError
        ('"access_token": "tok", "expires_at": {"at": 1}', "tok", None),  # was: TypeError
        ('"access_token": "tok", "expires_at": 1e400', "tok", None),  # inf; was: OverflowError
        ('"access_token": ["tok"], "expires_at": 1741079250', None, 1741079250),  # was: a Secret holding a list
    ],
)
def test_a_token_file_field_of_the_wrong_type_is_dropped_so_the_next_call_refreshes(
    fields: str, access: str | None, expires_at: int | None, tmp_path: Path
) -> None:
    path = tmp_path / "token.json"
    path.write_text(f'{{"refresh_token": "rt-1", {fields}}}', encoding="utf-8")
    path.chmod(0o600)
    tokens = TokenFile(path).load()
    assert tokens is not None and tokens.refresh_token.reveal() == "rt-1"
    assert (tokens.access_token.reveal() if tokens.access_token else None, tokens.expires_at) == (access, expires_at)


# ---- rate-limit headers ------------------------------------------------------------------------------------------


def test_a_negative_strava_limit_is_ignored_not_waited_on_forever(clock: BoundedClock) -> None:
    limiter = StravaRateLimiter(clock)
    limiter.observe({"X-Ratelimit-Limit": "-1,-1", "X-Ratelimit-Usage": "5,-3"})
    limiter.before_request()  # was: sleeping to the next window, again and again (the room was always < 0)
    assert (limiter.short_limit, limiter.daily_limit, limiter.short_used, limiter.daily_used) == (100, 1000, 5, 1)
    assert clock.slept_seconds == 0


def test_a_strava_limit_below_the_reserve_stops_instead_of_waiting_forever(clock: BoundedClock) -> None:
    limiter = StravaRateLimiter(clock, short_reserve=10)
    limiter.observe({"X-Ratelimit-Limit": "5,1000", "X-Ratelimit-Usage": "5,10"})
    with pytest.raises(RateLimitedError, match=r"limit \(5\) leaves no calls above the reserve \(10\)") as caught:
        limiter.before_request()
    assert caught.value.resume_at == datetime(2025, 3, 4, 9, 15, 2, tzinfo=UTC)  # 09:07:30 -> next quarter + 2 s


@pytest.mark.parametrize("reset", ["1000000000", "1" + "0" * 30])  # was: a 31-year sleep; an OverflowError
def test_a_fitbit_reset_beyond_an_hour_waits_at_most_the_hour(reset: str, clock: BoundedClock) -> None:
    limiter = FitbitRateLimiter(clock)
    headers = {"Fitbit-Rate-Limit-Limit": "150", "Fitbit-Rate-Limit-Remaining": "0", "Fitbit-Rate-Limit-Reset": reset}
    limiter.observe(headers)
    limiter.before_request()
    assert clock.slept_seconds == 3600 + 2


@pytest.mark.parametrize(
    ("retry_after", "slept"),
    [
        ("-5", 32.0),  # was: no wait at all (a window that ended 5 s ago); now the next minute, 09:08:00 + 2 s
        ("Tue, 04 Mar 2025 09:10:00 GMT", 152.0),  # an HTTP-date; was: ignored (the next minute)
        ("Tue, 04 Mar 2025 09:00:00 GMT", 0.0),  # passed already: go on now
        ("soon", 32.0),
        ("30", 32.0),
    ],
)
def test_retry_after_as_seconds_or_http_date(retry_after: str, slept: float, clock: BoundedClock) -> None:
    limiter = PerMinuteRateLimiter(clock)
    limiter.after_rate_limited({"Retry-After": retry_after})
    limiter.before_request()
    assert clock.slept_seconds == slept


@pytest.mark.parametrize("retry_after", ["1000000000", "1" + "0" * 23])  # was: a 31-year sleep; an OverflowError
def test_a_huge_retry_after_stops_the_run_with_a_resume_time_within_a_day(
    retry_after: str, clock: BoundedClock
) -> None:
    limiter = PerMinuteRateLimiter(clock)
    with pytest.raises(RateLimitedError, match=f"asked to wait {retry_after} s") as caught:
        limiter.after_rate_limited({"Retry-After": retry_after})
        limiter.before_request()
    assert caught.value.resume_at == datetime(2025, 3, 5, 9, 7, 30, tzinfo=UTC)
    assert clock.slept_seconds == 0


# ---- API answers -------------------------------------------------------------------------------------------------

ISSUED = "ya29.tok/SECRET+8d7c6b="  # the access token the scripted token endpoint hands out (URL-encodes)


def api_server(api: Callable[[Request], Reply]) -> Scripted:
    """A server with a token endpoint (issuing `ISSUED`) and the API answers of `api`."""

    def answer(request: Request) -> Reply:
        if request.path == "/oauth/token":
            return json_reply(200, {"access_token": ISSUED, "refresh_token": "rt-2", "expires_in": 21600})
        return api(request)

    return Scripted(answer)


def strava_client(server: Scripted, tmp_path: Path, clock: ManualClock) -> ApiClient:
    settings = StravaSettings(
        client_id="4242", client_secret=Secret(CLIENT_SECRET), refresh_token=Secret(REFRESH),
        token_file=tmp_path / "config" / "strava-token.json", base_url=server.base_url, http=TEST_HTTP,
    )  # fmt: skip
    client, _, _ = open_strava_client(settings, ledger=CallLedger("strava", "run-1", clock), clock=clock)
    return client


def echo(status: int, text: str) -> Reply:
    """An error answer whose Fault (and Google error) echoes `text`."""
    fault = {"message": f"bad {text}", "errors": [{"resource": text, "field": "x", "code": "y"}], "error": text}
    return json_reply(status, fault)


@pytest.mark.parametrize(
    ("status", "error", "echoed"),
    [
        (403, ApiRequestError, ISSUED),
        (401, UnauthorizedError, ISSUED),
        (403, ApiRequestError, CLIENT_SECRET),
        (403, ApiRequestError, quote_plus(ISSUED)),
        (404, ApiRequestError, base64.b64encode(ISSUED.encode()).decode()),
    ],
)
@pytest.mark.parametrize("summary", [strava_error_summary, google_error_summary])
def test_a_secret_echoed_in_an_error_body_never_reaches_the_exception_text(
    status: int, error: type[Exception], echoed: str, summary: Any, tmp_path: Path, clock: ManualClock
) -> None:
    with api_server(lambda request: echo(status, echoed)) as server:
        client = strava_client(server, tmp_path, clock)
        client.error_summary = summary
        with pytest.raises(error, match=f"answered {status}|stayed unauthorised") as caught:
            client.get_json("/api/v3/athlete/activities")
    assert echoed not in texts_of(caught.value)
    assert "***" in str(caught.value)


def test_json_nested_too_deep_is_a_malformed_answer_not_a_crash(tmp_path: Path, clock: ManualClock) -> None:
    deep = Reply(200, b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"})
    with api_server(lambda request: deep) as server:
        client = strava_client(server, tmp_path, clock)
        with pytest.raises(MalformedResponseError, match=r"not valid JSON .* 2 times"):  # was: RecursionError
            client.get_json("/api/v3/athlete/activities")
    assert len([r for r in server.requests if r.path != "/oauth/token"]) == 2  # asked again once


# ---- Google Health pages -----------------------------------------------------------------------------------------

STEPS_PATH = "/v4/users/me/dataTypes/steps/dataPoints"
BREAKER_CALLS = 60  # the scripted API answers 500 after this many list calls: the old code's endless loops end


def steps_point(minute: int) -> dict[str, Any]:
    start = f"2025-03-02T10:{minute:02d}:00Z"
    return {"steps": {"interval": {"startTime": start, "endTime": start.replace(":00Z", ":59Z")}, "count": "7"}}


def google_sync(
    page: Callable[[int, str | None], Reply], tmp_path: Path, clock: ManualClock
) -> tuple[SyncReport, Scripted]:
    """A steps-only Google Health sync; `page(n, pageToken)` answers the n-th list call (n from 1)."""

    def answer(request: Request) -> Reply:
        if request.path == "/token":
            return json_reply(200, {"access_token": ISSUED, "expires_in": 3600})
        calls = sum(1 for seen in server.requests if seen.path == STEPS_PATH)
        if calls > BREAKER_CALLS:
            return json_reply(500, {"error": {"status": "INTERNAL"}})
        return page(calls, request.query.get("pageToken"))

    server = Scripted(answer)
    with server:
        settings = GoogleHealthSettings(
            client_id="777.apps", client_secret=Secret(CLIENT_SECRET), refresh_token=Secret(REFRESH),
            token_file=tmp_path / "config" / "google.json", base_url=server.base_url,
            token_url=f"{server.base_url}/token", data_types=("steps",), start_date=date(2025, 3, 1), http=TEST_HTTP,
        )  # fmt: skip
        landing = LandingZone(LocalStore(str(tmp_path / "landing")))
        report = sync_google_health(settings, landing, clock=clock, progress=None, today=date(2025, 3, 3))
    return report, server


def list_calls(server: Scripted) -> int:
    return sum(1 for request in server.requests if request.path == STEPS_PATH)


@pytest.mark.parametrize(
    ("next_token", "calls", "reason"),
    [
        (lambda n: "t1", 2, "nextPageToken already followed"),  # the same token again and again
        (lambda n: "ab"[n % 2], 3, "nextPageToken already followed"),  # a, b, a, ...
        (lambda n: 7, 1, "nextPageToken is not a string"),
        (lambda n: f"t{n}", 26, "25 pages in a row without a new data point"),  # the same page, a new token
    ],
)
def test_a_google_page_token_loop_stops_instead_of_paging_forever(
    next_token: Callable[[int], Any], calls: int, reason: str, tmp_path: Path, clock: ManualClock
) -> None:
    same_page = [steps_point(1), steps_point(2)]
    report, server = google_sync(
        lambda n, token: json_reply(200, {"dataPoints": same_page, "nextPageToken": next_token(n)}), tmp_path, clock
    )
    assert report.stopped_reason == "malformed_response"  # was: paging until the breaker's 500s
    assert reason in report.message
    assert list_calls(server) == calls
    assert report.landed == {"steps": 2}  # the page's points, once


def test_an_empty_google_page_in_the_middle_is_followed(tmp_path: Path, clock: ManualClock) -> None:
    pages = {None: ([steps_point(1)], "p2"), "p2": ([], "p3"), "p3": ([steps_point(3)], None)}

    def page(n: int, token: str | None) -> Reply:
        points, following = pages[token]
        return json_reply(200, {"dataPoints": points, **({"nextPageToken": following} if following else {})})

    report, server = google_sync(page, tmp_path, clock)
    assert (report.stopped_reason, report.landed, list_calls(server)) == ("completed", {"steps": 2}, 3)


def test_a_google_server_refusing_its_own_page_token_stops_instead_of_restarting_forever(
    tmp_path: Path, clock: ManualClock
) -> None:
    def page(n: int, token: str | None) -> Reply:
        if token:
            return json_reply(400, {"error": {"status": "INVALID_ARGUMENT"}})
        return json_reply(200, {"dataPoints": [steps_point(1)], "nextPageToken": "t1"})

    report, server = google_sync(page, tmp_path, clock)
    assert report.stopped_reason == "api_error"  # was: page 1, 400, page 1, 400, ... until the breaker
    assert "answered 400 (INVALID_ARGUMENT)" in report.message
    assert list_calls(server) == 2
    assert report.landed == {"steps": 1}


@pytest.mark.parametrize(
    ("name", "point", "month"),
    [
        ("steps", steps_point(1), "2025-03"),
        ("heart-rate", {"heartRate": {"sampleTime": {"physicalTime": "2025-03-02T10:00:00.123456789Z"}}}, "2025-03"),
        ("heart-rate", {"heartRate": {"sampleTime": {"civilTime": {"date": {"year": 2025, "month": 3}}}}}, "2025-03"),
        ("daily-resting-heart-rate", {"dailyRestingHeartRate": {"date": {"year": "2025", "month": 3}}}, "2025-03"),
        ("heart-rate", {"heartRate": {"sampleTime": {"physicalTime": "not-a-time!"}}}, None),  # was: crash landing
        ("heart-rate", {"heartRate": {"sampleTime": {"physicalTime": "2025-13-01T00:00:00Z"}}}, None),  # was: 2025-13
        ("heart-rate", {"heartRate": {"sampleTime": "2025-03-02T10:00:00Z"}}, None),  # was: AttributeError
        ("daily-resting-heart-rate", {"dailyRestingHeartRate": {"date": {"year": "MMXXV", "month": 3}}}, None),
        ("daily-resting-heart-rate", {"dailyRestingHeartRate": {"date": {"year": 2025, "month": 13}}}, None),
        ("daily-resting-heart-rate", {"dailyRestingHeartRate": {"date": {"year": 2025, "month": [3]}}}, None),
    ],
)
def test_a_google_point_month_or_a_malformed_point(name: str, point: dict[str, Any], month: str | None) -> None:
    if month is not None:
        assert point_month(DATA_TYPES[name], point) == month
    else:
        with pytest.raises(MalformedResponseError, match=f"a {name} data point has no time"):
            point_month(DATA_TYPES[name], point)


def test_a_google_point_with_an_unreadable_time_is_skipped_and_the_rest_land(
    tmp_path: Path, clock: ManualClock
) -> None:
    bad = {"steps": {"interval": {"startTime": "yesterday-ish", "endTime": "today"}, "count": "7"}}
    report, _ = google_sync(
        lambda n, token: json_reply(200, {"dataPoints": [steps_point(1), bad, steps_point(2)]}), tmp_path, clock
    )
    assert (report.stopped_reason, report.landed, report.invalid_skipped) == ("completed", {"steps": 2}, 1)


# ---- Strava list, details and streams ----------------------------------------------------------------------------

LIST_PATH = "/api/v3/athlete/activities"


def activity(activity_id: Any, start: str = "2025-03-01T10:00:00Z") -> dict[str, Any]:
    return {"id": activity_id, "start_date": start, "name": f"Run {activity_id}"}


def strava_sync(
    page: Callable[[int], Any],
    tmp_path: Path,
    clock: ManualClock,
    extras: Callable[[Request], Any] | None = None,
    **overrides: Any,
) -> tuple[SyncReport, LandingZone, Scripted]:
    """A Strava sync whose list page n answers `page(n)` (bytes as they are, else JSON) and whose detail and
    streams calls answer `extras(request)`."""

    def answer(request: Request) -> Reply:
        if request.path == "/oauth/token":
            return json_reply(200, {"access_token": ISSUED, "refresh_token": "rt-2", "expires_in": 21600})
        body = page(int(request.query["page"])) if request.path == LIST_PATH else extras(request)  # type: ignore[misc]
        return Reply(200, body if isinstance(body, bytes) else json.dumps(body).encode(), {"Content-Type": "json"})

    with Scripted(answer) as server:
        settings = StravaSettings(
            client_id="4242", client_secret=Secret(CLIENT_SECRET), refresh_token=Secret(REFRESH),
            token_file=tmp_path / "config" / "strava-token.json", base_url=server.base_url, http=TEST_HTTP,
        )  # fmt: skip
        landing = LandingZone(LocalStore(str(tmp_path / "landing")))
        report = sync_strava(replace(settings, **overrides), landing, clock=clock, progress=None)
    return report, landing, server


def test_a_detail_or_streams_answer_of_the_wrong_shape_is_skipped_not_a_stop_on_every_run(
    tmp_path: Path, clock: ManualClock
) -> None:
    def extras(request: Request) -> Any:
        activity_id = int(request.path.split("/")[4])
        if request.path.endswith("/streams"):
            return "no streams" if activity_id == 1 else {"time": {"data": [0, 1]}}
        return [1, 2] if activity_id == 2 else {"id": activity_id, "calories": 300.0}

    pages = {1: [activity(2, "2025-03-01T11:00:00Z"), activity(1)], 2: []}
    report, landing, _ = strava_sync(pages.__getitem__, tmp_path, clock, extras, fetch_details=True, fetch_streams=True)
    # was: stopped (malformed_response) at activity 2's detail, and again on every later run
    assert report.stopped_reason == "completed"
    assert report.landed == {"activities": 2, "activity_details": 1, "activity_streams": 1}
    assert report.invalid_skipped == 2
    assert [r["id"] for r in read_landed(landing, "strava", "activity_details")] == [1]
    assert [r["activity_id"] for r in read_landed(landing, "strava", "activity_streams")] == [2]
    assert load_state(landing.store, "strava")["pending_extras"] == []


def test_an_activity_after_the_window_does_not_become_the_watermark(tmp_path: Path, clock: ManualClock) -> None:
    pages = {1: [activity(9, "9999-12-31T00:00:00Z"), activity(1)], 2: []}  # a server that ignores `before`
    report, landing, _ = strava_sync(pages.__getitem__, tmp_path, clock)
    assert (report.stopped_reason, report.landed) == ("completed", {"activities": 2})
    # was: 9999-12-31T00:00:00Z, and every later pass asked for activities after 9999-12-24
    assert load_state(landing.store, "strava")["watermark"] == "2025-03-01T10:00:00Z"


def test_an_id_that_is_not_a_whole_number_is_skipped_not_taken_for_another(tmp_path: Path, clock: ManualClock) -> None:
    pages = {1: [activity(14), activity(14.7), activity(True), activity("15"), activity(16.0), activity("1e3")], 2: []}
    report, landing, _ = strava_sync(pages.__getitem__, tmp_path, clock)
    # was: 14.7 taken for 14 (dropped as a duplicate of it) and true for activity 1, "1e3" skipped
    assert (report.stopped_reason, report.duplicates_skipped, report.invalid_skipped) == ("completed", 0, 3)
    assert [r["id"] for r in read_landed(landing, "strava", "activities")] == [14, "15", 16.0]


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])  # year 0, year 10000
def test_an_activity_whose_start_is_outside_the_calendar_in_utc_is_skipped(
    start: str, tmp_path: Path, clock: ManualClock
) -> None:
    pages = {1: [activity(2), activity(1, start)], 2: []}
    report, _, _ = strava_sync(pages.__getitem__, tmp_path, clock)  # was: OverflowError
    assert (report.stopped_reason, report.landed, report.invalid_skipped) == ("completed", {"activities": 1}, 1)


@pytest.mark.parametrize(
    ("page_one", "reason"),
    [
        ({"id": 1}, "page 1 is not a JSON array"),
        (None, "page 1 is not a JSON array"),
        (b'[{"id": 1, ', "not valid JSON (11 bytes), 2 times"),
    ],
)
def test_a_strava_list_page_of_the_wrong_shape_stops_saying_what_was_wrong(
    page_one: Any, reason: str, tmp_path: Path, clock: ManualClock
) -> None:
    report, _, _ = strava_sync(lambda n: page_one if n == 1 else [], tmp_path, clock)
    assert report.stopped_reason == "malformed_response"
    assert reason in report.message


def test_a_list_page_of_only_unreadable_entries_is_skipped_and_the_pages_after_it_land(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Such a page stopped the run ("held no activity with a usable id and start_date"), and every later run at the
    same place: nothing after it ever landed and the pass never completed. A full page and the last, short one."""
    pages = {
        1: [activity("x1", "2025-03-01T12:00:00Z"), {"id": 8, "name": "no start_date"}, [1]],
        2: [activity(3, "2025-03-01T11:00:00Z"), activity(2, "2025-03-01T10:00:00Z"), activity(1)],
        3: [{"id": 0, "start_date": 5}],
        4: [],
    }
    report, landing, server = strava_sync(pages.__getitem__, tmp_path, clock, per_page=3)
    assert (report.stopped_reason, report.landed, report.invalid_skipped) == ("completed", {"activities": 3}, 4)
    assert [r["id"] for r in read_landed(landing, "strava", "activities")] == [3, 2, 1]
    assert sum(1 for request in server.requests if request.path == LIST_PATH) == 4  # up to the empty page
    # the newest activity landed, not the unreadable entry's 12:00: the next pass lists that hour again
    assert load_state(landing.store, "strava")["watermark"] == "2025-03-01T11:00:00Z"
    assert report.message.endswith("; 4 unreadable list entries or answers skipped (see the log)")


def test_pages_of_unreadable_entries_without_end_stop_after_25(tmp_path: Path, clock: ManualClock) -> None:
    report, _, server = strava_sync(lambda n: [{"id": n}], tmp_path, clock)  # was: a stop at page 1
    assert report.stopped_reason == "malformed_response"
    assert "25 pages in a row without a readable activity; stopped so the sync cannot loop" in report.message
    assert sum(1 for request in server.requests if request.path == LIST_PATH) == 25
    assert report.invalid_skipped == 25


def newest_first(entries: list[tuple[str, Any]], query: dict[str, str]) -> list[Any]:
    """A list page as Strava pages: `entries` are (start, the entry as sent), newest first; `before` and `after`
    strict, `page` of `per_page`."""
    before, after = int(query["before"]), int(query["after"])
    shown = [entry for start, entry in entries if after < int(datetime.fromisoformat(start).timestamp()) < before]
    size = int(query["per_page"])
    return shown[(int(query["page"]) - 1) * size : int(query["page"]) * size]


def test_a_pass_resumed_above_unreadable_entries_goes_on_and_loses_no_activity(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A resumed pass's page 1 starts with the activity at its cursor (landed by the run before): with only
    unreadable entries after it, the page was "held only activities already seen", a stop on every run."""
    entries = [
        ("2025-03-01T12:00:00+00:00", activity(5, "2025-03-01T12:00:00Z")),
        ("2025-03-01T11:00:00+00:00", activity(4, "2025-03-01T11:00:00Z")),
        ("2025-03-01T10:30:00+00:00", activity("j1", "2025-03-01T10:30:00Z")),
        ("2025-03-01T10:20:00+00:00", {"id": 9, "name": "no start_date"}),
        ("2025-03-01T10:00:00+00:00", activity(3, "2025-03-01T10:00:00Z")),
    ]
    broken_pages = {2}  # the first run: page 2 is no list, so it stops after landing page 1

    def api(request: Request) -> Reply:
        if int(request.query["page"]) in broken_pages:
            return json_reply(200, {"message": "not a list"})
        return json_reply(200, newest_first(entries, request.query))

    landing = LandingZone(LocalStore(str(tmp_path / "landing")))
    with api_server(api) as server:
        settings = StravaSettings(
            client_id="4242", client_secret=Secret(CLIENT_SECRET), refresh_token=Secret(REFRESH),
            token_file=tmp_path / "config" / "strava-token.json", base_url=server.base_url, http=TEST_HTTP,
            per_page=2,
        )  # fmt: skip
        first = sync_strava(settings, landing, clock=clock, progress=None)
        broken_pages.clear()
        second = sync_strava(settings, landing, clock=clock, progress=None, force=True)

    assert (first.stopped_reason, first.landed) == ("malformed_response", {"activities": 2})
    # its page 1: activity 4 (at the cursor) and "j1"; page 2: no start_date, activity 3; page 3: empty
    assert (second.stopped_reason, second.landed, second.invalid_skipped) == ("completed", {"activities": 1}, 2)
    assert sorted(r["id"] for r in read_landed(landing, "strava", "activities")) == [3, 4, 5]  # each once
    assert load_state(landing.store, "strava")["watermark"] == "2025-03-01T12:00:00Z"


def test_the_same_strava_page_again_and_again_stops(tmp_path: Path, clock: ManualClock) -> None:
    report, _, server = strava_sync(lambda n: [activity(2), activity(1)], tmp_path, clock)
    assert (report.stopped_reason, report.landed, report.duplicates_skipped) == (
        "malformed_response",
        {"activities": 2},
        2,
    )
    assert "page 2 held only activities already seen" in report.message
    assert sum(1 for request in server.requests if request.path == LIST_PATH) == 2


# ---- the state file ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "JSONDecodeError"),
        (b'{"pass": ', "JSONDecodeError"),
        (b"\x80abc", "UnicodeDecodeError"),
        (b"[]", "not a JSON object"),
    ],
)
def test_an_unreadable_state_file_is_named_in_a_clear_error(content: bytes, reason: str, tmp_path: Path) -> None:
    landing = LandingZone(LocalStore(str(tmp_path / "landing")))
    landing.store.write_bytes("_state/strava.json", content)
    with pytest.raises(StateFileError, match=f"the sync state _state/strava.json .* is unreadable .*{reason}"):
        load_state(landing.store, "strava")  # was: a bare JSONDecodeError, or AttributeError on `[]` later


def test_an_api_redirect_to_another_host_carries_no_bearer_token(tmp_path: Path, clock: ManualClock) -> None:
    """Already so (requests drops Authorization on a host change); kept so that it stays so."""
    with Scripted(lambda request: json_reply(200, [])) as elsewhere:
        moved = Reply(302, b"", {"Location": f"{elsewhere.base_url}/collect"})
        with api_server(lambda request: moved) as server:
            assert strava_client(server, tmp_path, clock).get_json(LIST_PATH) == []
    assert [request.headers.get("authorization") for request in elsewhere.requests] == [None]


def test_a_token_refusal_nested_too_deep_still_says_to_reauthorise(tmp_path: Path, clock: ManualClock) -> None:
    deep = Reply(400, b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"})
    with Scripted(lambda request: deep) as token_server:
        manager = token_manager(f"{token_server.base_url}/oauth/token", tmp_path, clock)
        with pytest.raises(ReauthorizationRequiredError, match="refused the refresh token"):  # was: RecursionError
            manager.access_token()
