"""The HTTP layer both API clients share: retries, the call ledger, and one `get_json` that knows the rules.

- 5xx answers, connection errors and timeouts are retried with exponential backoff by urllib3's `Retry`,
  mounted on the session; 429 is not retried there: the rate limiter decides when to ask again.
- Every call lands in the ledger: endpoint template (never a token), status, rate-limit headers, duration.
- A 401 refreshes the access token once; a body that is not JSON is asked for again once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lakehouse.landing import LandedFile, LandingZone
from lakehouse.sources.clock import Clock, iso_utc, next_quarter_hour
from lakehouse.sources.credentials import Secret, redact
from lakehouse.sources.errors import (
    ApiRequestError,
    EndpointGoneError,
    MalformedResponseError,
    NetworkError,
    RateLimitedError,
    ServerUnavailableError,
    UnauthorizedError,
)
from lakehouse.sources.ratelimit import RateLimiter, rate_limit_headers

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET"})  # a token refresh (POST) is never replayed: it rotates the refresh token
LEDGER_SOURCE = "_ledger"
USER_AGENT = "fitness-lakehouse/0.1 (python-requests)"


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retries and patience; tests shrink the backoff so nothing really sleeps."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_factor: float = 1.0  # urllib3: 0 s, then factor * 2^(n-1) between retries
    backoff_max: float = 120.0
    max_rate_limit_waits: int = 8  # consecutive 429s (each after a fresh window) before stopping
    malformed_retries: int = 1
    trust_env: bool = True  # honour HTTPS_PROXY / NO_PROXY / .netrc from the environment

    @property
    def timeout(self) -> tuple[float, float]:
        """The (connect, read) pair requests takes."""
        return self.connect_timeout, self.read_timeout


def build_session(http: HttpSettings) -> requests.Session:
    """A `requests.Session` whose adapters retry 5xx, connection errors and timeouts with backoff."""
    retry = Retry(
        total=http.max_retries,
        connect=http.max_retries,
        read=http.max_retries,
        status=http.max_retries,
        other=0,
        backoff_factor=http.backoff_factor,
        backoff_max=http.backoff_max,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=RETRY_METHODS,
        raise_on_status=False,  # hand back the last 5xx so the ledger sees it
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session = requests.Session()
    session.trust_env = http.trust_env
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


def retries_used(response: requests.Response) -> int:
    """How many times urllib3 retried before this response."""
    retries = getattr(response.raw, "retries", None)
    return len(retries.history) if retries is not None else 0


class CallLedger:
    """Every API call of one run, landed as `_ledger/<source>/month=YYYY-MM/<run-id>.json`."""

    def __init__(self, source: str, run_id: str, clock: Clock) -> None:
        self.source = source
        self.run_id = run_id
        self.clock = clock
        self.records: list[dict[str, Any]] = []

    def record(
        self,
        *,
        method: str,
        endpoint: str,
        params: Mapping[str, object],
        started_at: datetime,
        duration_ms: float,
        status: int | None,
        outcome: str,
        headers: Mapping[str, str] | None = None,
        retries: int = 0,
        error: str | None = None,
    ) -> None:
        """Add one call (endpoint is the template, e.g. `/api/v3/activities/{id}`; params hold no secrets)."""
        self.records.append(
            {
                "run_id": self.run_id,
                "source": self.source,
                "seq": len(self.records) + 1,
                "method": method,
                "endpoint": endpoint,
                "params": {key: str(value) for key, value in params.items()},
                "status": status,
                "outcome": outcome,
                "retries": retries,
                "started_at": iso_utc(started_at),
                "duration_ms": round(duration_ms, 3),
                "rate_limit": rate_limit_headers(headers or {}),
                "error": error,
            }
        )

    @property
    def calls(self) -> int:
        """Calls so far (urllib3 retries inside one call not counted separately)."""
        return len(self.records)

    def mean_duration_seconds(self) -> float:
        """Average wall time of a call, for the time-left estimate."""
        if not self.records:
            return 0.0
        return sum(r["duration_ms"] for r in self.records) / len(self.records) / 1000.0

    def land(self, landing: LandingZone) -> list[LandedFile]:
        """Write the ledger by month of each call."""
        return landing.write_json_by_month(
            source=LEDGER_SOURCE,
            entity=self.source,
            run_id=self.run_id,
            records=self.records,
            month_of=lambda record: record["started_at"][:7],
        )


class TokenProvider(Protocol):
    """An access token that refreshes itself."""

    def access_token(self) -> Secret:
        """A token valid for at least a few more minutes."""

    def refresh(self) -> None:
        """Get a new access token now (after a 401)."""

    def secrets(self) -> list[Secret | None]:
        """Every secret it holds, so that server text quoted in an error can be redacted."""


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 401:
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"


class ApiClient:
    """GET JSON from one API with auth, rate limits, retries and the ledger."""

    def __init__(
        self,
        *,
        base_url: str,
        session: requests.Session,
        auth: TokenProvider,
        limiter: RateLimiter,
        ledger: CallLedger,
        clock: Clock,
        http: HttpSettings,
        error_summary: Callable[[requests.Response], str],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.auth = auth
        self.limiter = limiter
        self.ledger = ledger
        self.clock = clock
        self.http = http
        self.error_summary = error_summary

    def get_json(
        self,
        endpoint: str,
        params: Mapping[str, object] | None = None,
        path_params: Mapping[str, object] | None = None,
    ) -> Any:
        """The parsed body of `GET base_url + endpoint`, or a `SyncStop` saying why not."""
        params = dict(params or {})
        path_params = dict(path_params or {})
        refreshed, rate_waits, malformed = False, 0, 0
        while True:
            self.limiter.before_request()
            response = self._send(endpoint, params, path_params)
            status = response.status_code
            if status == 401:
                if refreshed:
                    raise UnauthorizedError(
                        f"{endpoint} stayed unauthorised (401: {self._summary(response)}) after a token "
                        "refresh; check that the app was authorised with the scopes this sync needs"
                    )
                log.info("%s answered 401; refreshing the access token once", endpoint)
                self.auth.refresh()
                refreshed = True
                continue
            if status == 429:
                rate_waits += 1
                if rate_waits > self.http.max_rate_limit_waits:
                    resume_at = next_quarter_hour(self.clock.now())
                    raise RateLimitedError(
                        f"{endpoint} kept answering 429 after {self.http.max_rate_limit_waits} waits; "
                        f"run again after {iso_utc(resume_at)}",
                        resume_at,
                    )
                self.limiter.after_rate_limited(response.headers)
                continue
            self._raise_for_status(endpoint, response)
            try:
                return response.json()
            except (ValueError, RecursionError):  # RecursionError: `[[[[...` nested too deep for Python's reader
                malformed += 1
                if malformed > self.http.malformed_retries:
                    raise MalformedResponseError(
                        f"{endpoint} returned a body that is not valid JSON ({len(response.content)} bytes), "
                        f"{malformed} times"
                    ) from None
                log.warning("%s returned malformed JSON; asking again", endpoint)

    def _raise_for_status(self, endpoint: str, response: requests.Response) -> None:
        status = response.status_code
        if status >= 500:
            raise ServerUnavailableError(
                f"{endpoint} answered {status} after {self.http.max_retries} retries; try again later"
            )
        if status == 410:
            raise EndpointGoneError(f"{endpoint} answered 410 Gone: this API has been switched off")
        if status >= 400:
            raise ApiRequestError(f"{endpoint} answered {status} ({self._summary(response)})", status=status)

    def _summary(self, response: requests.Response) -> str:
        """The error body's summary, with any secret the server echoed back in it redacted."""
        try:
            summary = self.error_summary(response)
        except RecursionError:
            summary = "unreadable error body"
        return redact(summary, self.auth.secrets())

    def _send(self, endpoint: str, params: dict[str, object], path_params: dict[str, object]) -> requests.Response:
        token = self.auth.access_token()
        url = self.base_url + endpoint.format(**path_params)
        started_at, started = self.clock.now(), time.monotonic()
        ledger_params = {**path_params, **params}
        try:
            response = self.session.get(
                url,
                params=params,
                headers={"Authorization": f"Bearer {token.reveal()}"},
                timeout=self.http.timeout,
            )
        except requests.RequestException as exc:
            self.ledger.record(
                method="GET",
                endpoint=endpoint,
                params=ledger_params,
                started_at=started_at,
                duration_ms=(time.monotonic() - started) * 1000,
                status=None,
                outcome="network_error",
                retries=self.http.max_retries,
                error=type(exc).__name__,
            )
            self.limiter.observe({})
            raise NetworkError(
                f"{endpoint}: {type(exc).__name__} after {self.http.max_retries} retries; try again later"
            ) from exc
        retries = retries_used(response)
        self.ledger.record(
            method="GET",
            endpoint=endpoint,
            params=ledger_params,
            started_at=started_at,
            duration_ms=(time.monotonic() - started) * 1000,
            status=response.status_code,
            outcome=_outcome(response.status_code),
            headers=response.headers,
            retries=retries,
        )
        if not rate_limit_headers(response.headers):  # retried attempts count too; headers would say so
            for _ in range(retries):
                self.limiter.observe({})
        self.limiter.observe(response.headers)
        return response
