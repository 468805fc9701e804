"""Ask the catalog API for one service over HTTP; no boto3 here, so a lookup starts fast.

Each path segment is percent-encoded whole (``a/b`` -> ``a%2Fb``, ``..`` -> ``%2E%2E``) so it reaches the API as
the one segment it is, and no client or proxy can collapse it as a dot segment.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from sdcli.errors import ApiError, InvalidInputError, ServiceNotFoundError, UsageError
from sdcli.keys import MAX_NAME_BYTES, MAX_VERSION_BYTES, utf8_size

DEFAULT_TIMEOUT = 10.0
# A catalog answer is a few hundred bytes; anything past this is not the catalog API, and reading on would let a
# server that streams forever hold the command (and its memory) forever.
MAX_BODY_BYTES = 1 << 20
API_URL_HINT = "Pass the stage's invoke URL, e.g. https://ID.execute-api.REGION.amazonaws.com/dev."
CHECK_URL_HINT = "Check --api-url: it should be the stage URL of the catalog API."
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True)
class ServiceEndpoint:
    name: str
    version: str
    endpoint_url: str
    ttl: int
    status: str

    def as_json(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint_url, "ttl": self.ttl, "status": self.status}


def encode_segment(value: str) -> str:
    encoded = quote(value, safe="")
    # quote leaves "." alone; a segment of only dots would be resolved away by URL normalisation.
    if encoded.strip(".") == "":
        encoded = encoded.replace(".", "%2E")
    return encoded


def lookup_url(api_url: str, name: str, version: str) -> str:
    return f"{api_url.rstrip('/')}/catalog/{encode_segment(name)}/{encode_segment(version)}"


def check_api_url(api_url: str) -> None:
    """Reject a malformed --api-url before any request: a usage error (exit 2), not an unreachable API."""
    shown = _clip(repr(api_url), 200)
    if _UNPRINTABLE.search(api_url):
        raise UsageError(f"API URL {shown} contains spaces or control characters.", hint=API_URL_HINT)
    try:
        parts = urlsplit(api_url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError as error:
        raise UsageError(f"API URL {shown} is malformed: {error}.", hint=API_URL_HINT) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"API URL {shown} is not an http(s) URL with a host.", hint=API_URL_HINT)
    if parts.query or parts.fragment:
        raise UsageError(f"API URL {shown} has a query or fragment; a stage URL has neither.", hint=API_URL_HINT)


def check_key(name: str, version: str) -> None:
    for label, value, limit in (("NAME", name, MAX_NAME_BYTES), ("VERSION", version, MAX_VERSION_BYTES)):
        if not value:
            raise InvalidInputError(
                f"{label} must not be empty.", hint="Usage: `sdcli lookup NAME VERSION`, e.g. testservice2 1.0."
            )
        size = utf8_size(value)
        if size is None:
            raise InvalidInputError(f"{label} is not valid Unicode.")
        if size > limit:
            raise InvalidInputError(
                f"{label} is {size} bytes; the catalog allows at most {limit}.",
                hint="DynamoDB limits names to 2,048 and versions to 1,024 UTF-8 bytes.",
            )


def _quoted(value: str, limit: int = 60) -> str:
    """A NAME or VERSION as shown in a message: quoted and escaped (repr), and cut if long."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _clip(text: str, limit: int = 120) -> str:
    """``text`` on one line and at most ``limit`` characters, for quoting what a foreign server said."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_body(response: requests.Response, api_url: str, deadline: float, timeout: float) -> bytes:
    """The whole body, within the command's time budget and at most MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(
                    f"The API at {api_url} answered HTTP {response.status_code} with more than "
                    f"{MAX_BODY_BYTES // 1024} KiB; that is not a catalog answer.",
                    hint=CHECK_URL_HINT,
                )
            if time.monotonic() > deadline:
                raise ApiError(f"The API at {api_url} did not finish answering within {timeout:g} s.")
            chunks.append(chunk)
    except requests.exceptions.Timeout:
        raise ApiError(f"The API at {api_url} did not finish answering within {timeout:g} s.") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        raise ApiError(
            f"The API at {api_url} closed the connection before its answer was complete (truncated body).",
            hint="Try again; if it persists, check --api-url and the API's health.",
        ) from None
    except requests.exceptions.ContentDecodingError:
        raise ApiError(
            f"The API at {api_url} answered with a body that cannot be decoded.", hint=CHECK_URL_HINT
        ) from None
    finally:
        response.close()
    return b"".join(chunks)


def _body(response: requests.Response, content: bytes, api_url: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        kind = _clip(response.headers.get("Content-Type") or "no content type", 60)
        raise ApiError(
            f"The API at {api_url} answered HTTP {response.status_code} with a body that is not JSON ({kind}).",
            hint=CHECK_URL_HINT,
        ) from None


def _unicode(text: str) -> bool:
    """Whether ``text`` is real Unicode: JSON can spell lone surrogates (``"\\ud800"``), which no output can print."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _record(name: str, version: str, body: Any, url: str) -> ServiceEndpoint:
    valid = (
        isinstance(body, dict)
        and isinstance(body.get("endpoint_url"), str)
        and isinstance(body.get("ttl"), int)
        and not isinstance(body.get("ttl"), bool)
        and body["ttl"] >= 0
        and isinstance(body.get("status"), str)
        and _unicode(body["endpoint_url"])
        and _unicode(body["status"])
    )
    if not valid:
        raise ApiError(
            f"The API at {url} answered 200 with something that is not a catalog record.", hint=CHECK_URL_HINT
        )
    return ServiceEndpoint(name, version, body["endpoint_url"], body["ttl"], body["status"])


def lookup(
    api_url: str,
    name: str,
    version: str,
    timeout: float = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> ServiceEndpoint:
    check_api_url(api_url)
    check_key(name, version)
    url = lookup_url(api_url, name, version)
    getter = session or requests
    deadline = time.monotonic() + timeout
    try:
        response = getter.get(
            url, timeout=timeout, headers={"Accept": "application/json"}, allow_redirects=False, stream=True
        )
    except requests.exceptions.Timeout:
        raise ApiError(f"The API at {api_url} did not answer within {timeout:g} s.") from None
    except requests.exceptions.ConnectionError:
        raise ApiError(
            f"Cannot reach the API at {api_url}.",
            hint="Check the URL; for the local stack, is it running (`sdcli local start --detach`)?",
        ) from None
    except requests.exceptions.RequestException as error:
        raise ApiError(f"Request to {api_url} failed: {type(error).__name__}.") from None
    body = _body(response, _read_body(response, api_url, deadline, timeout), api_url)
    if response.status_code == 200:
        return _record(name, version, body, api_url)
    error_message = body.get("error_message") if isinstance(body, dict) else None
    if response.status_code == 404 and error_message == "Service Not Found":
        raise ServiceNotFoundError(
            f"Service {_quoted(name)} version {_quoted(version)} is not in the catalog.",
            hint="Names and versions are exact and case-sensitive; add it with `sdcli seed --file`.",
        )
    if response.status_code == 400 and error_message == "Invalid Request":
        raise InvalidInputError("The API rejected the name or version: Invalid Request.")
    message = error_message or (body.get("message") if isinstance(body, dict) else None)
    detail = f": {_clip(message)}" if isinstance(message, str) and message.strip() else ""
    raise ApiError(
        f"The API at {api_url} answered HTTP {response.status_code}{detail}.",
        hint="A 403 'Missing Authentication Token' means the URL has no such route: check --api-url and --stage."
        if response.status_code == 403
        else None,
    )
