"""A local stand-in for the Google Health API v4 list endpoint and Google's token endpoint.

Follows `docs/contracts/google-health.md` (from googleapis/googleapis `google/devicesandservices/health/v4`):
- `POST /token`: form `grant_type=refresh_token`, `client_id`, `client_secret`, `refresh_token`; answers
  `{"access_token", "expires_in": 3599, "scope", "token_type": "Bearer"}` (no new refresh token). A wrong
  client is 401 `{"error": "invalid_client"}`, an unknown refresh token 400 `{"error": "invalid_grant"}`.
- `GET /v4/users/me/dataTypes/{dataType}/dataPoints?filter=&pageSize=&pageToken=`: the points of the data
  type that pass the AIP-160 filter (`>=` / `<` on the type's time field joined by `AND`), newest first,
  `pageSize` default 1,440, values above 10,000 truncated (25 for sleep and exercise), `nextPageToken`
  until the last page. Points are served as given: int64 values are JSON strings, like the real API.
- 300 requests per minute per user on the shared `Clock`; over it, 429 `RESOURCE_EXHAUSTED`.
- 401 `UNAUTHENTICATED` for a missing, unknown or expired access token; 400 `INVALID_ARGUMENT` for a bad
  filter, page size or page token.
- `GoogleHealthFaults` switches: tokens that expire after N calls, 5xx / malformed answers on given pages,
  a per-minute budget that ends after N calls, and a 410 for every call (what the legacy Fitbit API does).

Point builders (`heart_rate_point`, `interval_point`, ...) make data points in the documented JSON shapes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakehouse.sources.clock import Clock, SystemClock, epoch_seconds, iso_utc, parse_iso_utc
from lakehouse_demo.standins._server import Reply, Request, StandinServer, json_reply

ALWAYS = -1
PER_MINUTE_LIMIT = 300
ACCESS_TOKEN_TTL_SECONDS = 3599
DEFAULT_PAGE_SIZE = 1440
MAX_PAGE_SIZE = 10_000
SESSION_MAX_PAGE_SIZE = 25
LIST_PATH = re.compile(r"^/v4/users/me/dataTypes/(?P<data_type>[a-z0-9-]+)/dataPoints$")
CLAUSE = re.compile(r'^\s*(?P<field>[a-z_.]+)\s*(?P<op>>=|<)\s*"(?P<value>[^"]+)"\s*$')
SCOPE = "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly"
# data type -> (union field in JSON, kind); the kinds decide which time the filter and the order use
TYPES: dict[str, tuple[str, str]] = {
    "heart-rate": ("heartRate", "sample"),
    "steps": ("steps", "interval"),
    "distance": ("distance", "interval"),
    "altitude": ("altitude", "interval"),
    "floors": ("floors", "interval"),
    "time-in-heart-rate-zone": ("timeInHeartRateZone", "interval"),
    "daily-resting-heart-rate": ("dailyRestingHeartRate", "daily"),
    "daily-heart-rate-zones": ("dailyHeartRateZones", "daily"),
    "sleep": ("sleep", "session"),
    "exercise": ("exercise", "session"),
}
DEMO_ZONES = (("LIGHT", 98, 117), ("MODERATE", 117, 137), ("VIGOROUS", 137, 166), ("PEAK", 166, 190))
DATA_SOURCE = {
    "recordingMethod": "PASSIVELY_MEASURED",
    "device": {"formFactor": "WATCH", "manufacturer": "Google", "displayName": "Pixel Watch 3"},
    "platform": "FITBIT",
}


def google_error(code: int, status: str, message: str) -> dict[str, Any]:
    """A Google API error body: `{"error": {"code", "message", "status"}}`."""
    return {"error": {"code": code, "message": message, "status": status}}


# ---- point builders --------------------------------------------------------------------------------------
def _duration(seconds: int) -> str:
    return f"{seconds}s"


def civil(local: datetime) -> dict[str, Any]:
    """A `CivilDateTime` in JSON: `{"date": {"year", "month", "day"}, "time": {"hours", "minutes", "seconds"}}`."""
    time = {"hours": local.hour, "minutes": local.minute, "seconds": local.second}
    return {"date": {"year": local.year, "month": local.month, "day": local.day}, "time": time}


def heart_rate_point(instant: datetime, utc_offset_seconds: int, bpm: int) -> dict[str, Any]:
    """A `heart-rate` data point (a sample)."""
    local = instant + timedelta(seconds=utc_offset_seconds)
    return {
        "dataSource": DATA_SOURCE,
        "heartRate": {
            "sampleTime": {
                "physicalTime": iso_utc(instant),
                "utcOffset": _duration(utc_offset_seconds),
                "civilTime": civil(local.replace(tzinfo=None)),
            },
            "beatsPerMinute": str(bpm),
        },
    }


def observation_interval(start: datetime, seconds: int, utc_offset_seconds: int) -> dict[str, Any]:
    """An `ObservationTimeInterval` in JSON."""
    end = start + timedelta(seconds=seconds)
    offset = timedelta(seconds=utc_offset_seconds)
    return {
        "startTime": iso_utc(start),
        "startUtcOffset": _duration(utc_offset_seconds),
        "endTime": iso_utc(end),
        "endUtcOffset": _duration(utc_offset_seconds),
        "civilStartTime": civil((start + offset).replace(tzinfo=None)),
        "civilEndTime": civil((end + offset).replace(tzinfo=None)),
    }


def interval_point(
    data_type: str, start: datetime, seconds: int, utc_offset_seconds: int, **values: Any
) -> dict[str, Any]:
    """An interval data point, e.g. `interval_point("steps", t, 60, 3600, count="87")`; int64 values as strings."""
    union = TYPES[data_type][0]
    body = {"interval": observation_interval(start, seconds, utc_offset_seconds), **values}
    return {"dataSource": DATA_SOURCE, union: body}


def _date(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def daily_resting_heart_rate_point(day: date, bpm: int) -> dict[str, Any]:
    """A `daily-resting-heart-rate` data point."""
    return {
        "dataSource": DATA_SOURCE,
        "dailyRestingHeartRate": {
            "date": _date(day),
            "beatsPerMinute": str(bpm),
            "dailyRestingHeartRateMetadata": {"calculationMethod": "WITH_SLEEP"},
        },
    }


def daily_heart_rate_zones_point(day: date, bounds: Iterable[tuple[str, int, int]]) -> dict[str, Any]:
    """A `daily-heart-rate-zones` data point from (zone type, min bpm, max bpm) triples."""
    zones = [
        {"heartRateZoneType": zone, "minBeatsPerMinute": str(low), "maxBeatsPerMinute": str(high)}
        for zone, low, high in bounds
    ]
    return {"dataSource": DATA_SOURCE, "dailyHeartRateZones": {"date": _date(day), "heartRateZones": zones}}


def sleep_point(start: datetime, seconds: int, utc_offset_seconds: int, minutes_asleep: int) -> dict[str, Any]:
    """A `sleep` session data point (identifiable: it has a `name`)."""
    return {
        "name": f"users/me/dataTypes/sleep/dataPoints/{epoch_seconds(start)}",
        "dataSource": DATA_SOURCE,
        "sleep": {
            "interval": observation_interval(start, seconds, utc_offset_seconds),
            "type": "STAGES",
            "summary": {"minutesInSleepPeriod": str(seconds // 60), "minutesAsleep": str(minutes_asleep)},
        },
    }


# ---- the server ------------------------------------------------------------------------------------------
@dataclass
class GoogleHealthFaults:
    """Fault switches; page faults count down per answer (`ALWAYS` never runs out). Mutable mid-test."""

    expire_tokens_after_calls: int | None = None  # access tokens expire after this many API calls (once)
    server_error_pages: dict[tuple[str, int], int] = field(default_factory=dict)  # (data type, page index)
    server_error_status: int = 503
    malformed_pages: dict[tuple[str, int], int] = field(default_factory=dict)
    minute_budget_ends_after_calls: int | None = None  # the minute's budget is gone after this many calls (once)
    gone: bool = False  # every call answers 410 Gone


def _take(counts: dict[Any, int], key: Any) -> bool:
    left = counts.get(key, 0)
    if left == 0:
        return False
    if left != ALWAYS:
        counts[key] = left - 1
    return True


def _civil_text(value: Mapping[str, Any]) -> str:
    day, time = value["date"], value.get("time") or {}
    return (
        f"{day['year']:04d}-{day['month']:02d}-{day['day']:02d}"
        f"T{time.get('hours', 0):02d}:{time.get('minutes', 0):02d}:{time.get('seconds', 0):02d}"
    )


def _point_time(data_type: str, point: Mapping[str, Any]) -> tuple[str, str]:
    """(physical time or "", civil "YYYY-MM-DD[THH:MM:SS]") of a point, for filtering and ordering."""
    union, kind = TYPES[data_type]
    body = point.get(union, {})
    if kind == "daily":
        return "", _civil_text({"date": body["date"]})[:10]
    if kind == "sample":
        timing = body["sampleTime"]
        return iso_utc(parse_iso_utc(timing["physicalTime"])), _civil_text(timing["civilTime"])
    timing = body["interval"]
    return iso_utc(parse_iso_utc(timing["startTime"])), _civil_text(timing["civilStartTime"])


def _filter_fields(data_type: str) -> dict[str, str]:
    """AIP-160 field -> "physical" | "civil" | "date", per data_points.proto's ListDataPointsRequest.filter."""
    snake = data_type.replace("-", "_")
    kind = TYPES[data_type][1]
    if kind == "sample":
        return {f"{snake}.sample_time.physical_time": "physical", f"{snake}.sample_time.civil_time": "civil"}
    if kind == "interval":
        return {f"{snake}.interval.start_time": "physical", f"{snake}.interval.civil_start_time": "civil"}
    if kind == "daily":
        return {f"{snake}.date": "date"}
    if data_type == "sleep":
        return {"sleep.interval.end_time": "physical", "sleep.interval.civil_end_time": "civil"}
    return {f"{snake}.interval.civil_start_time": "civil"}


