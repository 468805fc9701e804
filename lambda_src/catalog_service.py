"""The function behind GET /catalog/{serviceName}/{serviceVersion}: one DynamoDB GetItem per lookup.

API Gateway's request template builds the event ``{"service_name": ..., "service_version": ...}``, and its
integration responses pick the HTTP status from the ``errorMessage`` of what this raises, so every error
message here is a fixed string the API's selection patterns are written against (swagger/catalog_service.json):

- ``Service Not Found``                    -> 404
- ``Invalid Request: <fixed reason>``      -> 400 (printable ASCII only, one line)
- anything else (``Catalog Error: ...``)   -> 500

No message carries user input, a table name or an ARN.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

TABLE_NAME = os.environ.get("TABLE_NAME", "Services")

# DynamoDB's limits for key attributes: partition key 2,048 bytes, sort key 1,024 bytes, never empty.
MAX_NAME_BYTES = 2048
MAX_VERSION_BYTES = 1024
# The API's documented range for ttl (swagger/catalog_service.json, Service.ttl); `sdcli seed` writes no other.
MAX_TTL = 2**31 - 1

# Created once per execution environment, so warm invocations reuse its connection pool. botocore directly, not
# boto3: the handler needs only a low-level client, and boto3's import (s3transfer, the resource layer) would add
# about a tenth to every cold start. Same client, same credential chain, region and endpoint configuration.
_dynamodb = botocore.session.get_session().create_client("dynamodb")


class ServiceNotFound(Exception):
    """No item has this name and version."""

    def __init__(self) -> None:
        super().__init__("Service Not Found")


class InvalidRequest(Exception):
    """The key can never exist in DynamoDB (empty, too long, not a string)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid Request: {reason}")


class CatalogError(Exception):
    """The table could not answer (missing, throttled, access denied) or holds a malformed item."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Catalog Error: {reason}")


def _key_part(event: dict[str, Any], field: str, label: str, max_bytes: int) -> str:
    value = event.get(field)
    if not isinstance(value, str):
        raise InvalidRequest(f"{label} must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidRequest(f"{label} must be valid Unicode") from None
    if size == 0:
        raise InvalidRequest(f"{label} must not be empty")
    if size > max_bytes:
        raise InvalidRequest(f"{label} must be at most {max_bytes} bytes")
    return value


def _record(item: dict[str, Any]) -> dict[str, Any]:
    """The API's answer from a DynamoDB item; ``ttl`` as a JSON integer, not the Decimal/float it is stored as."""
    try:
        endpoint_url = item["endpoint_url"]["S"]
        status = item["status"]["S"]
        ttl_text = item["ttl"]["N"]
        ttl = int(ttl_text)
    except (KeyError, TypeError, ValueError):
        raise CatalogError("Malformed Record") from None
    if not 0 <= ttl <= MAX_TTL or not isinstance(endpoint_url, str) or not isinstance(status, str):
        raise CatalogError("Malformed Record")
    return {"endpoint_url": endpoint_url, "ttl": ttl, "status": status}


def _log(outcome: str, name: Any, version: Any, started: float) -> None:
    print(
        json.dumps(
            {
                "event": "lookup",
                "outcome": outcome,
                "service_name": name,
                "service_version": version,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )
    )


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Return the catalog record for the event's service name and version."""
    started = time.perf_counter()
    if not isinstance(event, dict):
        event = {}
    name, version = event.get("service_name"), event.get("service_version")
    outcome = "error"
    try:
        name = _key_part(event, "service_name", "serviceName", MAX_NAME_BYTES)
        version = _key_part(event, "service_version", "serviceVersion", MAX_VERSION_BYTES)
        try:
            response = _dynamodb.get_item(TableName=TABLE_NAME, Key={"name": {"S": name}, "version": {"S": version}})
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            if code == "ValidationException":
                raise InvalidRequest("key rejected by the catalog") from None
            raise CatalogError(code) from None
        except BotoCoreError as error:
            raise CatalogError(type(error).__name__) from None
        item = response.get("Item")
        if item is None:
            raise ServiceNotFound()
        record = _record(item)
        outcome = "found"
        return record
    except ServiceNotFound:
        outcome = "not_found"
        raise
    except InvalidRequest:
        outcome = "invalid"
        raise
    finally:
        _log(outcome, name, version, started)
