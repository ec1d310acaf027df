"""Google Health API v4 -> landing zone: the dataPoints of each data type, page by page, incrementally.

Grain of what lands: `google_health/<dataType>/month=YYYY-MM/<run-id>.json`, one record per data point:
`{"user_id", "data_type", "route": "google-health-api", "point_id", "data_point": <the point as returned>}`.
`point_id` is a hash of the point's JSON (most data types carry no `name`), so the same point landed twice
has the same id. The month is the month of the point's time (UTC instant, else its civil date).
Google Takeout lands the same shape (`lakehouse.sources.takeout`, another `route`), so bronze and silver
share one path.

A run goes data type by data type. Each asks for one window, `[watermark - overlap, tomorrow)`, filtered
with AIP-160 on the type's time field (`heart_rate.sample_time.physical_time`, `steps.interval.start_time`,
`daily_resting_heart_rate.date`, ...), and follows `nextPageToken`. The API returns points newest first,
so a data type's watermark moves only when its whole window is done; until then the state keeps a resume
cursor (the window and the next page token), saved after each checkpoint's points have landed. 300 requests
a minute per user: the limiter counts its calls and waits for the next minute after a 429.
Contract and sources: `docs/contracts/google-health.md`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import requests

from lakehouse.landing import LandingZone, new_run_id
from lakehouse.sources.clock import Clock, SystemClock, iso_utc, parse_iso_utc
from lakehouse.sources.credentials import Secret, TokenFile, default_token_file, redact, secret_or_none
from lakehouse.sources.errors import ApiRequestError, CredentialsError, MalformedResponseError, SyncStop
from lakehouse.sources.http import ApiClient, CallLedger, HttpSettings, build_session
from lakehouse.sources.oauth import OAuthClient, TokenManager
from lakehouse.sources.progress import ProgressLine, format_duration
from lakehouse.sources.ratelimit import GOOGLE_HEALTH_PER_MINUTE_LIMIT, PerMinuteRateLimiter
from lakehouse.sources.sync import COMPLETED, CRASHED, NOT_YET, MonthlyBatches, SyncReport, load_state, save_state

log = logging.getLogger(__name__)

SOURCE = "google_health"
ROUTE = "google-health-api"
DEFAULT_BASE_URL = "https://health.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
LIST_ENDPOINT = "/v4/users/me/dataTypes/{data_type}/dataPoints"
DEFAULT_PAGE_SIZE = 1440
MAX_PAGE_SIZE = 10_000
DEFAULT_FIRST_DAYS = 7
DEFAULT_OVERLAP_DAYS = 1
DEFAULT_CHECKPOINT_PAGES = 10
SESSION_MAX_PAGE_SIZE = 25  # sleep and exercise
SAMPLE, INTERVAL, DAILY, SESSION = "sample", "interval", "daily", "session"
INSTANT_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])-")  # the month of an RFC 3339 instant, `2025-03-02T...`
MAX_PAGES_WITHOUT_NEW_POINTS = 25  # more pages in a row that add nothing: the API is looping, stop


@dataclass(frozen=True)
class DataType:
    """One data type of the list endpoint: its URL name, its union field in a DataPoint, how it is timed."""

    name: str  # URL name, e.g. "heart-rate"
    field: str  # the DataPoint union field in JSON, e.g. "heartRate"
    kind: str  # SAMPLE (sampleTime), INTERVAL (interval), DAILY (date), SESSION (interval; sleep, exercise)

    @property
    def filter_field(self) -> str:
        """The AIP-160 field the window filters on (data type in snake_case, per data_points.proto)."""
        snake = self.name.replace("-", "_")
        if self.name == "sleep":  # sleep filters on its end time (data_points.proto)
            return "sleep.interval.end_time"
        return {
            SAMPLE: f"{snake}.sample_time.physical_time",
            INTERVAL: f"{snake}.interval.start_time",
            DAILY: f"{snake}.date",
        }[self.kind]

    def window_filter(self, start: date, end: date) -> str:
        """`steps.interval.start_time >= "2024-04-30T00:00:00Z" AND steps.interval.start_time < "..."`: local days
        `[start, end)`, widened by a day each side for instants, since the filter takes UTC."""
        if self.kind == DAILY:
            low, high = start.isoformat(), end.isoformat()
        else:  # days are the user's; a local day starts up to 14 h before (or 12 h after) its UTC midnight
            low = f"{(start - timedelta(days=1)).isoformat()}T00:00:00Z"
            high = f"{(end + timedelta(days=1)).isoformat()}T00:00:00Z"
        return f'{self.filter_field} >= "{low}" AND {self.filter_field} < "{high}"'


DATA_TYPES: dict[str, DataType] = {
    t.name: t
    for t in (
        DataType("heart-rate", "heartRate", SAMPLE),
        DataType("steps", "steps", INTERVAL),
        DataType("distance", "distance", INTERVAL),
        DataType("altitude", "altitude", INTERVAL),
        DataType("floors", "floors", INTERVAL),
        DataType("daily-resting-heart-rate", "dailyRestingHeartRate", DAILY),
        DataType("daily-heart-rate-zones", "dailyHeartRateZones", DAILY),
        DataType("time-in-heart-rate-zone", "timeInHeartRateZone", INTERVAL),
        DataType("sleep", "sleep", SESSION),  # landed for later; no silver table reads it yet
    )
}


def point_id(point: Mapping[str, Any]) -> str:
    """A stable id of a data point: its `name` when it has one, else a hash of its canonical JSON."""
    if point.get("name"):
        return str(point["name"])
    canonical = json.dumps(point, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _date_part(value: Any) -> int | None:
    """A google.type.Date field: a number, or a string of digits; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 4:
        return int(value)
    return None


