"""A local stand-in for the Strava API v3, speaking the contract in `API_CONTRACTS.md` section 1.

- `POST /oauth/token` (refresh_token grant, form fields): rotates the refresh token; the old one then gets
  400 with a Fault body. Access tokens live 6 hours (`access_token_ttl`).
- `GET /api/v3/athlete/activities` (before, after, page, per_page: default 30, clamped to 200), newest
  first, `[]` past the end; `GET /api/v3/activities/{id}` (DetailedActivity); `GET
  /api/v3/activities/{id}/streams` (StreamSet keyed by type; like the real one, no rate-limit headers).
- Bearer auth: 401 `Authorization Error` Fault for a missing, unknown or expired token.
- Rate limits with real windows (15 minutes at :00/:15/:30/:45 UTC, a day at midnight UTC) on the shared
  `Clock`, `X-Ratelimit-*` and `X-Readratelimit-*` headers, and 429 `Rate Limit Exceeded` when over.
- `StravaFaults` switches: 429 storms, 5xx / slow / malformed answers on page N, tokens revoked mid-run, a
  page boundary that repeats an activity, a daily budget that ends after N calls.
- `StravaStandin.from_recording(path)` serves the list pages of a VCR cassette as recorded, headers too.

Decisions on the contract's open points: above 200 `per_page` is clamped; the list is newest first whatever
the filters; `before`/`after` are strict; a 429 has no `Retry-After`; the 404 body is a `Record Not Found`
Fault.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lakehouse.sources.clock import Clock, SystemClock, epoch_seconds, parse_iso_utc, quarter_hour_index
from lakehouse_demo.standins._server import JSON_CONTENT_TYPE, Reply, Request, StandinServer, json_reply

ALWAYS = -1  # a fault count that never runs out
ACCESS_TOKEN_TTL_SECONDS = 6 * 3600
REUSE_ACCESS_TOKEN_SECONDS = 3600  # a refresh returns the live token while it has more than an hour left
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 200
STREAM_POINTS_MAX = 60
STREAM_TYPES = (
    "time", "distance", "latlng", "altitude", "velocity_smooth", "heartrate",
    "cadence", "watts", "temp", "moving", "grade_smooth",
)  # fmt: skip
HOP_BY_HOP_HEADERS = frozenset({"transfer-encoding", "connection", "content-length", "content-encoding"})

AUTHORIZATION_ERROR = {
    "message": "Authorization Error",
    "errors": [{"resource": "Application", "field": "", "code": "invalid"}],
}
RATE_LIMIT_EXCEEDED = {
    "message": "Rate Limit Exceeded",
    "errors": [{"resource": "Application", "field": "rate limit", "code": "exceeded"}],
}
INVALID_CLIENT = {
    "message": "Bad Request",
    "errors": [{"resource": "Application", "field": "client_id", "code": "invalid"}],
}
INVALID_REFRESH_TOKEN = {
    "message": "Bad Request",
    "errors": [{"resource": "RefreshToken", "field": "refresh_token", "code": "invalid"}],
}
SERVER_ERROR = {"message": "Internal Server Error", "errors": []}


def fault(message: str, resource: str, field_name: str, code: str) -> dict[str, Any]:
    """A Strava Fault body."""
    return {"message": message, "errors": [{"resource": resource, "field": field_name, "code": code}]}


@dataclass(frozen=True)
class StravaLimits:
    """Overall and read (non-upload) limits: per 15 minutes, per day. Defaults are Strava's 2025 ones."""

    short: int = 200
    daily: int = 2000
    read_short: int = 100
    read_daily: int = 1000


@dataclass
class StravaFaults:
    """Fault switches; page faults count down per answer (`ALWAYS` never runs out). Mutable mid-test."""

    rate_limit_storm_after_calls: int | None = None  # after this many API calls ...
    rate_limit_storm_length: int = 0  # ... this many answers are 429
    server_error_pages: dict[int, int] = field(default_factory=dict)  # list page -> answers that are 5xx
    server_error_status: int = 500
    slow_pages: dict[int, int] = field(default_factory=dict)  # list page -> answers delayed `slow_seconds`
    slow_seconds: float = 0.3
    malformed_pages: dict[int, int] = field(default_factory=dict)  # list page -> answers cut in half
    duplicate_after_page: int | None = None  # the last activity of this page comes again atop the next one
    expire_tokens_after_calls: int | None = None  # access tokens die after this many API calls (once)
    daily_budget_ends_after_calls: int | None = None  # the day's budget is gone after this many calls (once)


