"""Named reasons an API sync stops early. Each one is a clean stop: what was fetched is landed first.

Messages never carry a token: they are written by this package, not copied from a server's error body.
"""

from __future__ import annotations

from datetime import datetime


class CredentialsError(ValueError):
    """Credentials or the token file are missing or unusable before any call is made."""


class StateFileError(ValueError):
    """A sync's state file in the landing zone is unreadable; no call is made."""


class SyncStop(Exception):
    """A sync stopped before it finished; `resume_at` says when it can go on (None: at any time)."""

    reason = "stopped"

    def __init__(self, message: str, resume_at: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.resume_at = resume_at


class DailyLimitReached(SyncStop):
    """The API's daily request budget is spent; go on after it resets (midnight UTC for Strava)."""

    reason = "daily_limit"


class HourlyLimitReached(SyncStop):
    """The hourly budget is spent and waiting for the reset was not allowed."""

    reason = "hourly_limit"


class RateLimitedError(SyncStop):
    """The server kept answering 429 after waiting for fresh windows."""

    reason = "rate_limited"


class ServerUnavailableError(SyncStop):
    """5xx answers persisted after the retries with backoff."""

    reason = "server_error"


class NetworkError(SyncStop):
    """Connection errors or timeouts persisted after the retries with backoff."""

    reason = "network_error"


class MalformedResponseError(SyncStop):
    """A response body was not the JSON the contract promises, even when asked again."""

    reason = "malformed_response"


class ApiRequestError(SyncStop):
    """The API refused a request (4xx other than 401 and 429); `status` is the HTTP status."""

    reason = "api_error"

    def __init__(self, message: str, resume_at: datetime | None = None, status: int | None = None) -> None:
        super().__init__(message, resume_at)
        self.status = status


class UnauthorizedError(SyncStop):
    """A call stayed unauthorised after refreshing the access token once."""

    reason = "unauthorized"


class ReauthorizationRequiredError(SyncStop):
    """The refresh token was refused: the user has to authorise the app again."""

    reason = "reauthorization_required"


class EndpointGoneError(SyncStop):
    """The API answered 410 Gone: the endpoint is switched off for good; running again will not help."""

    reason = "gone"
