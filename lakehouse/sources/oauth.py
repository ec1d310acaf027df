"""OAuth2 refresh-token grant for both APIs, with rotating refresh tokens kept in the token file.

Strava sends the client credentials as form fields; Fitbit as HTTP Basic. Either way the newest refresh
token is written (0600) before the new access token is used, and a refused refresh token ends the run with
a message that says how to re-authorise.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

from lakehouse.sources.clock import Clock, epoch_seconds
from lakehouse.sources.credentials import Secret, TokenFile, TokenSet
from lakehouse.sources.errors import (
    ApiRequestError,
    CredentialsError,
    EndpointGoneError,
    MalformedResponseError,
    NetworkError,
    ReauthorizationRequiredError,
    ServerUnavailableError,
)
from lakehouse.sources.http import CallLedger, HttpSettings

log = logging.getLogger(__name__)

DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)
REFUSED_STATUSES = frozenset({400, 401})
INVALID_CLIENT_MARKERS = ("invalid_client", "client_id", "client_secret")


@dataclass(frozen=True)
class OAuthClient:
    """One registered app: where tokens come from and how it proves who it is."""

    source: str
    token_url: str
    token_endpoint: str  # the path, for the ledger
    client_id: str
    client_secret: Secret
    basic_auth: bool  # Fitbit: HTTP Basic; Strava: form fields
    refresh_token_env: str  # e.g. STRAVA_REFRESH_TOKEN, named in the re-authorise message
    client_env_prefix: str  # e.g. STRAVA_, for the "check your client id" message


def _refusal_is_about_client(body: Any) -> bool:
    """Whether a 400/401 from the token endpoint blames the client credentials rather than the grant."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):  # Google: {"error": "invalid_client"}
        return body["error"] == "invalid_client"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return False
    fields = {
        str(error.get(key, "")).lower() for error in errors if isinstance(error, dict) for key in ("errorType", "field")
    }
    return any(marker in fields for marker in INVALID_CLIENT_MARKERS)


