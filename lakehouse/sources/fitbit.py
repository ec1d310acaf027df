"""Fitbit Web API (intraday) -> landing zone: one request per resource per day, landed by month.

Grain of what lands: `fitbit/<resource>` one record per user, resource and day per pull:
`{"user_id", "resource", "date", "detail_level", "response": <the raw body>}`. Months are the month of the
day (the user's local calendar, as Fitbit reports it). Bronze keeps every pull; silver keeps the newest.

A run goes day by day (all resources of a day, then the next day) from the day after each resource's
watermark, minus an overlap of one day (today is still filling up), to today (UTC). 150 requests an hour:
the limiter reads `Fitbit-Rate-Limit-Remaining/-Reset` and waits for the reset. The watermark of each
resource moves only after its days have landed.
"""

from __future__ import annotations

import logging
import os
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
from lakehouse.sources.errors import CredentialsError, EndpointGoneError, MalformedResponseError, SyncStop
from lakehouse.sources.http import ApiClient, CallLedger, HttpSettings, build_session
from lakehouse.sources.oauth import OAuthClient, TokenManager
from lakehouse.sources.progress import ProgressLine, format_duration
from lakehouse.sources.ratelimit import FitbitRateLimiter
from lakehouse.sources.sync import (
    COMPLETED,
    CRASHED,
    NOT_YET,
    MonthlyBatches,
    SyncReport,
    load_state,
    save_state,
)

log = logging.getLogger(__name__)

SOURCE = "fitbit"
DEFAULT_BASE_URL = "https://api.fitbit.com"
TOKEN_ENDPOINT = "/oauth2/token"
INTRADAY_ENDPOINT = "/1/user/-/activities/{resource}/date/{date}/1d/{detail}.json"
RESOURCES = ("heart", "steps", "calories", "distance", "elevation", "floors")
HEART_DETAIL_LEVELS = ("1sec", "1min", "5min", "15min")
ACTIVITY_DETAIL_LEVELS = ("1min", "5min", "15min")
DEFAULT_FIRST_DAYS = 7  # a first run without a start date pulls the last week
DEFAULT_OVERLAP_DAYS = 1  # re-pull the last day pulled: it may have been today, still filling up
DEFAULT_CHECKPOINT_DAYS = 7
GONE_MESSAGE = (
    "fitbit: the legacy Fitbit Web API answered 410 Gone (Google turned it off on 2026-11-02); "
    "use `python -m jobs.ingest google-health` (Google Health API) or "
    "`python -m jobs.ingest takeout <export.zip>` (Google Takeout) instead"
)


@dataclass(frozen=True)
class FitbitSettings:
    """Credentials, endpoints and knobs of a Fitbit sync (secrets from the environment, never `conf/`)."""

    client_id: str
    client_secret: Secret
    refresh_token: Secret | None
    token_file: Path
    base_url: str = DEFAULT_BASE_URL
    resources: tuple[str, ...] = RESOURCES
    heart_detail: str = "1min"
    activity_detail: str = "1min"
    start_date: date | None = None  # where a first run starts (default: a week ago)
    overlap_days: int = DEFAULT_OVERLAP_DAYS
    checkpoint_days: int = DEFAULT_CHECKPOINT_DAYS
    max_wait_seconds: float | None = None  # longest wait for the hourly reset; None: always wait
    http: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self) -> None:
        unknown = set(self.resources) - set(RESOURCES)
        if unknown:
            raise ValueError(f"unknown Fitbit resources {sorted(unknown)}; known: {', '.join(RESOURCES)}")
        if self.heart_detail not in HEART_DETAIL_LEVELS:
            raise ValueError(
                f"heart detail level must be one of {HEART_DETAIL_LEVELS}, not {self.heart_detail!r}"
            )
        if self.activity_detail not in ACTIVITY_DETAIL_LEVELS:
            raise ValueError(
                f"activity detail level must be one of {ACTIVITY_DETAIL_LEVELS} (no 1sec), "
                f"not {self.activity_detail!r}"
            )

    @property
    def token_url(self) -> str:
        """`https://api.fitbit.com/oauth2/token`."""
        return self.base_url.rstrip("/") + TOKEN_ENDPOINT

    def detail_level(self, resource: str) -> str:
        """The detail level asked for `resource`."""
        return self.heart_detail if resource == "heart" else self.activity_detail

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> FitbitSettings:
        """Read `FITBIT_CLIENT_ID`, `FITBIT_CLIENT_SECRET`, `FITBIT_REFRESH_TOKEN`, `FITBIT_TOKEN_FILE`,
        `FITBIT_BASE_URL`, `FITBIT_START_DATE`, `FITBIT_HEART_DETAIL`, `FITBIT_RESOURCES` (comma-separated).

        Example: `FitbitSettings.from_env(os.environ, heart_detail="1sec")`.
        """
        environ = os.environ if environ is None else environ
        missing = [name for name in ("FITBIT_CLIENT_ID", "FITBIT_CLIENT_SECRET") if not environ.get(name)]
        if missing:
            raise CredentialsError(f"set {' and '.join(missing)} (see https://dev.fitbit.com/apps)")
        start = environ.get("FITBIT_START_DATE")
        resources = environ.get("FITBIT_RESOURCES")
        settings = cls(
            client_id=environ["FITBIT_CLIENT_ID"],
            client_secret=Secret(environ["FITBIT_CLIENT_SECRET"]),
            refresh_token=secret_or_none(environ.get("FITBIT_REFRESH_TOKEN")),
            token_file=Path(environ.get("FITBIT_TOKEN_FILE") or default_token_file(SOURCE, environ)),
            base_url=environ.get("FITBIT_BASE_URL") or DEFAULT_BASE_URL,
            resources=tuple(r.strip() for r in resources.split(",") if r.strip()) if resources else RESOURCES,
            heart_detail=environ.get("FITBIT_HEART_DETAIL") or "1min",
            start_date=date.fromisoformat(start) if start else None,
        )
        return replace(settings, **overrides)


