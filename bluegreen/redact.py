"""Keep secrets out of everything bluegreen shows: one function, ``redact``, for every
message, error, event, log line and JSON value.

It removes passwords in three shapes: the userinfo of a URL (``scheme://user:secret@host``,
the secret running to the last ``@`` of the URL, as libpq users type it unencoded),
``password=...`` pairs (URL queries and libpq conninfo strings), and any password that
bluegreen has seen in a URL it parsed (``remember``), wherever else it appears, such as in a
driver's error text.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, unquote

MASK = "***"

# Shorter secrets are not replaced as bare text: masking every "ab" in a message would
# garble it. They are still masked wherever they appear as a URL's or a conninfo's password.
_MIN_BARE_SECRET = 4

_known: set[str] = set()
_lock = threading.Lock()

# scheme://user:secret@host... : the secret runs to the last '@' of the URL (a URL ends at
# whitespace or a quote), so an unencoded '@' in a password does not leak its tail.
_URL_USERINFO = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"]*:)(?P<secret>[^\s'\"]*)"
    r"@(?=[^\s@'\"]*(?:[\s'\"]|$))")
# password=secret in a URL query or a conninfo string, quoted or not.
_KEY_VALUE = re.compile(
    r"(?P<head>\b(?:(?:ssl)?password|oauth_client_secret)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s&'\"]+)",
    re.IGNORECASE)


def remember(secret: str | None) -> None:
    """Mask this secret (and its percent-encoded form) wherever it appears from now on."""
    if not secret:
        return
    with _lock:
        for form in {secret, quote(secret, safe=""), unquote(secret)}:
            if form:
                _known.add(form)


def redact(text: str) -> str:
    """``text`` with every password in it replaced by ``***``."""
    if not text:
        return text
    out = _URL_USERINFO.sub(lambda m: f"{m.group('head')}{MASK}@", text)
    out = _KEY_VALUE.sub(lambda m: f"{m.group('head')}{MASK}", out)
    with _lock:
        secrets = sorted(_known, key=len, reverse=True)
    for secret in secrets:
        if len(secret) >= _MIN_BARE_SECRET:
            out = out.replace(secret, MASK)
    return out


def redact_data(value):
    """Every string inside a JSON-like value (dicts, lists, tuples), redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_data(v) for v in value)
    return value
