"""The Lambda handler against moto's DynamoDB, and its error messages against the API's selection patterns."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest

from sdcli.catalog import ATTRIBUTES, KEY_SCHEMA

ROOT = Path(__file__).resolve().parent.parent


def _load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_service_under_test", ROOT / "lambda_src/catalog_service.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler(aws: None) -> Iterator[ModuleType]:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="Services", KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTES, BillingMode="PAY_PER_REQUEST"
    )
    for name, url, ttl in (("testservice1", "notarealurl1", "300"), ("testservice2", "notarealurl2", "600")):
        client.put_item(
            TableName="Services",
            Item={
                "name": {"S": name},
                "version": {"S": "1.0"},
                "endpoint_url": {"S": url},
                "ttl": {"N": ttl},
                "status": {"S": "healthy"},
            },
        )
    yield _load_handler()
    sys.modules.pop("catalog_service_under_test", None)


def event(name: object, version: object) -> dict:
    return {"service_name": name, "service_version": version}


def test_found_returns_the_record_with_an_integer_ttl(handler: ModuleType) -> None:
    result = handler.lambda_handler(event("testservice2", "1.0"), None)
    assert result == {"endpoint_url": "notarealurl2", "ttl": 600, "status": "healthy"}
    assert type(result["ttl"]) is int
    assert json.dumps(result) == '{"endpoint_url": "notarealurl2", "ttl": 600, "status": "healthy"}'


def test_unknown_service_raises_service_not_found(handler: ModuleType) -> None:
    with pytest.raises(handler.ServiceNotFound) as raised:
        handler.lambda_handler(event("testservice9", "1.0"), None)
    assert str(raised.value) == "Service Not Found"


def test_same_name_other_version_is_not_found(handler: ModuleType) -> None:
    with pytest.raises(handler.ServiceNotFound):
        handler.lambda_handler(event("testservice2", "2.0"), None)


@pytest.mark.parametrize(
    ("name", "version", "reason"),
    [
        ("", "1.0", "serviceName must not be empty"),
        ("testservice2", "", "serviceVersion must not be empty"),
        ("x" * 2049, "1.0", "serviceName must be at most 2048 bytes"),
        ("é" * 1025, "1.0", "serviceName must be at most 2048 bytes"),  # 2,050 bytes in UTF-8
        ("testservice2", "v" * 1025, "serviceVersion must be at most 1024 bytes"),
        (None, "1.0", "serviceName must be a string"),
        ("testservice2", 1.0, "serviceVersion must be a string"),
        ("\ud800", "1.0", "serviceName must be valid Unicode"),
    ],
)
def test_invalid_keys_raise_invalid_request(handler: ModuleType, name: object, version: object, reason: str) -> None:
    with pytest.raises(handler.InvalidRequest) as raised:
        handler.lambda_handler(event(name, version), None)
    assert str(raised.value) == f"Invalid Request: {reason}"


def test_keys_at_the_limits_are_valid_and_not_found(handler: ModuleType) -> None:
    with pytest.raises(handler.ServiceNotFound):
        handler.lambda_handler(event("x" * 2048, "v" * 1024), None)


def test_missing_table_is_a_catalog_error_not_not_found(handler: ModuleType) -> None:
    boto3.client("dynamodb").delete_table(TableName="Services")
    with pytest.raises(handler.CatalogError) as raised:
        handler.lambda_handler(event("testservice2", "1.0"), None)
    assert str(raised.value) == "Catalog Error: ResourceNotFoundException"


def test_malformed_item_is_a_catalog_error(handler: ModuleType) -> None:
    boto3.client("dynamodb").put_item(
        TableName="Services",
        Item={
            "name": {"S": "broken"},
            "version": {"S": "1"},
            "endpoint_url": {"S": "u"},
            "ttl": {"S": "soon"},
            "status": {"S": "healthy"},
        },
    )
    with pytest.raises(handler.CatalogError) as raised:
        handler.lambda_handler(event("broken", "1"), None)
    assert str(raised.value) == "Catalog Error: Malformed Record"


def test_table_name_comes_from_the_environment(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "Other")
    assert _load_handler().TABLE_NAME == "Other"


def test_one_structured_log_line_per_lookup(handler: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    handler.lambda_handler(event("testservice1", "1.0"), None)
    with pytest.raises(handler.ServiceNotFound):
        handler.lambda_handler(event("nope", "1.0"), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["outcome"], line["service_name"]) for line in lines] == [
        ("found", "testservice1"),
        ("not_found", "nope"),
    ]
    assert all(line["event"] == "lookup" and line["duration_ms"] >= 0 for line in lines)


def test_client_is_created_once_per_execution_environment(handler: ModuleType) -> None:
    client = handler._dynamodb
    handler.lambda_handler(event("testservice1", "1.0"), None)
    handler.lambda_handler(event("testservice2", "1.0"), None)
    assert handler._dynamodb is client


def test_no_local_only_branch_in_the_handler() -> None:
    source = (ROOT / "lambda_src/catalog_service.py").read_text()
    for marker in ("endpoint_url=", "localhost", "127.0.0.1", "AWS_ENDPOINT_URL", "moto", "LOCAL"):
        assert marker not in source