@dataclass(frozen=True)
class RecordedReply:
    """One recorded answer of a cassette."""

    status: int
    headers: dict[str, str]
    body: bytes


def _take(counts: dict[int, int], key: int) -> bool:
    """Use up one occurrence of a page fault."""
    left = counts.get(key, 0)
    if left == 0:
        return False
    if left != ALWAYS:
        counts[key] = left - 1
    return True


def load_recorded_pages(path: Path | str) -> dict[int, RecordedReply]:
    """The `GET /athlete/activities?page=N` answers of a VCR cassette, by page number."""
    import yaml  # PyYAML, a test dependency: only replay mode needs it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    cassette = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)
    pages: dict[int, RecordedReply] = {}
    for interaction in cassette["http_interactions"]:
        url = urlsplit(interaction["request"]["uri"])
        if interaction["request"]["method"].lower() != "get" or not url.path.endswith("/athlete/activities"):
            continue
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        response = interaction["response"]
        headers = {
            name: ", ".join(values) if isinstance(values, list) else str(values)
            for name, values in response["headers"].items()
            if name.lower() not in HOP_BY_HOP_HEADERS
        }
        body = response["body"]["string"].encode("utf-8")
        pages[page] = RecordedReply(int(response["status"]["code"]), headers, body)
    return pages


def activities_of_recording(pages: Mapping[int, RecordedReply]) -> list[dict[str, Any]]:
    """Every activity in the recorded pages, in page order."""
    return [activity for page in sorted(pages) for activity in json.loads(pages[page].body)]


