"""Secrets that do not print themselves, and the token file (0600, outside the repository) they rotate into.

Both APIs rotate refresh tokens: the one a refresh returns replaces the old one, which then stops working.
The newest pair is written to the token file before it is used, so a crash never loses it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from lakehouse.config import REPO_ROOT
from lakehouse.sources.errors import CredentialsError

log = logging.getLogger(__name__)

TOKEN_FILE_MODE = 0o600
TOKEN_DIR_MODE = 0o700
APP_CONFIG_DIR = "fitness-lakehouse"
REDACTED = "***"


class Secret:
    """A string that shows as `***` in reprs, f-strings, logs and tracebacks; `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def secret_or_none(value: str | None) -> Secret | None:
    """Wrap a non-empty string; None and "" stay None."""
    return Secret(value) if value else None


def redact(text: str, secrets: Iterable[Secret | None]) -> str:
    """`text` with every secret value replaced by `***`, as it is, URL-encoded or base64-encoded (for anything
    that echoes server text)."""
    for secret in secrets:
        if secret:
            value = secret.reveal()
            for form in (value, quote(value, safe=""), quote_plus(value), base64.b64encode(value.encode()).decode()):
                text = text.replace(form, REDACTED)
    return text


def default_token_file(source: str, environ: Mapping[str, str]) -> Path:
    """`$XDG_CONFIG_HOME/fitness-lakehouse/<source>-token.json` (default `~/.config/...`)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / APP_CONFIG_DIR / f"{source}-token.json"


@dataclass(frozen=True)
class TokenSet:
    """What a token refresh returns and the token file keeps."""

    refresh_token: Secret
    access_token: Secret | None = None
    expires_at: int | None = None  # epoch seconds
    user_id: str | None = None  # Fitbit only


def _check_outside_repo(path: Path) -> None:
    resolved = path.expanduser().resolve()
    if resolved == REPO_ROOT or REPO_ROOT in resolved.parents:
        raise CredentialsError(
            f"the token file {resolved} is inside the repository; put it outside (e.g. under ~/.config)"
        )


class TokenFile:
    """A JSON file with mode 0600 holding the latest refresh token (and the current access token)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        _check_outside_repo(self.path)

    def load(self) -> TokenSet | None:
        """The stored tokens, or None when there is no file yet."""
        if not self.path.is_file():
            return None
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            log.warning("token file %s had mode %o; tightening to 600", self.path, mode)
            self.path.chmod(TOKEN_FILE_MODE)
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            refresh = raw["refresh_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CredentialsError(f"token file {self.path} is not a valid token file") from exc
        if not isinstance(refresh, str) or not refresh:
            raise CredentialsError(
                f"token file {self.path} is not a valid token file: refresh_token is not a non-empty string"
            )
        access, expires_at = raw.get("access_token"), raw.get("expires_at")
        try:
            expires_at = int(expires_at) if expires_at is not None else None
        except (TypeError, ValueError, OverflowError):  # "soon", {}, 1e309: unknown, so refreshed before first use
            log.warning("token file %s has an unreadable expires_at; the access token is refreshed", self.path)
            expires_at = None
        if access is not None and not isinstance(access, str):
            log.warning("token file %s has an access_token that is not a string; it is refreshed", self.path)
            access = None
        return TokenSet(
            refresh_token=Secret(refresh),
            access_token=secret_or_none(access),
            expires_at=expires_at,
            user_id=raw.get("user_id"),
        )

    def save(self, tokens: TokenSet) -> None:
        """Write atomically: a temporary 0600 file in the same folder, renamed over the old one."""
        self.path.parent.mkdir(mode=TOKEN_DIR_MODE, parents=True, exist_ok=True)
        payload = {
            "refresh_token": tokens.refresh_token.reveal(),
            "access_token": tokens.access_token.reveal() if tokens.access_token else None,
            "expires_at": tokens.expires_at,
            "user_id": tokens.user_id,
        }
        fd, tmp = tempfile.mkstemp(prefix=".token-", dir=self.path.parent)
        try:
            os.fchmod(fd, TOKEN_FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.path.chmod(TOKEN_FILE_MODE)
