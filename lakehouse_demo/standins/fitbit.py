"""A local stand-in for the Fitbit Web API (intraday), speaking the contract in `API_CONTRACTS.md` section 2.

- `POST /oauth2/token`: HTTP Basic client authentication, refresh_token grant; refresh tokens are single
  use (a reused one gets 400 `invalid_grant`); the answer carries `user_id`.
- `GET /1/user/{-|user_id}/activities/{resource}/date/{yyyy-MM-dd}/1d/{detail}.json` for heart, steps,
  calories, distance, elevation, floors: serves the bodies it is given (date -> resource -> body), or an
  empty day in the same shape.
- 150 requests per hour, reset at the top of the hour on the shared `Clock`, with `Fitbit-Rate-Limit-Limit`,
  `-Remaining` and `-Reset` (seconds to the reset) headers; 429 with an errors body when over.
- 401 `expired_token` / `invalid_token` bodies that, like the real API, echo the token: clients must not
  copy server messages into logs.
- `FitbitFaults` switches: 429 storms, 5xx / slow / malformed answers for a date, tokens that expire
  mid-run, an hourly budget that ends after N calls, and `gone`: 410 for every call (the API since 2026-11-02).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakehouse.sources.clock import Clock, SystemClock, epoch_seconds, next_hour
from lakehouse_demo.standins._server import Reply, Request, StandinServer, json_reply

ALWAYS = -1
HOURLY_LIMIT = 150
ACCESS_TOKEN_TTL_SECONDS = 8 * 3600
OAUTH_DOCS = (
    "Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API "
    "authorization process."
)
HEART_DETAIL_LEVELS = frozenset({"1sec", "1min", "5min", "15min"})
ACTIVITY_DETAIL_LEVELS = frozenset({"1min", "5min", "15min"})
RESOURCES = frozenset({"heart", "steps", "calories", "distance", "elevation", "floors", "swimming-strokes"})
INTRADAY_PATH = re.compile(
    r"^/1/user/(?P<user>[^/]+)/activities/(?P<resource>[a-z-]+)/date/(?P<date>\d{4}-\d{2}-\d{2}|today)"
    r"/1d/(?P<detail>[0-9a-z]+)\.json$"
)
TOO_MANY_REQUESTS = {
    "errors": [{"errorType": "system", "fieldName": "n/a", "message": "Too Many Requests"}],
    "success": False,
}
HEART_ZONES = ("Out of Range", "Fat Burn", "Cardio", "Peak")


def fitbit_error(error_type: str, message: str, field_name: str | None = None) -> dict[str, Any]:
    """A Fitbit error body: `{"errors": [{"errorType": ..., "message": ...}], "success": false}`."""
    error: dict[str, Any] = {"errorType": error_type, "message": message}
    if field_name is not None:
        error["fieldName"] = field_name
    return {"errors": [error], "success": False}


def empty_day(resource: str, day: str, detail: str) -> dict[str, Any]:
    """What Fitbit answers for a day without data: a zero summary and an empty intraday dataset."""
    interval, kind = (1, "second") if detail == "1sec" else (int(detail.removesuffix("min")), "minute")
    intraday = {"dataset": [], "datasetInterval": interval, "datasetType": kind}
    if resource == "heart":
        zones = [{"name": name, "min": 0, "max": 0, "minutes": 0, "caloriesOut": 0} for name in HEART_ZONES]
        summary: Any = {"customHeartRateZones": [], "heartRateZones": zones}
    else:
        summary = "0"
    return {
        f"activities-{resource}": [{"dateTime": day, "value": summary}],
        f"activities-{resource}-intraday": intraday,
    }


@dataclass
class FitbitFaults:
    """Fault switches; date faults count down per answer (`ALWAYS` never runs out). Mutable mid-test."""

    rate_limit_storm_after_calls: int | None = None
    rate_limit_storm_length: int = 0
    server_error_dates: dict[str, int] = field(default_factory=dict)
    server_error_status: int = 500
    slow_dates: dict[str, int] = field(default_factory=dict)
    slow_seconds: float = 0.3
    malformed_dates: dict[str, int] = field(default_factory=dict)
    expire_tokens_after_calls: int | None = None  # access tokens expire after this many API calls (once)
    hourly_budget_ends_after_calls: int | None = (
        None  # the hour's budget is gone after this many calls (once)
    )
    gone: bool = False  # every call answers 410 Gone, as the API does since Google turned it off (2026-11-02)


def _take(counts: dict[str, int], key: str) -> bool:
    left = counts.get(key, 0)
    if left == 0:
        return False
    if left != ALWAYS:
        counts[key] = left - 1
    return True


class FitbitStandin(StandinServer):
    """The stand-in server. Example: `with FitbitStandin({"2024-05-01": {"steps": body}}) as fitbit: ...`."""

    def __init__(
        self,
        days: Mapping[str, Mapping[str, Mapping[str, Any]]],
        *,
        clock: Clock | None = None,
        faults: FitbitFaults | None = None,
        user_id: str = "7QXKBZ",
        client_id: str = "23ABCD",
        client_secret: str = "standin-fitbit-secret",
        refresh_token: str = "standin-fitbit-refresh",
        access_token_ttl: int = ACCESS_TOKEN_TTL_SECONDS,
        hourly_limit: int = HOURLY_LIMIT,
    ) -> None:
        super().__init__()
        self.days = {day: dict(resources) for day, resources in days.items()}
        self.clock = clock or SystemClock()
        self.faults = faults or FitbitFaults()
        self.user_id = user_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.hourly_limit = hourly_limit
        self._refresh_tokens = {refresh_token}
        self._access: dict[str, int] = {}
        self._expired: set[str] = set()
        self._usage: dict[int, int] = defaultdict(int)
        self.issued_tokens: list[str] = [refresh_token]
        self.api_calls = 0
        self.token_refreshes = 0
        self.requests: list[tuple[str, str, int]] = []  # method, path, status

    @property
    def refresh_token(self) -> str:
        """The refresh token that works right now."""
        with self.lock:
            return next(iter(self._refresh_tokens))

    def handle(self, request: Request) -> Reply:
        """Route one request."""
        with self.lock:
            if self.faults.gone:  # body: [guess]; Google documents the 410, not its body
                reply = json_reply(410, fitbit_error("gone", "The Fitbit Web API has been turned off."))
            elif request.method == "POST" and request.path == "/oauth2/token":
                reply = self._token(request)
            elif request.method == "GET":
                reply = self._api(request)
            else:
                reply = json_reply(
                    404, fitbit_error("not_found", "The API you are requesting could not be found.")
                )
            self.requests.append((request.method, request.path, reply.status))
            return reply

    # ---- OAuth --------------------------------------------------------------------------------------------
    def _client_ok(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def _token(self, request: Request) -> Reply:
        if not self._client_ok(request):
            return json_reply(
                401, fitbit_error("invalid_client", f"Invalid authorization header format. {OAUTH_DOCS}")
            )
        form = request.form()
        token = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or token not in self._refresh_tokens:
            return json_reply(
                400, fitbit_error("invalid_grant", f"Refresh token invalid: {token}. {OAUTH_DOCS}")
            )
        access, refresh = self._new_token(), self._new_token()
        self._access[access] = epoch_seconds(self.clock.now()) + self.access_token_ttl
        self._refresh_tokens = {refresh}
        self.token_refreshes += 1
        return json_reply(
            200,
            {
                "access_token": access,
                "expires_in": self.access_token_ttl,
                "refresh_token": refresh,
                "scope": "heartrate activity",
                "token_type": "Bearer",
                "user_id": self.user_id,
            },
        )

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(48)
        self.issued_tokens.append(token)
        return token

    def _auth_error(self, request: Request) -> Reply | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if not header.startswith("Bearer ") or (token not in self._access and token not in self._expired):
            return json_reply(
                401, fitbit_error("invalid_token", f"Access token invalid: {token}. {OAUTH_DOCS}")
            )
        if token in self._expired or self._access[token] <= epoch_seconds(self.clock.now()):
            return json_reply(
                401, fitbit_error("expired_token", f"Access token expired: {token}. {OAUTH_DOCS}")
            )
        return None

    def _expire_all(self) -> None:
        self._expired |= set(self._access)
        self._access.clear()

    # ---- the API ----------------------------------------------------------------------------------------
    def _api(self, request: Request) -> Reply:
        if (error := self._auth_error(request)) is not None:
            return error
        expire_after = self.faults.expire_tokens_after_calls
        if expire_after is not None and self.api_calls >= expire_after:
            self.faults.expire_tokens_after_calls = None
            self._expire_all()
            return self._auth_error(request) or json_reply(401, fitbit_error("expired_token", "expired"))
        self.api_calls += 1
        over, headers = self._count_call()
        if over or self._in_storm():
            return json_reply(429, TOO_MANY_REQUESTS, headers)
        match = INTRADAY_PATH.match(request.path)
        if match is None:
            return json_reply(
                404, fitbit_error("not_found", "The API you are requesting could not be found."), headers
            )
        return self._intraday(match.groupdict(), headers)

    def _count_call(self) -> tuple[bool, dict[str, str]]:
        now = self.clock.now()
        hour = epoch_seconds(now) // 3600
        over = self._usage[hour] >= self.hourly_limit
        self._usage[hour] += 1
        budget_end = self.faults.hourly_budget_ends_after_calls
        if budget_end is not None and self.api_calls >= budget_end:
            self.faults.hourly_budget_ends_after_calls = None
            self._usage[hour] = max(self._usage[hour], self.hourly_limit)
        storm = self._in_storm()
        remaining = 0 if storm else max(self.hourly_limit - self._usage[hour], 0)
        headers = {
            "Fitbit-Rate-Limit-Limit": str(self.hourly_limit),
            "Fitbit-Rate-Limit-Remaining": str(remaining),
            "Fitbit-Rate-Limit-Reset": str(max(int((next_hour(now) - now).total_seconds()), 0)),
        }
        return over, headers

    def _in_storm(self) -> bool:
        start = self.faults.rate_limit_storm_after_calls
        return start is not None and start < self.api_calls <= start + self.faults.rate_limit_storm_length

    def usage_this_hour(self) -> int:
        """Calls counted in the current hour (for tests)."""
        return self._usage[epoch_seconds(self.clock.now()) // 3600]

    def _intraday(self, parts: dict[str, str], headers: dict[str, str]) -> Reply:
        user, resource, day, detail = parts["user"], parts["resource"], parts["date"], parts["detail"]
        if user not in {"-", self.user_id}:
            return json_reply(
                403, fitbit_error("insufficient_permissions", "Access to this user is denied."), headers
            )
        if resource not in RESOURCES:
            return json_reply(
                404, fitbit_error("not_found", "The API you are requesting could not be found."), headers
            )
        levels = HEART_DETAIL_LEVELS if resource == "heart" else ACTIVITY_DETAIL_LEVELS
        if detail not in levels:
            error = fitbit_error("validation", f"Invalid detail-level: {detail}", field_name="detail-level")
            return json_reply(400, error, headers)
        if day == "today":
            day = self.clock.now().date().isoformat()
        delay = self.faults.slow_seconds if _take(self.faults.slow_dates, day) else 0.0
        if _take(self.faults.server_error_dates, day):
            reply = json_reply(
                self.faults.server_error_status, fitbit_error("system", "Internal error"), headers
            )
        else:
            body = self.days.get(day, {}).get(resource) or empty_day(resource, day, detail)
            reply = json_reply(200, body, headers)
            if _take(self.faults.malformed_dates, day):
                reply.body = reply.body[: len(reply.body) // 2]
        reply.delay = delay
        return reply