def detail_of(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A DetailedActivity built from a summary: resource_state 3, polyline, one lap, splits per km."""
    detail = copy.deepcopy(dict(summary))
    distance = float(summary.get("distance") or 0.0)
    moving = int(summary.get("moving_time") or 0)
    kilometres = max(int(distance // 1000), 0)
    per_km = moving / max(distance / 1000, 1e-9) if distance else 0.0
    detail_map = dict(summary.get("map") or {})
    detail_map.update(polyline=detail_map.get("summary_polyline"), resource_state=3)
    detail.update(
        resource_state=3,
        description=None,
        calories=round(distance / 1000 * 62.0, 1),
        device_name="Stand-in Watch",
        embed_token=secrets.token_hex(20),
        map=detail_map,
        segment_efforts=[],
        best_efforts=[],
        splits_metric=[
            {
                "distance": 1000.0,
                "elapsed_time": round(per_km),
                "elevation_difference": 0.0,
                "moving_time": round(per_km),
                "split": index + 1,
                "average_speed": round(1000 / per_km, 3) if per_km else 0.0,
                "pace_zone": 0,
            }
            for index in range(kilometres)
        ],
        laps=[
            {
                "id": int(summary["id"]) * 10 + 1,
                "name": "Lap 1",
                "activity": {"id": summary["id"], "resource_state": 1},
                "athlete": summary.get("athlete"),
                "elapsed_time": summary.get("elapsed_time"),
                "moving_time": moving,
                "start_date": summary.get("start_date"),
                "start_date_local": summary.get("start_date_local"),
                "distance": distance,
                "average_speed": summary.get("average_speed"),
                "max_speed": summary.get("max_speed"),
                "lap_index": 1,
                "split": 1,
                "total_elevation_gain": summary.get("total_elevation_gain"),
                "resource_state": 2,
            }
        ],
    )
    return detail


def _series(count: int, start: float, end: float, digits: int = 1) -> list[float]:
    step = (end - start) / max(count - 1, 1)
    return [round(start + step * index, digits) for index in range(count)]


def streams_of(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A StreamSet for a summary: the streams its fields say it would have (no GPS -> no latlng, ...)."""
    elapsed = int(summary.get("elapsed_time") or 0)
    count = max(min(elapsed // 10, STREAM_POINTS_MAX), 2)
    data: dict[str, list[Any]] = {
        "time": [round(v) for v in _series(count, 0, elapsed, 0)],
        "distance": _series(count, 0.0, float(summary.get("distance") or 0.0)),
        "moving": [True] * count,
        "velocity_smooth": [float(summary.get("average_speed") or 0.0)] * count,
        "grade_smooth": [0.0] * count,
    }
    start, end = summary.get("start_latlng") or [], summary.get("end_latlng") or []
    if len(start) == 2:
        end = end if len(end) == 2 else start
        lats, lngs = _series(count, start[0], end[0], 6), _series(count, start[1], end[1], 6)
        data["latlng"] = [[lat, lng] for lat, lng in zip(lats, lngs, strict=True)]
    if summary.get("elev_low") is not None and summary.get("elev_high") is not None:
        data["altitude"] = _series(count, float(summary["elev_low"]), float(summary["elev_high"]))
    if summary.get("has_heartrate") and summary.get("average_heartrate") is not None:
        data["heartrate"] = [round(float(summary["average_heartrate"]))] * count
    if summary.get("average_cadence") is not None:
        data["cadence"] = [round(float(summary["average_cadence"]))] * count
    if summary.get("average_watts") is not None:
        data["watts"] = [round(float(summary["average_watts"]))] * count
    if summary.get("average_temp") is not None:
        data["temp"] = [int(summary["average_temp"])] * count
    return {
        name: {"data": values, "series_type": "distance", "original_size": count, "resolution": "high"}
        for name, values in data.items()
    }


class StravaStandin(StandinServer):
    """The stand-in server. Example:

    `with StravaStandin(activities, clock=clock) as strava: sync(base_url=strava.base_url, ...)`
    """

    def __init__(
        self,
        activities: Iterable[Mapping[str, Any]],
        *,
        clock: Clock | None = None,
        faults: StravaFaults | None = None,
        limits: StravaLimits | None = None,
        client_id: str = "12345",
        client_secret: str = "standin-client-secret",
        refresh_token: str = "standin-refresh-token",
        access_token_ttl: int = ACCESS_TOKEN_TTL_SECONDS,
        details: Mapping[int, Mapping[str, Any]] | None = None,
        streams: Mapping[int, Mapping[str, Any]] | None = None,
        streams_rate_headers: bool = False,
        recorded_pages: Mapping[int, RecordedReply] | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.faults = faults or StravaFaults()
        self.limits = limits or StravaLimits()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.streams_rate_headers = streams_rate_headers
        self.recorded_pages = dict(recorded_pages) if recorded_pages is not None else None
        self.activities: list[dict[str, Any]] = []
        self._by_id: dict[int, dict[str, Any]] = {}
        self.add_activities(activities)
        self._details = {int(k): dict(v) for k, v in (details or {}).items()}
        self._streams = {int(k): dict(v) for k, v in (streams or {}).items()}
        self._refresh_tokens = {refresh_token}
        self._access: dict[str, int] = {}  # token -> expires_at (epoch)
        self._usage: dict[tuple[str, int | str], int] = defaultdict(int)
        self.issued_tokens: list[str] = [refresh_token]
        self.api_calls = 0
        self.token_refreshes = 0
        self.requests: list[tuple[str, str, dict[str, str], int]] = []  # method, path, query, status

    @classmethod
    def from_recording(cls, path: Path | str, **kwargs: Any) -> StravaStandin:
        """Serve a cassette's recorded list pages as recorded (headers included), whatever the filters."""
        pages = load_recorded_pages(path)
        return cls(activities_of_recording(pages), recorded_pages=pages, **kwargs)

    def add_activities(self, activities: Iterable[Mapping[str, Any]]) -> None:
        """New uploads (kept newest first); an activity with a known id replaces the old version."""
        with self.lock:
            merged = {**self._by_id, **{int(a["id"]): dict(a) for a in activities}}
            self.activities = sorted(
                merged.values(),
                key=lambda a: (epoch_seconds(parse_iso_utc(a["start_date"])), int(a["id"])),
                reverse=True,
            )
            self._by_id = {int(a["id"]): a for a in self.activities}

    @property
    def refresh_token(self) -> str:
        """The refresh token that works right now."""
        with self.lock:
            return next(iter(self._refresh_tokens))

    # ---- dispatch ---------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        """Route one request."""
        with self.lock:
            reply = self._route(request)
            self.requests.append((request.method, request.path, dict(request.query), reply.status))
            return reply

    def _route(self, request: Request) -> Reply:
        path = request.path.rstrip("/")
        if request.method == "POST" and path in {"/oauth/token", "/api/v3/oauth/token"}:
            return self._token(request)
        if request.method != "GET" or not path.startswith("/api/v3/"):
            return json_reply(404, fault("Record Not Found", "resource", "path", "invalid"))
        return self._api(request, path.removeprefix("/api/v3"))

    # ---- OAuth --------------------------------------------------------------------------------------------
    def _token(self, request: Request) -> Reply:
        form = request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return json_reply(400, INVALID_CLIENT)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self._refresh_tokens:
            return json_reply(400, INVALID_REFRESH_TOKEN)
        now = epoch_seconds(self.clock.now())
        live = [(t, exp) for t, exp in self._access.items() if exp - now > REUSE_ACCESS_TOKEN_SECONDS]
        access, expires_at = live[0] if live else (self._new_token(), now + self.access_token_ttl)
        self._access[access] = expires_at
        refresh = self._new_token()
        self._refresh_tokens = {refresh}
        self.token_refreshes += 1
        return json_reply(
            200,
            {
                "token_type": "Bearer",
                "access_token": access,
                "expires_at": expires_at,
                "expires_in": expires_at - now,
                "refresh_token": refresh,
            },
        )

    def _new_token(self) -> str:
        token = secrets.token_hex(20)
        self.issued_tokens.append(token)
        return token

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        expires_at = self._access.get(token)
        return expires_at is not None and expires_at > epoch_seconds(self.clock.now())

    # ---- the API ----------------------------------------------------------------------------------------
    def _api(self, request: Request, path: str) -> Reply:
        if not self._authorised(request):
            return json_reply(401, AUTHORIZATION_ERROR)
        revoke_after = self.faults.expire_tokens_after_calls
        if revoke_after is not None and self.api_calls >= revoke_after:
            self.faults.expire_tokens_after_calls = None
            self._access.clear()
            return json_reply(401, AUTHORIZATION_ERROR)
        self.api_calls += 1
        over = self._count_call()
        headers = self._rate_headers(storm=self._in_storm())
        if (over or self._in_storm()) and self.recorded_pages is None:
            return json_reply(429, RATE_LIMIT_EXCEEDED, headers)
        parts = path.strip("/").split("/")
        if parts == ["athlete", "activities"]:
            return self._list(request, headers)
        if len(parts) == 2 and parts[0] == "activities":
            return self._detail(parts[1], headers)
        if len(parts) == 3 and parts[0] == "activities" and parts[2] == "streams":
            return self._streams_reply(parts[1], request, headers)
        return json_reply(404, fault("Record Not Found", "resource", "path", "invalid"), headers)

    def _windows(self) -> tuple[int, str]:
        now = self.clock.now().astimezone(UTC)
        return quarter_hour_index(now), now.date().isoformat()

    def _count_call(self) -> bool:
        """Count a GET against the overall and read limits; True when it was already over either."""
        quarter, day = self._windows()
        over = (
            self._usage["all_15", quarter] >= self.limits.short
            or self._usage["all_day", day] >= self.limits.daily
            or self._usage["read_15", quarter] >= self.limits.read_short
            or self._usage["read_day", day] >= self.limits.read_daily
        )
        for key in (("all_15", quarter), ("all_day", day), ("read_15", quarter), ("read_day", day)):
            self._usage[key] += 1
        budget_end = self.faults.daily_budget_ends_after_calls
        if budget_end is not None and self.api_calls >= budget_end:  # someone else spent the rest of today
            self.faults.daily_budget_ends_after_calls = None
            self._usage["all_day", day] = max(self._usage["all_day", day], self.limits.daily)
            self._usage["read_day", day] = max(self._usage["read_day", day], self.limits.read_daily)
        return over

    def _in_storm(self) -> bool:
        start = self.faults.rate_limit_storm_after_calls
        return start is not None and start < self.api_calls <= start + self.faults.rate_limit_storm_length

    def _rate_headers(self, storm: bool = False) -> dict[str, str]:
        quarter, day = self._windows()
        read_short = self._usage["read_15", quarter]
        all_short = self._usage["all_15", quarter]
        if storm:  # the server says the window is spent (another client of the same app, say)
            read_short, all_short = max(read_short, self.limits.read_short), max(all_short, self.limits.short)
        return {
            "X-Ratelimit-Limit": f"{self.limits.short},{self.limits.daily}",
            "X-Ratelimit-Usage": f"{all_short},{self._usage['all_day', day]}",
            "X-Readratelimit-Limit": f"{self.limits.read_short},{self.limits.read_daily}",
            "X-Readratelimit-Usage": f"{read_short},{self._usage['read_day', day]}",
        }

    def usage(self) -> dict[str, int]:
        """Current read usage in this 15-minute window and today (for tests)."""
        quarter, day = self._windows()
        return {"read_15": self._usage["read_15", quarter], "read_day": self._usage["read_day", day]}

    # ---- list ---------------------------------------------------------------------------------------------
    def _int_param(self, request: Request, name: str, default: int | None) -> int | None:
        value = request.query.get(name)
        if value in (None, ""):
            return default
        return int(value)  # ValueError -> 400 in _list

    def _list(self, request: Request, headers: dict[str, str]) -> Reply:
        try:
            page = max(self._int_param(request, "page", 1) or 1, 1)
            per_page = self._int_param(request, "per_page", DEFAULT_PER_PAGE) or DEFAULT_PER_PAGE
            before = self._int_param(request, "before", None)
            after = self._int_param(request, "after", None)
        except ValueError:
            return json_reply(400, fault("Bad Request", "Application", "page", "invalid"), headers)
        if self.recorded_pages is not None:
            return self._recorded(page)
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        selected = [
            a
            for a in self.activities
            if (before is None or epoch_seconds(parse_iso_utc(a["start_date"])) < before)
            and (after is None or epoch_seconds(parse_iso_utc(a["start_date"])) > after)
        ]
        offset = (page - 1) * per_page
        if self.faults.duplicate_after_page is not None and page > self.faults.duplicate_after_page:
            offset -= 1  # as if one activity had been inserted at the top between two page requests
        return self._page_reply(page, selected[max(offset, 0) : offset + per_page], headers)

    def _page_reply(self, page: int, items: list[dict[str, Any]], headers: dict[str, str]) -> Reply:
        delay = self.faults.slow_seconds if _take(self.faults.slow_pages, page) else 0.0
        if _take(self.faults.server_error_pages, page):
            reply = json_reply(self.faults.server_error_status, SERVER_ERROR, headers)
        else:
            reply = json_reply(200, items, headers)
            if _take(self.faults.malformed_pages, page):
                reply.body = reply.body[: len(reply.body) // 2]
        reply.delay = delay
        return reply

    def _recorded(self, page: int) -> Reply:
        assert self.recorded_pages is not None
        recorded = self.recorded_pages.get(page)
        if recorded is None:  # past the recording: an empty page with the last recorded headers
            last = self.recorded_pages[max(self.recorded_pages)]
            return Reply(200, b"[]", dict(last.headers))
        reply = Reply(recorded.status, recorded.body, dict(recorded.headers))
        reply.headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        return reply

    # ---- one activity -------------------------------------------------------------------------------------
    def _find(self, raw_id: str) -> dict[str, Any] | None:
        try:
            return self._by_id.get(int(raw_id))
        except ValueError:
            return None

    def _detail(self, raw_id: str, headers: dict[str, str]) -> Reply:
        summary = self._find(raw_id)
        if summary is None:
            return json_reply(404, fault("Record Not Found", "Activity", "id", "invalid"), headers)
        detail = self._details.get(int(summary["id"])) or detail_of(summary)
        return json_reply(200, detail, headers)

    def _streams_reply(self, raw_id: str, request: Request, headers: dict[str, str]) -> Reply:
        summary = self._find(raw_id)
        if summary is None:
            return json_reply(404, fault("Record Not Found", "Activity", "id", "invalid"), headers)
        headers = headers if self.streams_rate_headers else {}
        available = self._streams.get(int(summary["id"])) or streams_of(summary)
        keys = [k for k in request.query.get("keys", "").split(",") if k] or ["distance"]
        chosen = {k: v for k, v in available.items() if k in keys}
        if request.query.get("key_by_type", "true").lower() == "false":
            return json_reply(200, [{"type": k, **v} for k, v in chosen.items()], headers)
        return json_reply(200, chosen, headers)
