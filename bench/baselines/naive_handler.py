"""Goal 1's second baseline: a handler in the style of the original write-up.

It builds a boto3 resource (so a session, a client and its loaded service model) on every invocation instead of
once per execution environment, and goes through the resource layer's (de)serialisation.
"""

from __future__ import annotations

from typing import Any

import boto3


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Look the service up the way the write-up does: a fresh resource and Table per call."""
    dynamodb = boto3.resource("dynamodb")
    table = dynamodb.Table("Services")
    response = table.get_item(Key={"name": event["service_name"], "version": event["service_version"]})
    item = response["Item"]
    return {"endpoint_url": item["endpoint_url"], "ttl": int(item["ttl"]), "status": item["status"]}