class BadRequest(ValueError):
    """A 400 INVALID_ARGUMENT."""


def parse_filter(data_type: str, text: str) -> list[tuple[str, str, str]]:
    """`a >= "x" AND a < "y"` -> [(kind, op, literal)]; a `BadRequest` for anything else."""
    if not text.strip():
        return []
    fields = _filter_fields(data_type)
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = CLAUSE.match(part)
        if match is None or match["field"] not in fields:
            raise BadRequest(f"Invalid filter expression: {part!r} (fields: {', '.join(sorted(fields))})")
        kind = fields[match["field"]]
        literal = match["value"]
        if kind == "physical":
            try:
                literal = iso_utc(parse_iso_utc(literal))
            except ValueError:
                raise BadRequest(f"Invalid RFC-3339 timestamp {literal!r}") from None
        clauses.append((kind, match["op"], literal))
    return clauses


class GoogleHealthStandin(StandinServer):
    """The stand-in server. Example: `with GoogleHealthStandin({"steps": [point, ...]}) as google: ...`."""

    def __init__(
        self,
        points: Mapping[str, Iterable[Mapping[str, Any]]],
        *,
        clock: Clock | None = None,
        faults: GoogleHealthFaults | None = None,
        client_id: str = "123-standin.apps.googleusercontent.com",
        client_secret: str = "standin-google-secret",
        refresh_token: str = "1//standin-google-refresh",
        access_token_ttl: int = ACCESS_TOKEN_TTL_SECONDS,
        per_minute_limit: int = PER_MINUTE_LIMIT,
    ) -> None:
        super().__init__()
        self.points = {name: list(values) for name, values in points.items()}
        self.clock = clock or SystemClock()
        self.faults = faults or GoogleHealthFaults()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.access_token_ttl = access_token_ttl
        self.per_minute_limit = per_minute_limit
        self._access: dict[str, int] = {}
        self._expired: set[str] = set()
        self._usage: dict[int, int] = defaultdict(int)
        self.api_calls = 0
        self.rate_limited = 0
        self.token_refreshes = 0
        self.requests: list[tuple[str, str, int]] = []
        self.issued_tokens: list[str] = []  # every access token handed out (tests look for them where they must not be)

    @property
    def token_url(self) -> str:
        """Where the client refreshes tokens (Google's is https://oauth2.googleapis.com/token)."""
        return self.base_url + "/token"

    def handle(self, request: Request) -> Reply:
        """Route one request."""
        with self.lock:
            if self.faults.gone:
                reply = json_reply(410, google_error(410, "GONE", "This API has been turned off."))
            elif request.method == "POST" and request.path == "/token":
                reply = self._token(request)
            elif request.method == "GET":
                reply = self._api(request)
            else:
                reply = json_reply(404, google_error(404, "NOT_FOUND", "Not found."))
            self.requests.append((request.method, request.path, reply.status))
            return reply

    # ---- OAuth ------------------------------------------------------------------------------------------
    def _token(self, request: Request) -> Reply:
        form = request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return json_reply(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return json_reply(
                400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            )
        access = "ya29." + secrets.token_urlsafe(48)
        self.issued_tokens.append(access)
        self._access[access] = epoch_seconds(self.clock.now()) + self.access_token_ttl
        self.token_refreshes += 1
        return json_reply(
            200, {"access_token": access, "expires_in": self.access_token_ttl, "scope": SCOPE, "token_type": "Bearer"}
        )

    def _auth_error(self, request: Request) -> Reply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        expired = token in self._expired or (
            token in self._access and self._access[token] <= epoch_seconds(self.clock.now())
        )
        if token not in self._access or expired:
            return json_reply(
                401,
                google_error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                    "or other valid authentication credential.",
                ),
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
            )
        return None

    # ---- the API ----------------------------------------------------------------------------------------
    def _api(self, request: Request) -> Reply:
        if (error := self._auth_error(request)) is not None:
            return error
        expire_after = self.faults.expire_tokens_after_calls
        if expire_after is not None and self.api_calls >= expire_after:
            self.faults.expire_tokens_after_calls = None
            self._expired |= set(self._access)
            self._access.clear()
            return self._auth_error(request) or json_reply(401, google_error(401, "UNAUTHENTICATED", "expired"))
        self.api_calls += 1
        if self._over_minute_limit():
            self.rate_limited += 1
            return json_reply(
                429,
                google_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user'.",
                ),
            )
        match = LIST_PATH.match(request.path)
        if match is None or match["data_type"] not in TYPES:
            return json_reply(404, google_error(404, "NOT_FOUND", f"Unknown data type in {request.path}"))
        try:
            return self._list(match["data_type"], request.query)
        except BadRequest as exc:
            return json_reply(400, google_error(400, "INVALID_ARGUMENT", str(exc)))

    def _over_minute_limit(self) -> bool:
        minute = epoch_seconds(self.clock.now()) // 60
        self._usage[minute] += 1
        budget_end = self.faults.minute_budget_ends_after_calls
        if budget_end is not None and self.api_calls >= budget_end:
            self.faults.minute_budget_ends_after_calls = None
            self._usage[minute] = max(self._usage[minute], self.per_minute_limit + 1)
        return self._usage[minute] > self.per_minute_limit

    def usage_this_minute(self) -> int:
        """Calls counted in the current minute (for tests)."""
        return self._usage[epoch_seconds(self.clock.now()) // 60]

    def _matching(self, data_type: str, clauses: list[tuple[str, str, str]]) -> list[Mapping[str, Any]]:
        def keep(point: Mapping[str, Any]) -> bool:
            physical, civil_text = _point_time(data_type, point)
            for kind, op, literal in clauses:
                value = physical if kind == "physical" else civil_text[: len(literal)]
                if (op == ">=" and not value >= literal) or (op == "<" and not value < literal):
                    return False
            return True

        chosen = [p for p in self.points.get(data_type, []) if keep(p)]
        return sorted(chosen, key=lambda p: _point_time(data_type, p), reverse=True)  # newest first

    def _page_token(self, data_type: str, query: str, offset: int) -> str:
        digest = hashlib.sha256(f"{data_type}|{query}".encode()).hexdigest()[:12]
        return base64.urlsafe_b64encode(json.dumps([digest, offset]).encode()).decode().rstrip("=")

    def _offset(self, data_type: str, query: str, token: str) -> int:
        try:
            padded = token + "=" * (-len(token) % 4)
            digest, offset = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, TypeError):
            raise BadRequest("Invalid page token.") from None
        if digest != hashlib.sha256(f"{data_type}|{query}".encode()).hexdigest()[:12]:
            raise BadRequest("The page token does not match the request's filter.")
        return int(offset)

    def _list(self, data_type: str, query: dict[str, str]) -> Reply:
        text = query.get("filter", "")
        clauses = parse_filter(data_type, text)
        session = TYPES[data_type][1] == "session"
        try:
            size = int(query.get("pageSize") or (SESSION_MAX_PAGE_SIZE if session else DEFAULT_PAGE_SIZE))
        except ValueError:
            raise BadRequest("pageSize must be an integer.") from None
        if size < 0:
            raise BadRequest("pageSize must not be negative.")
        size = min(size or DEFAULT_PAGE_SIZE, SESSION_MAX_PAGE_SIZE if session else MAX_PAGE_SIZE)
        offset = self._offset(data_type, text, query["pageToken"]) if query.get("pageToken") else 0
        page_index = offset // size if size else 0
        if _take(self.faults.server_error_pages, (data_type, page_index)):
            status = self.faults.server_error_status
            return json_reply(status, google_error(status, "UNAVAILABLE", "The service is currently unavailable."))
        points = self._matching(data_type, clauses)
        page = points[offset : offset + size]
        body: dict[str, Any] = {"dataPoints": page}
        if offset + size < len(points):
            body["nextPageToken"] = self._page_token(data_type, text, offset + size)
        reply = json_reply(200, body)
        if _take(self.faults.malformed_pages, (data_type, page_index)):
            reply.body = reply.body[: len(reply.body) // 2]
        return reply


def demo_points(first_day: date, days: int, utc_offset_seconds: int = 3600) -> dict[str, list[dict[str, Any]]]:
    """Deterministic points in the documented shapes for `days` local days from `first_day`: heart rate every
    10 minutes, steps and distance every 15 minutes, altitude and floors every hour, a resting heart rate,
    heart-rate zones and a night's sleep (23:00 to 07:00 local) per day. The values follow simple formulas,
    so tests can recompute them."""
    offset = timedelta(seconds=utc_offset_seconds)
    points: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n in range(days):
        day = first_day + timedelta(days=n)
        midnight_utc = datetime(day.year, day.month, day.day, tzinfo=UTC) - offset
        for minute in range(0, 24 * 60, 10):
            points["heart-rate"].append(heart_rate_point(midnight_utc + timedelta(minutes=minute), utc_offset_seconds,
                                                         55 + (minute // 10) % 40))  # fmt: skip
        for minute in range(0, 24 * 60, 15):
            start = midnight_utc + timedelta(minutes=minute)
            steps = (minute // 15) % 7 * 100
            points["steps"].append(interval_point("steps", start, 900, utc_offset_seconds, count=str(steps)))
            points["distance"].append(
                interval_point("distance", start, 900, utc_offset_seconds, millimeters=str(steps * 750))
            )
        for hour in range(24):
            start = midnight_utc + timedelta(hours=hour)
            floors = hour % 3
            points["altitude"].append(
                interval_point("altitude", start, 3600, utc_offset_seconds, gainMillimeters=str(floors * 3048))
            )
            points["floors"].append(interval_point("floors", start, 3600, utc_offset_seconds, count=str(floors)))
        points["daily-resting-heart-rate"].append(daily_resting_heart_rate_point(day, 52 + n % 5))
        points["sleep"].append(sleep_point(midnight_utc - timedelta(hours=1), 8 * 3600, utc_offset_seconds, 440))
        points["daily-heart-rate-zones"].append(daily_heart_rate_zones_point(day, DEMO_ZONES))
    return dict(points)