def _civil_month(civil: Any) -> str | None:
    day = civil.get("date") if isinstance(civil, dict) else None
    if isinstance(day, dict):
        year, month = _date_part(day.get("year")), _date_part(day.get("month"))
        if year is not None and month is not None and 1 <= year <= 9999 and 1 <= month <= 12:
            return f"{year:04d}-{month:02d}"
    return None


def point_month(data_type: DataType, point: Mapping[str, Any]) -> str:
    """YYYY-MM of a point: of its UTC instant when it has one, else of its civil date; `MalformedResponseError`
    when it has neither (a point without a time cannot be placed)."""
    body = point.get(data_type.field)
    if isinstance(body, dict):
        if data_type.kind == DAILY:
            month = _civil_month({"date": body.get("date")})
            if month:
                return month
        else:
            timing = body.get("sampleTime" if data_type.kind == SAMPLE else "interval")  # intervals, sessions
            timing = timing if isinstance(timing, dict) else {}
            instant = timing.get("physicalTime" if data_type.kind == SAMPLE else "startTime")
            if isinstance(instant, str) and INSTANT_MONTH.match(instant):
                return instant[:7]
            month = _civil_month(timing.get("civilTime" if data_type.kind == SAMPLE else "civilStartTime"))
            if month:
                return month
    raise MalformedResponseError(f"a {data_type.name} data point has no time in `{data_type.field}`")


def envelope(user_id: str, data_type: DataType, route: str, point: Mapping[str, Any]) -> dict[str, Any]:
    """The landed record of one data point."""
    return {
        "user_id": user_id,
        "data_type": data_type.name,
        "route": route,
        "point_id": point_id(point),
        "data_point": point,
    }