def fitbit_error_summary(response: requests.Response) -> str:
    """The `errorType`s of an error body; never the messages, which echo tokens."""
    try:
        types = [str(e.get("errorType", "?")) for e in response.json().get("errors", [])]
        return ", ".join(types) or "no error body"
    except (ValueError, AttributeError, TypeError):
        return "no error body"


def open_fitbit_client(
    settings: FitbitSettings,
    *,
    ledger: CallLedger,
    clock: Clock,
    session: requests.Session | None = None,
) -> tuple[ApiClient, TokenManager, FitbitRateLimiter]:
    """The API client (with its token manager and limiter) that a sync, or a notebook, talks through."""
    session = session or build_session(settings.http)
    oauth = OAuthClient(
        source=SOURCE,
        token_url=settings.token_url,
        token_endpoint=TOKEN_ENDPOINT,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        basic_auth=True,
        refresh_token_env="FITBIT_REFRESH_TOKEN",
        client_env_prefix="FITBIT_",
    )
    auth = TokenManager(
        oauth, TokenFile(settings.token_file), settings.refresh_token,
        session=session, ledger=ledger, clock=clock, http=settings.http,
    )  # fmt: skip
    limiter = FitbitRateLimiter(clock, max_wait_seconds=settings.max_wait_seconds)
    client = ApiClient(
        base_url=settings.base_url, session=session, auth=auth, limiter=limiter, ledger=ledger,
        clock=clock, http=settings.http, error_summary=fitbit_error_summary,
    )  # fmt: skip
    return client, auth, limiter


def first_day(state: Mapping[str, Any], resource: str, settings: FitbitSettings, today: date) -> date:
    """Where `resource` starts this run: its watermark minus the overlap, else the configured start."""
    through = state.get("through", {}).get(resource)
    if through:
        return date.fromisoformat(through) + timedelta(days=1 - settings.overlap_days)
    return settings.start_date or today - timedelta(days=DEFAULT_FIRST_DAYS - 1)


def plan_days(state: Mapping[str, Any], settings: FitbitSettings, today: date) -> list[tuple[date, str]]:
    """Every (day, resource) call of this run, day by day."""
    starts = {resource: first_day(state, resource, settings, today) for resource in settings.resources}
    if not starts:
        return []
    calls: list[tuple[date, str]] = []
    day = min(starts.values())
    while day <= today:
        calls += [(day, resource) for resource in settings.resources if starts[resource] <= day]
        day += timedelta(days=1)
    return calls


