"""Ask the catalog API for one service over HTTP; no boto3 here, so a lookup starts fast.

Each path segment is percent-encoded whole (``a/b`` -> ``a%2Fb``, ``..`` -> ``%2E%2E``) so it reaches the API as
the one segment it is, and no client or proxy can collapse it as a dot segment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from sdcli.errors import ApiError, InvalidInputError, ServiceNotFoundError

DEFAULT_TIMEOUT = 10.0
MAX_NAME_BYTES = 2048
MAX_VERSION_BYTES = 1024


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
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(
            f"API URL {api_url!r} is not an http(s) URL.",
            hint="Pass the stage's invoke URL, e.g. https://ID.execute-api.REGION.amazonaws.com/dev.",
        )


def check_key(name: str, version: str) -> None:
    for label, value, limit in (("NAME", name, MAX_NAME_BYTES), ("VERSION", version, MAX_VERSION_BYTES)):
        if not value:
            raise InvalidInputError(f"{label} must not be empty.")
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidInputError(f"{label} is not valid Unicode.") from None
        if size > limit:
            raise InvalidInputError(f"{label} is {size} bytes; the catalog allows at most {limit}.")


def _body(response: requests.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        kind = response.headers.get("Content-Type", "unknown content type")
        raise ApiError(
            f"The API at {response.url} answered HTTP {response.status_code} with a body that is not JSON ({kind}).",
            hint="Check --api-url: it should be the stage URL of the catalog API.",
        ) from None


def _record(name: str, version: str, body: Any, url: str) -> ServiceEndpoint:
    valid = (
        isinstance(body, dict)
        and isinstance(body.get("endpoint_url"), str)
        and isinstance(body.get("ttl"), int)
        and not isinstance(body.get("ttl"), bool)
        and isinstance(body.get("status"), str)
    )
    if not valid:
        raise ApiError(
            f"The API at {url} answered 200 with something that is not a catalog record.",
            hint="Check --api-url: it should be the stage URL of the catalog API.",
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
    try:
        response = getter.get(url, timeout=timeout, headers={"Accept": "application/json"}, allow_redirects=False)
    except requests.exceptions.Timeout:
        raise ApiError(f"The API at {api_url} did not answer within {timeout:g} s.") from None
    except requests.exceptions.ConnectionError:
        raise ApiError(
            f"Cannot reach the API at {api_url}.",
            hint="Check the URL; for the local stack, is it running (`sdcli local start --detach`)?",
        ) from None
    except requests.exceptions.RequestException as error:
        raise ApiError(f"Request to {api_url} failed: {type(error).__name__}.") from None
    body = _body(response)
    if response.status_code == 200:
        return _record(name, version, body, api_url)
    message = body.get("error_message") or body.get("message") if isinstance(body, dict) else None
    if response.status_code == 404 and message == "Service Not Found":
        raise ServiceNotFoundError(f"Service {name!r} version {version!r} is not in the catalog.")
    if response.status_code == 400:
        raise InvalidInputError(f"The API rejected the name or version: {message or 'Invalid Request'}.")
    detail = f": {message}" if isinstance(message, str) else ""
    raise ApiError(
        f"The API at {api_url} answered HTTP {response.status_code}{detail}.",
        hint="A 403 'Missing Authentication Token' means the URL has no such route: check --api-url and --stage."
        if response.status_code == 403
        else None,
    )