@dataclass(frozen=True)
class GoogleHealthSettings:
    """Credentials, endpoints and knobs of a Google Health sync (secrets from the environment, never `conf/`)."""

    client_id: str
    client_secret: Secret
    refresh_token: Secret | None
    token_file: Path
    user_id: str = "me"  # the person key the points land under (the same key a Takeout import uses)
    base_url: str = DEFAULT_BASE_URL
    token_url: str = DEFAULT_TOKEN_URL
    data_types: tuple[str, ...] = tuple(DATA_TYPES)
    start_date: date | None = None
    overlap_days: int = DEFAULT_OVERLAP_DAYS
    page_size: int = DEFAULT_PAGE_SIZE
    checkpoint_pages: int = DEFAULT_CHECKPOINT_PAGES
    per_minute_limit: int = GOOGLE_HEALTH_PER_MINUTE_LIMIT
    http: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self) -> None:
        unknown = set(self.data_types) - set(DATA_TYPES)
        if unknown:
            raise ValueError(f"unknown Google Health data types {sorted(unknown)}; known: {', '.join(DATA_TYPES)}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be 1..{MAX_PAGE_SIZE}, not {self.page_size}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> GoogleHealthSettings:
        """Read `GOOGLE_HEALTH_CLIENT_ID`, `_CLIENT_SECRET`, `_REFRESH_TOKEN`, `_TOKEN_FILE`, `_BASE_URL`,
        `_TOKEN_URL`, `_START_DATE`, `_USER`, `_DATA_TYPES` (comma-separated).

        Example: `GoogleHealthSettings.from_env(os.environ, user_id="ana")`.
        """
        environ = os.environ if environ is None else environ
        prefix = "GOOGLE_HEALTH_"
        missing = [f"{prefix}{n}" for n in ("CLIENT_ID", "CLIENT_SECRET") if not environ.get(f"{prefix}{n}")]
        if missing:
            raise CredentialsError(
                f"set {' and '.join(missing)} (an OAuth client of a Google Cloud project with the Google Health "
                "API enabled: https://developers.google.com/health)"
            )
        start = environ.get(f"{prefix}START_DATE")
        types = environ.get(f"{prefix}DATA_TYPES")
        settings = cls(
            client_id=environ[f"{prefix}CLIENT_ID"],
            client_secret=Secret(environ[f"{prefix}CLIENT_SECRET"]),
            refresh_token=secret_or_none(environ.get(f"{prefix}REFRESH_TOKEN")),
            token_file=Path(environ.get(f"{prefix}TOKEN_FILE") or default_token_file(SOURCE, environ)),
            user_id=environ.get(f"{prefix}USER") or "me",
            base_url=environ.get(f"{prefix}BASE_URL") or DEFAULT_BASE_URL,
            token_url=environ.get(f"{prefix}TOKEN_URL") or DEFAULT_TOKEN_URL,
            data_types=tuple(t.strip() for t in types.split(",") if t.strip()) if types else tuple(DATA_TYPES),
            start_date=date.fromisoformat(start) if start else None,
        )
        return replace(settings, **overrides)


def google_error_summary(response: requests.Response) -> str:
    """`status` of a Google error body (`{"error": {"code", "message", "status"}}`); never the message."""
    try:
        error = response.json().get("error")
        if isinstance(error, dict):
            return str(error.get("status") or error.get("code") or "?")
        return str(error) if error else "no error body"
    except (ValueError, AttributeError, TypeError):
        return "no error body"


def open_google_health_client(
    settings: GoogleHealthSettings,
    *,
    ledger: CallLedger,
    clock: Clock,
    session: requests.Session | None = None,
) -> tuple[ApiClient, TokenManager, PerMinuteRateLimiter]:
    """The API client (with its token manager and limiter) that a sync, or a notebook, talks through."""
    session = session or build_session(settings.http)
    oauth = OAuthClient(
        source=SOURCE,
        token_url=settings.token_url,
        token_endpoint="oauth2.googleapis.com/token",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        basic_auth=False,  # Google takes client_id/client_secret as form fields
        refresh_token_env="GOOGLE_HEALTH_REFRESH_TOKEN",
        client_env_prefix="GOOGLE_HEALTH_",
    )
    auth = TokenManager(
        oauth, TokenFile(settings.token_file), settings.refresh_token,
        session=session, ledger=ledger, clock=clock, http=settings.http,
    )  # fmt: skip
    limiter = PerMinuteRateLimiter(clock, limit=settings.per_minute_limit)
    client = ApiClient(
        base_url=settings.base_url, session=session, auth=auth, limiter=limiter, ledger=ledger,
        clock=clock, http=settings.http, error_summary=google_error_summary,
    )  # fmt: skip
    return client, auth, limiter


def plan_window(state: Mapping[str, Any], name: str, settings: GoogleHealthSettings, today: date) -> tuple[date, date]:
    """The [start, end) days a data type asks for: from its watermark minus the overlap (or the start
    date, or a week ago) to tomorrow."""
    through = state.get("through", {}).get(name)
    if through:
        start = date.fromisoformat(through) + timedelta(days=1 - settings.overlap_days)
    else:
        start = settings.start_date or today - timedelta(days=DEFAULT_FIRST_DAYS - 1)
    return start, today + timedelta(days=1)


class _GoogleHealthRun:
    """One run: each data type's window, page by page, landed every `checkpoint_pages` pages."""

    def __init__(
        self,
        settings: GoogleHealthSettings,
        landing: LandingZone,
        client: ApiClient,
        limiter: PerMinuteRateLimiter,
        state: dict[str, Any],
        report: SyncReport,
        progress: ProgressLine,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.landing = landing
        self.client = client
        self.limiter = limiter
        self.state = state
        self.report = report
        self.progress = progress
        self.clock = clock
        self.batches = MonthlyBatches(landing, SOURCE, report.run_id)
        self.cursors: dict[str, Any] = dict(state.get("cursor") or {})
        self.done_through: dict[str, str] = {}
        self.seen: set[str] = set()
        self.pages = 0

    def fetch(self, today: date) -> None:
        """Every configured data type, in order."""
        names = list(self.settings.data_types)
        for index, name in enumerate(names):
            self._fetch_type(DATA_TYPES[name], today, types_left=len(names) - index - 1)

    def _fetch_type(self, data_type: DataType, today: date, types_left: int) -> None:
        cursor = self.cursors.get(data_type.name)
        if cursor:  # resume the window a stopped run left half done, with its page token
            start, end = date.fromisoformat(cursor["start"]), date.fromisoformat(cursor["end"])
            token: str | None = cursor.get("page_token")
        else:
            start, end = plan_window(self.state, data_type.name, self.settings, today)
            token = None
        query = data_type.window_filter(start, end)
        resumed_token = token  # only a saved token may have gone stale; one this run was just given may not
        followed: set[str] = {token} if token else set()
        pages_this_type = idle_pages = 0
        while True:
            size = min(self.settings.page_size, SESSION_MAX_PAGE_SIZE) if data_type.kind == SESSION else None
            params: dict[str, object] = {"filter": query, "pageSize": size or self.settings.page_size}
            if token:
                params["pageToken"] = token
            self._show(data_type, pages_this_type, types_left)
            try:
                body = self.client.get_json(LIST_ENDPOINT, params=params, path_params={"data_type": data_type.name})
            except ApiRequestError as exc:
                if token and token == resumed_token and exc.status == 400:  # stale: ask for the whole window again
                    log.warning("%s: the saved page token was refused; asking for the window again", data_type.name)
                    token = resumed_token = None
                    followed.clear()
                    continue
                raise
            if not isinstance(body, dict) or not isinstance(body.get("dataPoints", []), list):
                raise MalformedResponseError(f"{data_type.name} page is not a ListDataPointsResponse")
            new_points = 0
            for point in body.get("dataPoints", []):
                if not isinstance(point, dict):
                    self.report.invalid_skipped += 1
                    continue
                record = envelope(self.settings.user_id, data_type, ROUTE, point)
                key = f"{data_type.name}|{record['point_id']}"
                if key in self.seen:  # pages shifted under us while new points arrived
                    self.report.duplicates_skipped += 1
                    continue
                try:
                    month = point_month(data_type, point)
                except MalformedResponseError:
                    self.report.invalid_skipped += 1
                    continue
                self.seen.add(key)
                self.batches.add(data_type.name, month, record)
                new_points += 1
            self.pages += 1
            pages_this_type += 1
            idle_pages = 0 if new_points else idle_pages + 1
            token = self._next_token(data_type, body, pages_this_type, followed, idle_pages)
            if not token:
                break
            self.cursors[data_type.name] = {"start": start.isoformat(), "end": end.isoformat(), "page_token": token}
            if pages_this_type % self.settings.checkpoint_pages == 0:
                self.checkpoint()
        self.cursors.pop(data_type.name, None)
        self.done_through[data_type.name] = (end - timedelta(days=1)).isoformat()
        self.checkpoint()

    @staticmethod
    def _next_token(
        data_type: DataType, body: Mapping[str, Any], page: int, followed: set[str], idle_pages: int
    ) -> str | None:
        """The page's `nextPageToken`, or `MalformedResponseError` when following it could loop forever: a token
        already followed in this window, or too many pages in a row with no new point."""
        token = body.get("nextPageToken") or None
        if token is None:
            return None
        where = f"{LIST_ENDPOINT.format(data_type=data_type.name)} page {page}"
        if not isinstance(token, str):
            raise MalformedResponseError(f"{where}: nextPageToken is not a string")
        if token in followed:
            raise MalformedResponseError(
                f"{where} gave a nextPageToken already followed in this window; stopped so the sync cannot loop"
            )
        if idle_pages >= MAX_PAGES_WITHOUT_NEW_POINTS:
            raise MalformedResponseError(
                f"{where}: {idle_pages} pages in a row without a new data point; stopped so the sync cannot loop"
            )
        followed.add(token)
        return token

    def checkpoint(self) -> None:
        """Land what is buffered, then save the cursors and finished watermarks."""
        self.report.files += self.batches.flush()
        self.state.setdefault("through", {}).update(self.done_through)
        self.state["cursor"] = dict(self.cursors)
        self.save()

    def save(self) -> None:
        """Write the state file with this run's outcome and what the limiter knows."""
        self.state.update(
            user_id=self.settings.user_id,
            rate_limit=self.limiter.snapshot(),
            last_run_id=self.report.run_id,
            updated_at=iso_utc(self.clock.now()),
            stopped_reason=self.report.stopped_reason,
            resume_at=iso_utc(self.report.resume_at) if self.report.resume_at else None,
        )
        save_state(self.landing.store, SOURCE, self.state)

    def _show(self, data_type: DataType, pages_this_type: int, types_left: int) -> None:
        if not self.progress.due():
            return
        pages_per_type = max(pages_this_type, 1)
        calls_left = types_left * pages_per_type + 1
        eta = self.limiter.seconds_for_calls(calls_left) + calls_left * self.client.ledger.mean_duration_seconds()
        points = self.batches.pending() + sum(self.batches.landed.values())
        self.progress.show(
            f"google-health · {data_type.name} page {pages_this_type + 1} · {points:,} points · "
            f"{self.client.ledger.calls:,} calls · {self.limiter.describe()} · left ~{format_duration(eta)}"
        )


def _final_message(
    report: SyncReport, stop: SyncStop | None, run: _GoogleHealthRun, secrets: list[Secret | None]
) -> str:
    if stop is not None:
        message = redact(f"google-health stopped ({stop.reason}): {stop.message}", secrets)
        if run.cursors:
            message += "; the next run resumes " + ", ".join(sorted(run.cursors)) + " at the saved page"
        log.warning("%s", message)
        return message
    if report.stopped_reason == COMPLETED:
        return f"google-health up to date through {max(run.done_through.values(), default='-')}"
    return f"google-health crashed after landing {report.records_landed:,} points; the state points after them"


def sync_google_health(
    settings: GoogleHealthSettings,
    landing: LandingZone,
    *,
    run_id: str | None = None,
    clock: Clock | None = None,
    session: requests.Session | None = None,
    progress: TextIO | None = sys.stderr,
    today: date | None = None,
    force: bool = False,
) -> SyncReport:
    """Pull every configured data type from its watermark (or resume cursor) to today.

    Returns a `SyncReport`; a stop is not an exception: the report says why and when to run again.
    """
    clock = clock or SystemClock()
    run_id = run_id or new_run_id(clock.now())
    report = SyncReport(source=SOURCE, run_id=run_id)
    state = load_state(landing.store, SOURCE)
    resume_at = state.get("resume_at")
    if not force and resume_at and clock.now() < parse_iso_utc(resume_at):
        report.stopped_reason, report.resume_at = NOT_YET, parse_iso_utc(resume_at)
        stopped = state.get("stopped_reason")
        report.message = f"google-health: the previous run stopped ({stopped}); run after {resume_at}"
        return report
    ledger = CallLedger(SOURCE, run_id, clock)
    client, auth, limiter = open_google_health_client(settings, ledger=ledger, clock=clock, session=session)
    if state.get("rate_limit"):
        limiter.restore(state["rate_limit"])
    run = _GoogleHealthRun(settings, landing, client, limiter, state, report, ProgressLine(progress), clock)
    stop: SyncStop | None = None
    try:
        run.fetch(today or clock.now().date())
    except SyncStop as caught:
        stop = caught
        report.stopped_reason, report.resume_at = stop.reason, stop.resume_at
    except BaseException:
        report.stopped_reason = CRASHED
        raise
    finally:
        run.checkpoint()
        report.landed = dict(run.batches.landed)
        report.calls = ledger.calls
        report.ledger_files = ledger.land(landing)
        report.message = _final_message(report, stop, run, auth.secrets())
        run.progress.finish(f"google-health · {report.calls:,} calls · {report.message}")
    return report