class _FitbitRun:
    """One run: the planned (day, resource) calls, landed every `checkpoint_days` days."""

    def __init__(
        self,
        settings: FitbitSettings,
        landing: LandingZone,
        client: ApiClient,
        auth: TokenManager,
        limiter: FitbitRateLimiter,
        state: dict[str, Any],
        report: SyncReport,
        progress: ProgressLine,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.landing = landing
        self.client = client
        self.auth = auth
        self.limiter = limiter
        self.state = state
        self.report = report
        self.progress = progress
        self.clock = clock
        self.batches = MonthlyBatches(landing, SOURCE, report.run_id)
        self.fetched_through: dict[str, str] = {}

    def fetch(self, calls: list[tuple[date, str]]) -> None:
        """Fetch every planned call in order."""
        if self.auth.user_id is None:
            self.auth.refresh()  # the token answer names the user
        days_done: set[date] = set()
        for index, (day, resource) in enumerate(calls):
            self._show(day, resource, len(calls) - index)
            level = self.settings.detail_level(resource)
            path = {"resource": resource, "date": day.isoformat(), "detail": level}
            body = self.client.get_json(INTRADAY_ENDPOINT, path_params=path)
            if not isinstance(body, dict):
                raise MalformedResponseError(f"{resource} for {day} is not a JSON object")
            record = {
                "user_id": self.auth.user_id,
                "resource": resource,
                "date": day.isoformat(),
                "detail_level": level,
                "response": body,
            }
            self.batches.add(resource, day.isoformat()[:7], record)
            self.fetched_through[resource] = day.isoformat()
            if day not in days_done:
                days_done.add(day)
                if len(days_done) % self.settings.checkpoint_days == 0:
                    self.checkpoint()

    def checkpoint(self) -> None:
        """Land what is buffered, then move each resource's watermark and save the state."""
        self.report.files += self.batches.flush()
        self.state.setdefault("through", {}).update(self.fetched_through)
        self.save()

    def save(self) -> None:
        """Write the state file with this run's outcome and what the limiter knows."""
        self.state.update(
            user_id=self.auth.user_id,
            rate_limit=self.limiter.snapshot(),
            last_run_id=self.report.run_id,
            updated_at=iso_utc(self.clock.now()),
            stopped_reason=self.report.stopped_reason,
            resume_at=iso_utc(self.report.resume_at) if self.report.resume_at else None,
        )
        save_state(self.landing.store, SOURCE, self.state)

    def _show(self, day: date, resource: str, calls_left: int) -> None:
        if not self.progress.due():
            return
        eta = (
            self.limiter.seconds_for_calls(calls_left)
            + calls_left * self.client.ledger.mean_duration_seconds()
        )
        days = self.batches.pending() + sum(self.batches.landed.values())
        self.progress.show(
            f"fitbit · {day} {resource} · {days:,} resource-days · {self.client.ledger.calls:,} calls · "
            f"{self.limiter.describe()} · left ~{format_duration(eta)}"
        )


def _final_message(
    report: SyncReport,
    stop: SyncStop | None,
    fetched_through: Mapping[str, str],
    secrets: list[Secret | None],
) -> str:
    if isinstance(stop, EndpointGoneError):
        log.warning("%s", GONE_MESSAGE)
        return GONE_MESSAGE
    if stop is not None:
        message = redact(f"fitbit stopped ({stop.reason}): {stop.message}", secrets)
        where = ", ".join(f"{resource} through {day}" for resource, day in sorted(fetched_through.items()))
        message += f"; landed {where}" if where else ""
        log.warning("%s", message)
        return message
    if report.stopped_reason == COMPLETED:
        return f"fitbit up to date through {max(fetched_through.values(), default='-')}"
    return f"fitbit crashed after landing {report.records_landed:,} records; the state points after them"


def sync_fitbit(
    settings: FitbitSettings,
    landing: LandingZone,
    *,
    run_id: str | None = None,
    clock: Clock | None = None,
    session: requests.Session | None = None,
    progress: TextIO | None = sys.stderr,
    today: date | None = None,
    force: bool = False,
) -> SyncReport:
    """Pull every configured resource, one day per request, from each watermark (or the start) to today.

    Returns a `SyncReport`; a stop is not an exception: the report says why and when to run again. An
    `invalid_grant` stops with a message saying to re-authorise and set `FITBIT_REFRESH_TOKEN`.
    """
    clock = clock or SystemClock()
    run_id = run_id or new_run_id(clock.now())
    report = SyncReport(source=SOURCE, run_id=run_id)
    state = load_state(landing.store, SOURCE)
    resume_at = state.get("resume_at")
    if not force and resume_at and clock.now() < parse_iso_utc(resume_at):
        report.stopped_reason, report.resume_at = NOT_YET, parse_iso_utc(resume_at)
        report.message = (
            f"fitbit: the previous run stopped ({state.get('stopped_reason')}); run after {resume_at}"
        )
        return report
    ledger = CallLedger(SOURCE, run_id, clock)
    client, auth, limiter = open_fitbit_client(settings, ledger=ledger, clock=clock, session=session)
    if state.get("rate_limit"):
        limiter.restore(state["rate_limit"])
    run = _FitbitRun(settings, landing, client, auth, limiter, state, report, ProgressLine(progress), clock)
    calls = plan_days(state, settings, today or clock.now().date())
    stop: SyncStop | None = None
    try:
        run.fetch(calls)
    except SyncStop as caught:
        stop = caught
        report.stopped_reason, report.resume_at = stop.reason, stop.resume_at
    except BaseException:
        report.stopped_reason = CRASHED
        raise
    finally:
        run.checkpoint()  # land what was fetched, then move the watermarks and save the state
        report.landed = dict(run.batches.landed)
        report.calls = ledger.calls
        report.ledger_files = ledger.land(landing)
        report.message = _final_message(report, stop, run.fetched_through, auth.secrets())
        run.progress.finish(f"fitbit · {report.calls:,} calls · {report.message}")
    return report
