"""Strava API v3 -> landing zone: activity summaries by month, and optionally details and streams.

Grain of what lands: `strava/activities` one record per activity summary per pull (a SummaryActivity as the
API returned it); `strava/activity_details` one DetailedActivity per pull; `strava/activity_streams` one
`{"activity_id": id, "streams": StreamSet}` per pull. Months are the month of `start_date` (UTC). Bronze
keeps every pull; silver keeps the newest per activity id.

How a sync walks the list (`GET /api/v3/athlete/activities`, newest first):
- A *pass* covers `after` = watermark minus an overlap (kudos keep changing after upload) up to `before` =
  now plus a day, with `per_page=200`, paging until an empty page. Sending both bounds keeps the order the
  recordings show (descending); sending only `after` may not.
- A list entry without a usable id or start_date is skipped and counted (`invalid_skipped`); a page of nothing
  else is passed like its entries, full or not (only an empty page ends the list), so the pages after it land and
  the pass completes; the watermark comes from landed activities only. The paging stops (`malformed_response`)
  on a page that lands nothing and repeats an activity this run landed (a server ignoring `page`), or after 25
  pages in a row without a readable activity.
- A pass interrupted (daily budget spent, 5xx after retries, ...) leaves a cursor in `_state/strava.json`:
  `before` = the oldest start time landed plus one second, and the ids at that second (`skip_ids`); the next
  run resumes from there with page 1, so inserted or deleted activities cannot shift it into a gap.
- The watermark moves only when the pass has completed and its data has landed.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import requests

from lakehouse.landing import LandingZone, new_run_id
from lakehouse.sources.clock import Clock, SystemClock, epoch_seconds, from_epoch, iso_utc, parse_iso_utc
from lakehouse.sources.credentials import Secret, TokenFile, default_token_file, redact, secret_or_none
from lakehouse.sources.errors import ApiRequestError, CredentialsError, MalformedResponseError, SyncStop
from lakehouse.sources.http import ApiClient, CallLedger, HttpSettings, build_session
from lakehouse.sources.oauth import OAuthClient, TokenManager
from lakehouse.sources.progress import ProgressLine, format_duration
from lakehouse.sources.ratelimit import StravaRateLimiter
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

SOURCE = "strava"
DEFAULT_BASE_URL = "https://www.strava.com"
TOKEN_ENDPOINT = "/oauth/token"
LIST_ENDPOINT = "/api/v3/athlete/activities"
DETAIL_ENDPOINT = "/api/v3/activities/{id}"
STREAMS_ENDPOINT = "/api/v3/activities/{id}/streams"
ENTITY_ACTIVITIES = "activities"
ENTITY_DETAILS = "activity_details"
ENTITY_STREAMS = "activity_streams"
NEED_DETAIL = "detail"
NEED_STREAMS = "streams"
MAX_PER_PAGE = 200
DEFAULT_OVERLAP = timedelta(days=7)
DEFAULT_CHECKPOINT_PAGES = 25  # land and move the cursor every 25 pages (5,000 activities)
DEFAULT_CHECKPOINT_EXTRAS = 200  # ... and every 200 detail/stream calls
MAX_PAGES_WITHOUT_ACTIVITY = 25  # more list pages in a row with no readable new activity: the API loops, stop
DEFAULT_STREAM_KEYS = (
    "time",
    "latlng",
    "distance",
    "altitude",
    "heartrate",
    "velocity_smooth",
    "cadence",
    "watts",
)
BEFORE_MARGIN = timedelta(days=1)  # `before` of a new pass: tomorrow, so clock skew cannot hide today
HISTORY_FLOOR = datetime(2009, 1, 1, tzinfo=UTC)  # Strava's start: the time-left estimate of a first sync


@dataclass(frozen=True)
class StravaSettings:
    """Credentials, endpoints and knobs of a Strava sync (secrets from the environment, never `conf/`)."""

    client_id: str
    client_secret: Secret
    refresh_token: Secret | None
    token_file: Path
    base_url: str = DEFAULT_BASE_URL
    overlap: timedelta = DEFAULT_OVERLAP
    per_page: int = MAX_PER_PAGE
    fetch_details: bool = False
    fetch_streams: bool = False
    stream_keys: tuple[str, ...] = DEFAULT_STREAM_KEYS
    checkpoint_pages: int = DEFAULT_CHECKPOINT_PAGES
    checkpoint_extras: int = DEFAULT_CHECKPOINT_EXTRAS
    wait_for_daily_reset: bool = False
    short_reserve: int = 0  # calls of each window left for other tools sharing the app's limits
    daily_reserve: int = 0
    http: HttpSettings = field(default_factory=HttpSettings)

    @property
    def token_url(self) -> str:
        """`https://www.strava.com/oauth/token`."""
        return self.base_url.rstrip("/") + TOKEN_ENDPOINT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StravaSettings:
        """Read `STRAVA_CLIENT_ID`, `STRAVA_CLIENT_SECRET`, `STRAVA_REFRESH_TOKEN`, `STRAVA_TOKEN_FILE`,
        `STRAVA_BASE_URL`, `STRAVA_OVERLAP_DAYS`, `STRAVA_FETCH_DETAILS`, `STRAVA_FETCH_STREAMS`.

        Example: `StravaSettings.from_env(os.environ, fetch_details=True)`.
        """
        environ = os.environ if environ is None else environ
        missing = [name for name in ("STRAVA_CLIENT_ID", "STRAVA_CLIENT_SECRET") if not environ.get(name)]
        if missing:
            raise CredentialsError(f"set {' and '.join(missing)} (see https://www.strava.com/settings/api)")
        settings = cls(
            client_id=environ["STRAVA_CLIENT_ID"],
            client_secret=Secret(environ["STRAVA_CLIENT_SECRET"]),
            refresh_token=secret_or_none(environ.get("STRAVA_REFRESH_TOKEN")),
            token_file=Path(environ.get("STRAVA_TOKEN_FILE") or default_token_file(SOURCE, environ)),
            base_url=environ.get("STRAVA_BASE_URL") or DEFAULT_BASE_URL,
            overlap=timedelta(days=float(environ.get("STRAVA_OVERLAP_DAYS") or DEFAULT_OVERLAP.days)),
            fetch_details=environ.get("STRAVA_FETCH_DETAILS", "") in {"1", "true", "yes"},
            fetch_streams=environ.get("STRAVA_FETCH_STREAMS", "") in {"1", "true", "yes"},
        )
        return replace(settings, **overrides)


def strava_error_summary(response: requests.Response) -> str:
    """A Fault body as `message: resource.field code`, without echoing anything else."""
    try:
        body = response.json()
        errors = ", ".join(
            f"{e.get('resource', '')}.{e.get('field', '')} {e.get('code', '')}" for e in body.get("errors", [])
        )
        return f"{body.get('message', '')}: {errors}".strip(": ")
    except (ValueError, AttributeError, TypeError):
        return "no Fault body"


def open_strava_client(
    settings: StravaSettings,
    *,
    ledger: CallLedger,
    clock: Clock,
    session: requests.Session | None = None,
) -> tuple[ApiClient, TokenManager, StravaRateLimiter]:
    """The API client (with its token manager and limiter) that a sync, or a notebook, talks through."""
    session = session or build_session(settings.http)
    oauth = OAuthClient(
        source=SOURCE,
        token_url=settings.token_url,
        token_endpoint=TOKEN_ENDPOINT,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        basic_auth=False,
        refresh_token_env="STRAVA_REFRESH_TOKEN",
        client_env_prefix="STRAVA_",
    )
    auth = TokenManager(
        oauth, TokenFile(settings.token_file), settings.refresh_token,
        session=session, ledger=ledger, clock=clock, http=settings.http,
    )  # fmt: skip
    limiter = StravaRateLimiter(
        clock,
        short_reserve=settings.short_reserve,
        daily_reserve=settings.daily_reserve,
        wait_for_daily_reset=settings.wait_for_daily_reset,
    )
    client = ApiClient(
        base_url=settings.base_url, session=session, auth=auth, limiter=limiter, ledger=ledger,
        clock=clock, http=settings.http, error_summary=strava_error_summary,
    )  # fmt: skip
    return client, auth, limiter


def activity_month(activity: Mapping[str, Any]) -> str:
    """`2025-10` for an activity whose `start_date` is `2025-10-19T20:00:00Z`."""
    return iso_utc(parse_iso_utc(str(activity["start_date"])))[:7]


def streams_by_type(body: Any) -> dict[str, Any]:
    """A StreamSet keyed by type; the legacy array form (`key_by_type=false`) is converted."""
    if isinstance(body, dict):
        return body
    if isinstance(body, list) and all(isinstance(s, dict) and "type" in s for s in body):
        return {s["type"]: {k: v for k, v in s.items() if k != "type"} for s in body}
    raise MalformedResponseError("streams answer is neither a StreamSet object nor a stream array")


def _new_pass(state: Mapping[str, Any], settings: StravaSettings, now: datetime, full_refresh: bool) -> dict[str, Any]:
    watermark = state.get("watermark")
    after = 0
    if watermark and not full_refresh:
        after = max(epoch_seconds(parse_iso_utc(watermark) - settings.overlap), 0)
    return {
        "after": after,
        "before": epoch_seconds(now + BEFORE_MARGIN),
        "skip_ids": [],
        "newest": None,
        "recent": {},
        "pages": 0,
        "landed": 0,
        "started_at": iso_utc(now),
        "runs": 0,
    }


def _activity_id(value: Any) -> int:
    """A list entry's id as the integer it is (`14`, `"14"`, `14.0`); `ValueError` for anything else: `int()` made
    14 of `14.7` (another activity's id, so one of the two was dropped as a duplicate) and 1 of `true`."""
    if isinstance(value, bool):
        raise ValueError(f"id {value!r} is not a number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"id {value!r} is not a whole number")
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError(f"id {value!r} is not a whole number")
    return int(value)


class _StravaRun:
    """One run: resume or start a pass over the list, then fetch queued details and streams."""

    def __init__(
        self,
        settings: StravaSettings,
        landing: LandingZone,
        client: ApiClient,
        limiter: StravaRateLimiter,
        state: dict[str, Any],
        report: SyncReport,
        progress: ProgressLine,
        clock: Clock,
        full_refresh: bool,
    ) -> None:
        self.settings = settings
        self.landing = landing
        self.client = client
        self.limiter = limiter
        self.state = state
        self.report = report
        self.progress = progress
        self.clock = clock
        self.full_refresh = full_refresh
        self.batches = MonthlyBatches(landing, SOURCE, report.run_id)
        self.seen: set[int] = set()
        self.min_epoch: int | None = None
        self.min_ids: set[int] = set()
        self.top_epoch: int | None = None
        self.ordered = True
        self.pages_this_run = 0
        self.queued = {int(entry["id"]) for entry in state.get("pending_extras", [])}

    # ---- the list -------------------------------------------------------------------------------------
    def list_activities(self) -> None:
        """Page through the current pass until an empty page, landing every `checkpoint_pages` pages."""
        pass_ = self.state.get("pass") or _new_pass(self.state, self.settings, self.clock.now(), self.full_refresh)
        pass_["runs"] += 1
        self.state["pass"] = pass_
        window = {"after": pass_["after"], "before": pass_["before"], "per_page": self.settings.per_page}
        skip_ids = set(pass_["skip_ids"])
        page, pages_without_activity = 1, 0
        while True:
            self._show(f"listing page {page} (pass page {pass_['pages'] + 1})", lambda: self._list_calls_left(pass_))
            body = self.client.get_json(LIST_ENDPOINT, {**window, "page": page})
            if not isinstance(body, list):
                raise MalformedResponseError(f"{LIST_ENDPOINT} page {page} is not a JSON array")
            if not body:
                self._complete_pass(pass_)
                return
            taken, repeated = self._take(body, pass_, skip_ids)
            if taken:
                pages_without_activity = 0
            elif repeated:  # the server repeats pages (ignores `page`): going on would loop
                raise MalformedResponseError(f"{LIST_ENDPOINT} page {page} held only activities already seen")
            else:  # unreadable entries (and those at the resume point): skipped, the pass goes on to the empty page
                pages_without_activity += 1
                log.warning("%s page %s held no readable activity that is new; going on", LIST_ENDPOINT, page)
                if pages_without_activity >= MAX_PAGES_WITHOUT_ACTIVITY:
                    raise MalformedResponseError(
                        f"{LIST_ENDPOINT} pages {page - pages_without_activity + 1}..{page}: "
                        f"{pages_without_activity} pages in a row without a readable activity; "
                        "stopped so the sync cannot loop"
                    )
            pass_["pages"] += 1
            self.pages_this_run += 1
            page += 1
            if self.pages_this_run % self.settings.checkpoint_pages == 0:
                self.checkpoint()

    def _take(self, activities: list[Any], pass_: dict[str, Any], skip_ids: set[int]) -> tuple[int, int]:
        """Buffer the activities not seen before in this pass; how many that was, and how many were landed by this
        run already (an unreadable entry is counted in `invalid_skipped`, one at the resume point in neither)."""
        taken = repeated = 0
        for activity in activities:
            try:
                activity_id = _activity_id(activity["id"])
                start = epoch_seconds(parse_iso_utc(str(activity["start_date"])))
            except (KeyError, TypeError, ValueError):
                log.warning("skipping a list entry without a usable id/start_date")
                self.report.invalid_skipped += 1
                continue
            if activity_id in self.seen or activity_id in skip_ids:
                self.report.duplicates_skipped += 1
                repeated += activity_id in self.seen
                continue
            # buffer first: the cursor may only ever move past activities that will land
            self.batches.add(ENTITY_ACTIVITIES, activity_month(activity), activity)
            self.seen.add(activity_id)
            self._track_order(start, activity_id)
            self._track_recent(pass_, activity_id, start)
            pass_["landed"] += 1
            taken += 1
            if self._is_new(activity_id, start):
                self._queue_extras(activity_id, str(activity["start_date"]))
        return taken, repeated

    def _track_order(self, start: int, activity_id: int) -> None:
        if self.min_epoch is not None and start > self.min_epoch and self.ordered:
            log.warning("the activity list is not newest-first; an interrupted pass will restart from its top")
            self.ordered = False
        if self.top_epoch is None:
            self.top_epoch = start
        if self.min_epoch is None or start < self.min_epoch:
            self.min_epoch, self.min_ids = start, {activity_id}
        elif start == self.min_epoch:
            self.min_ids.add(activity_id)

    def _track_recent(self, pass_: dict[str, Any], activity_id: int, start: int) -> None:
        # One activity after the window the pass asked for (a server ignoring `before`, a year-9999 date) must
        # not become the watermark: every later pass would then ask for activities after it and get none.
        if start < pass_["before"] and (pass_["newest"] is None or start > pass_["newest"]):
            pass_["newest"] = start
        if pass_["newest"] is None or start >= pass_["newest"] - self.settings.overlap.total_seconds():
            pass_["recent"][str(activity_id)] = start

    def _is_new(self, activity_id: int, start: int) -> bool:
        """Not pulled by an earlier pass: outside the overlap of the watermark, or not seen in it."""
        if str(activity_id) in self.state.get("recent", {}) or activity_id in self.queued:
            return False
        watermark = self.state.get("watermark")
        if watermark is None:
            return True
        return start > epoch_seconds(parse_iso_utc(watermark) - self.settings.overlap)

    def _queue_extras(self, activity_id: int, start_date: str) -> None:
        needs = [NEED_DETAIL] * self.settings.fetch_details + [NEED_STREAMS] * self.settings.fetch_streams
        if needs:
            self.queued.add(activity_id)
            self.state.setdefault("pending_extras", []).append(
                {"id": activity_id, "start_date": start_date, "need": needs}
            )

    def _complete_pass(self, pass_: dict[str, Any]) -> None:
        old = self.state.get("watermark")
        candidates = [epoch_seconds(parse_iso_utc(old))] if old else []
        if pass_["newest"] is not None:
            candidates.append(pass_["newest"])
        if not candidates:
            self.state["pass"] = None
            return
        watermark = max(candidates)
        floor = watermark - self.settings.overlap.total_seconds()
        recent = {**self.state.get("recent", {}), **pass_["recent"]}
        self.state["recent"] = {key: start for key, start in recent.items() if start >= floor}
        self.state["watermark"] = iso_utc(from_epoch(watermark))
        self.state["pass"] = None

    def _move_cursor(self) -> None:
        """After landing: resume below the oldest activity landed so far (ids at that second skipped)."""
        pass_ = self.state.get("pass")
        if pass_ is None or self.min_epoch is None or not self.ordered:
            return
        carried = set(pass_["skip_ids"]) if pass_["before"] - 1 == self.min_epoch else set()
        pass_["before"] = self.min_epoch + 1
        pass_["skip_ids"] = sorted(carried | self.min_ids)

    def _list_calls_left(self, pass_: dict[str, Any]) -> int | None:
        if not self.pages_this_run or self.min_epoch is None or self.top_epoch is None:
            return None
        floor = pass_["after"] or epoch_seconds(HISTORY_FLOOR)
        covered = self.top_epoch - self.min_epoch
        if covered <= 0:
            return None
        pages_left = math.ceil(self.pages_this_run * max(self.min_epoch - floor, 0) / covered)
        per_page = max(pass_["landed"], 1) / max(pass_["pages"], 1)
        extras_per_activity = int(self.settings.fetch_details) + int(self.settings.fetch_streams)
        return pages_left + 1 + math.ceil(pages_left * per_page * extras_per_activity) + self._extras_left()

    # ---- details and streams -------------------------------------------------------------------------
    def _extras_left(self) -> int:
        return sum(len(entry["need"]) for entry in self.state.get("pending_extras", []))

    def fetch_extras(self) -> None:
        """Fetch queued details and streams in queue order, landing every `checkpoint_extras` calls."""
        queue: list[dict[str, Any]] = self.state.setdefault("pending_extras", [])
        calls = 0
        while queue:
            entry = queue[0]
            while entry["need"]:
                self._show(f"details/streams for activity {entry['id']}", self._extras_left)
                self._fetch_extra(entry, entry["need"][0])
                entry["need"].pop(0)
                calls += 1
                if calls % self.settings.checkpoint_extras == 0:
                    self.checkpoint()
            queue.pop(0)

    def _fetch_extra(self, entry: dict[str, Any], need: str) -> None:
        month = activity_month(entry)
        try:
            if need == NEED_DETAIL:
                detail = self.client.get_json(DETAIL_ENDPOINT, path_params={"id": entry["id"]})
                if not isinstance(detail, dict):
                    self._skip_extra(entry, need, f"{DETAIL_ENDPOINT} answer is not a JSON object")
                    return
                self.batches.add(ENTITY_DETAILS, month, detail)
            else:
                params = {"keys": ",".join(self.settings.stream_keys), "key_by_type": "true"}
                body = self.client.get_json(STREAMS_ENDPOINT, params, path_params={"id": entry["id"]})
                try:
                    streams = streams_by_type(body)
                except MalformedResponseError as error:
                    self._skip_extra(entry, need, error.message)
                    return
                self.batches.add(ENTITY_STREAMS, month, {"activity_id": entry["id"], "streams": streams})
        except ApiRequestError as error:
            if error.status != 404:
                raise
            log.warning("activity %s has no %s (404: deleted or private); skipped", entry["id"], need)
            self.report.missing += 1

    def _skip_extra(self, entry: dict[str, Any], need: str, reason: str) -> None:
        """A detail or streams answer of the wrong shape: skipped, so one bad answer cannot hold up the queue
        (stopping would meet it again at the head of the queue on every run)."""
        log.warning("activity %s: %s; its %s is skipped", entry["id"], reason, need)
        self.report.invalid_skipped += 1

    # ---- landing, state, progress ----------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Land what is buffered, then (only then) move the cursor and save the state."""
        self.report.files += self.batches.flush()
        self._move_cursor()
        self.save()

    def save(self) -> None:
        """Write the state file with this run's outcome and what the limiter knows."""
        self.state["rate_limit"] = self.limiter.snapshot()
        self.state["last_run_id"] = self.report.run_id
        self.state["updated_at"] = iso_utc(self.clock.now())
        self.state["stopped_reason"] = self.report.stopped_reason
        self.state["resume_at"] = iso_utc(self.report.resume_at) if self.report.resume_at else None
        save_state(self.landing.store, SOURCE, self.state)

    def _show(self, phase: str, calls_left: Callable[[], int | None]) -> None:
        if not self.progress.due():
            return
        eta, calls_left = None, calls_left()
        if calls_left is not None:
            eta = self.limiter.seconds_for_calls(calls_left) + calls_left * self.client.ledger.mean_duration_seconds()
        landed = self.batches.landed.get(ENTITY_ACTIVITIES, 0) + self.batches.pending(ENTITY_ACTIVITIES)
        self.progress.show(
            f"strava · {phase} · {landed:,} activities · {self.client.ledger.calls:,} calls · "
            f"{self.limiter.describe()} · left ~{format_duration(eta)}"
        )


def _completion_message(state: Mapping[str, Any], report: SyncReport) -> str:
    skipped = report.invalid_skipped
    return (
        f"strava up to date: {report.activities_landed:,} activities landed this run, "
        f"watermark {state.get('watermark') or 'none (no activities)'}"
        + (f"; {skipped:,} unreadable list entries or answers skipped (see the log)" if skipped else "")
    )


def _stop_message(stop: SyncStop, state: Mapping[str, Any]) -> str:
    pass_ = state.get("pass")
    where = ""
    if pass_:
        where = f"; resume point: activities before {iso_utc(from_epoch(pass_['before']))}"
    pending = len(state.get("pending_extras", []))
    extras = f"; {pending} activities still need details/streams" if pending else ""
    return f"strava stopped ({stop.reason}): {stop.message}{where}{extras}"


def _final_message(
    report: SyncReport, stop: SyncStop | None, state: Mapping[str, Any], secrets: list[Secret | None]
) -> str:
    if stop is not None:
        message = redact(_stop_message(stop, state), secrets)
        log.warning("%s", message)
        return message
    if report.stopped_reason == COMPLETED:
        return _completion_message(state, report)
    return f"strava crashed after landing {report.records_landed:,} records; the state points after them"


def _not_yet(state: Mapping[str, Any], now: datetime, force: bool) -> datetime | None:
    resume_at = state.get("resume_at")
    if force or not resume_at:
        return None
    when = parse_iso_utc(resume_at)
    return when if now < when else None


def sync_strava(
    settings: StravaSettings,
    landing: LandingZone,
    *,
    run_id: str | None = None,
    clock: Clock | None = None,
    session: requests.Session | None = None,
    progress: TextIO | None = sys.stderr,
    full_refresh: bool = False,
    force: bool = False,
) -> SyncReport:
    """Pull what is new since the last completed pass (or resume an interrupted one) into the landing zone.

    Returns a `SyncReport`; a stop (daily budget, persistent 5xx, ...) is not an exception: the report says
    why and when to run again (`resume_at`). `full_refresh` ignores the watermark; `force` ignores a
    `resume_at` left by the previous run.
    """
    clock = clock or SystemClock()
    run_id = run_id or new_run_id(clock.now())
    report = SyncReport(source=SOURCE, run_id=run_id)
    state = load_state(landing.store, SOURCE)
    if (wait_until := _not_yet(state, clock.now(), force)) is not None:
        report.stopped_reason, report.resume_at = NOT_YET, wait_until
        previous = state.get("stopped_reason")
        report.message = f"strava: the previous run stopped ({previous}); run after {iso_utc(wait_until)}"
        return report
    ledger = CallLedger(SOURCE, run_id, clock)
    client, auth, limiter = open_strava_client(settings, ledger=ledger, clock=clock, session=session)
    if state.get("rate_limit"):
        limiter.restore(state["rate_limit"])
    run = _StravaRun(settings, landing, client, limiter, state, report, ProgressLine(progress), clock, full_refresh)
    stop: SyncStop | None = None
    try:
        run.list_activities()
        run.fetch_extras()
    except SyncStop as caught:
        stop = caught
        report.stopped_reason, report.resume_at = stop.reason, stop.resume_at
    except BaseException:
        report.stopped_reason = CRASHED
        raise
    finally:
        run.checkpoint()  # land what was fetched, then move the cursor and save the state
        report.landed = dict(run.batches.landed)
        report.calls = ledger.calls
        report.ledger_files = ledger.land(landing)
        report.message = _final_message(report, stop, state, auth.secrets())
        run.progress.finish(f"strava · {report.calls:,} calls · {report.message}")
    return report