class TokenManager:
    """Hands out a valid access token, refreshing near expiry or on demand, and persists rotations."""

    def __init__(
        self,
        client: OAuthClient,
        token_file: TokenFile,
        bootstrap_refresh_token: Secret | None,
        *,
        session: requests.Session,
        ledger: CallLedger,
        clock: Clock,
        http: HttpSettings,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self.client = client
        self.token_file = token_file
        self.bootstrap = bootstrap_refresh_token
        self.session = session
        self.ledger = ledger
        self.clock = clock
        self.http = http
        self.refresh_margin = refresh_margin
        stored = token_file.load()
        if stored is None and not bootstrap_refresh_token:
            raise CredentialsError(
                f"no {client.source} refresh token: set {client.refresh_token_env} "
                f"(or provide the token file {token_file.path})"
            )
        self.tokens = stored or TokenSet(refresh_token=bootstrap_refresh_token)  # type: ignore[arg-type]

    @property
    def user_id(self) -> str | None:
        """The user the tokens belong to (Fitbit's token answer says so)."""
        return self.tokens.user_id

    def secrets(self) -> list[Secret | None]:
        """Every secret this manager knows, for redaction."""
        return [
            self.tokens.refresh_token,
            self.tokens.access_token,
            self.bootstrap,
            self.client.client_secret,
        ]

    def _expiring(self) -> bool:
        if not self.tokens.access_token or self.tokens.expires_at is None:
            return True
        deadline = self.tokens.expires_at - self.refresh_margin.total_seconds()
        return epoch_seconds(self.clock.now()) >= deadline

    def access_token(self) -> Secret:
        """The current access token, refreshed first if it expires within the margin."""
        if self._expiring():
            self.refresh()
        assert self.tokens.access_token is not None
        return self.tokens.access_token

    def refresh(self) -> None:
        """Trade the refresh token for new tokens; if the stored one is refused, try the environment's."""
        try:
            self._refresh_with(self.tokens.refresh_token)
        except ReauthorizationRequiredError:
            if not self.bootstrap or self.bootstrap == self.tokens.refresh_token:
                raise
            log.info(
                "stored %s refresh token refused; trying %s",
                self.client.source,
                self.client.refresh_token_env,
            )
            self._refresh_with(self.bootstrap)

    def _post(self, refresh_token: Secret) -> requests.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
        auth: tuple[str, str] | None = None
        if self.client.basic_auth:
            auth = (self.client.client_id, self.client.client_secret.reveal())
        else:
            data |= {"client_id": self.client.client_id, "client_secret": self.client.client_secret.reveal()}
        started_at, started = self.clock.now(), time.monotonic()
        try:
            # Never followed: a 307/308 to another host would carry the client secret and refresh token along.
            response = self.session.post(
                self.client.token_url, data=data, auth=auth, timeout=self.http.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            self._record(started_at, started, None, "network_error", error=type(exc).__name__)
            raise NetworkError(f"{self.client.source} token refresh failed: {type(exc).__name__}") from exc
        status = response.status_code
        outcome = "ok" if 200 <= status < 300 else ("refused" if status in REFUSED_STATUSES else "error")
        self._record(started_at, started, response.status_code, outcome, headers=response.headers)
        return response

    def _record(
        self,
        started_at: Any,
        started: float,
        status: int | None,
        outcome: str,
        headers: Any = None,
        error: str | None = None,
    ) -> None:
        self.ledger.record(
            method="POST",
            endpoint=self.client.token_endpoint,
            params={"grant_type": "refresh_token"},
            started_at=started_at,
            duration_ms=(time.monotonic() - started) * 1000,
            status=status,
            outcome=outcome,
            headers=headers,
            error=error,
        )

    def _refresh_with(self, refresh_token: Secret) -> None:
        response = self._post(refresh_token)
        if response.status_code in REFUSED_STATUSES:
            raise ReauthorizationRequiredError(self._refusal_message(response))
        if response.status_code == 410:
            raise EndpointGoneError(f"{self.client.source} token endpoint answered 410 Gone: it has been switched off")
        if response.status_code >= 500:
            raise ServerUnavailableError(f"{self.client.source} token endpoint answered {response.status_code}")
        if 300 <= response.status_code < 400:
            raise ApiRequestError(
                f"{self.client.source} token endpoint answered {response.status_code} (a redirect: not followed, "
                f"the client secret and refresh token go to {self.client.token_url} only); check the token URL",
                status=response.status_code,
            )
        if not response.ok:
            raise ApiRequestError(
                f"{self.client.source} token endpoint answered {response.status_code}",
                status=response.status_code,
            )
        self.tokens = self._parse(response, refresh_token)
        self.token_file.save(self.tokens)
        log.info(
            "%s access token refreshed; the refresh token is stored in %s",
            self.client.source,
            self.token_file.path,
        )

    def _refusal_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested too deep for Python's reader
            body = None
        prefix = self.client.client_env_prefix
        if _refusal_is_about_client(body):
            return (
                f"{self.client.source} refused the client credentials ({response.status_code}): "
                f"check {prefix}CLIENT_ID and {prefix}CLIENT_SECRET"
            )
        return (
            f"{self.client.source} refused the refresh token ({response.status_code}, invalid_grant): "
            f"re-authorise the app, set {self.client.refresh_token_env} to the new refresh token "
            f"and run again (the token file {self.token_file.path} is replaced on the next refresh)"
        )

    def _parse(self, response: requests.Response, used: Secret) -> TokenSet:
        source = self.client.source
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested too deep for Python's reader
            body = None
        if not isinstance(body, dict):
            raise MalformedResponseError(f"{source} token answer is not a JSON object")
        rotated = body.get("refresh_token")
        new_refresh = Secret(rotated) if isinstance(rotated, str) and rotated else used
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            if new_refresh != used:  # the used refresh token may be dead already: keep the one that replaced it
                self.tokens = TokenSet(refresh_token=new_refresh, user_id=self.tokens.user_id)
                self.token_file.save(self.tokens)
            raise MalformedResponseError(f"{source} token answer has no access_token (a non-empty string)")
        expires_at = _whole_number(body.get("expires_at"))
        if expires_at is None:
            expires_in = _whole_number(body.get("expires_in"))
            if expires_in is None and body.get("expires_in") is not None:
                log.warning("%s token answer has an unreadable expires_in; refreshing before the next call", source)
            expires_at = epoch_seconds(self.clock.now()) + (expires_in or 0)
        return TokenSet(
            refresh_token=new_refresh,
            access_token=Secret(access),
            expires_at=expires_at,
            user_id=str(body["user_id"]) if body.get("user_id") else self.tokens.user_id,
        )


def _whole_number(value: Any) -> int | None:
    """Seconds from a token answer: an int, a finite float or a string of digits (`"21600"`); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:  # "soon", "", or more than 4,300 digits
            return None
    return None
