"""An optional webhook for the end-of-run quality summary: Slack-compatible JSON `{"text": ...}`.

The URL comes from the caller (a setting) or the `LAKEHOUSE_WEBHOOK_URL` environment variable; with
neither, nothing is sent. A webhook URL is a secret: it is never logged, only its host. A failure to
notify is logged and reported as `False`, never raised: the data is already written by then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

WEBHOOK_ENV = "LAKEHOUSE_WEBHOOK_URL"
TIMEOUT_S = 10.0

log = logging.getLogger(__name__)


def webhook_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL: `explicit` (from settings) if given, else $LAKEHOUSE_WEBHOOK_URL, else None."""
    environ = os.environ if environ is None else environ
    return explicit or environ.get(WEBHOOK_ENV) or None


def _host(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"


def post_text(url: str, text: str, *, timeout: float = TIMEOUT_S) -> bool:
    """POST `{"text": text}` to `url`; True when the receiver answered 2xx, False (logged) otherwise."""
    try:
        response = requests.post(url, json={"text": text}, timeout=timeout)
    except requests.RequestException as exc:
        log.warning("quality webhook to %s failed: %s", _host(url), type(exc).__name__)
        return False
    if not response.ok:
        log.warning("quality webhook to %s answered HTTP %s", _host(url), response.status_code)
        return False
    return True


def notify_summary(
    text: str,
    url: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT_S,
) -> bool:
    """Send the run summary to the configured webhook, if any; True only when it was delivered."""
    target = webhook_url(url, environ)
    if not target:
        log.debug("no quality webhook configured (%s unset): summary not sent", WEBHOOK_ENV)
        return False
    return post_text(target, text, timeout=timeout)
