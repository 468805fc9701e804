"""Keep credentials, session tokens and request signatures out of everything sdcli writes.

Two layers, because neither is enough alone:

- patterns for the shapes credentials take in AWS traffic and configuration: ``Authorization`` headers (SigV4),
  ``X-Amz-Security-Token`` (as a header, a canonical-request line or a presigned-URL parameter), the other
  presigned-URL signing parameters, ``aws_secret_access_key = ...`` / ``AWS_SESSION_TOKEN=...`` assignments,
  ``SecretAccessKey``/``SessionToken`` fields, access key ids, SigV4 signatures, and passwords in URLs;
- the exact values of the credentials in use (from the environment, and from each session sdcli resolves),
  which catch them in any shape, e.g. inside an AWS error message that echoes the canonical request.

:class:`RedactingFilter` applies both to every record passing a logging handler; :func:`redact` to any text.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8  # shorter values ("test", the local stack's dummies) are not secrets and would over-match
SECRET_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)

_VALUE = r"[^\s'\",&;}\]<>]+"
_QUOTE = r"(?:b?['\"])?(?!b['\"])"  # an optional (bytes) quote before a value, never mistaken for the value
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=..., Signature=...
    (re.compile(r"(AWS4-(?:HMAC|ECDSA-P256)-SHA256)\s+Credential=[^'\"\r\n}\]]*"), r"\1 " + REDACTED),
    (
        re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*" + _QUOTE + r")(?!AWS4-|<|\s)[^'\"\r\n,}\]]+"),
        r"\1" + REDACTED,
    ),
    (
        re.compile(
            r"(?i)(\b(?:aws_|x-amz-)?(?:secret_?access_?key|session_?token|security[_-]?token|"
            r"secret_?key|container_authorization_token)['\"]?\s*[:=]\s*" + _QUOTE + ")" + _VALUE
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)(\bx-amz-(?:signature|credential)=)" + _VALUE), r"\1" + REDACTED),
    (re.compile(r"(?i)(\bsignature\s*[:=]\s*)[0-9a-f]{64}\b"), r"\1" + REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA|ANPA|AGPA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@'\"]+:[^/\s@'\"]+@"), r"\1" + REDACTED + "@"),
)

_lock = threading.Lock()
_secrets: set[str] = set()


def add_secrets(values: Iterable[str | None]) -> None:
    """Remember credential values so they are redacted wherever they appear, in whatever shape."""
    with _lock:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                _secrets.add(value)


def add_environment_secrets(environ: dict[str, str] | None = None) -> None:
    """The credentials in this process's environment (a local stack inherits the user's)."""
    env = os.environ if environ is None else environ
    add_secrets(env.get(name) for name in SECRET_ENVIRONMENT)


def redact(text: str) -> str:
    """``text`` with every known credential value and every credential-shaped token replaced."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message, traceback and stack are redacted before any formatter sees them.

    Attach it to handlers, not loggers: a logger's filters do not see records propagated from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be shown
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handler: logging.Handler) -> logging.Handler:
    """Add the redacting filter to ``handler`` (once) and return it."""
    if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (click's test runner swaps it per command)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def enable_debug_logging() -> Callable[[], None]:
    """--debug: sdcli's loggers at DEBUG on stderr, through the redacting filter; returns the undo.

    The handler sits on the root logger, so anything else that logs (botocore's warnings, or all of botocore
    when someone turns its logger up) is redacted on the way out too.
    """
    add_environment_secrets()
    root, ours = logging.getLogger(), logging.getLogger("sdcli")
    handler = install(_CurrentStderr())
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    previous = ours.level
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)

    def undo() -> None:
        root.removeHandler(handler)
        ours.setLevel(previous)

    return undo
