"""The data plane's pieces as API Gateway defines them, driven by our real OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdcli.local.dataplane import Route, find_route
from sdcli.local.selection import select_integration_response
from sdcli.local.velocity import TemplateRequest, render

ROOT = Path(__file__).resolve().parent.parent
SPEC = json.loads((ROOT / "swagger/catalog_service.json").read_text())
METHOD = SPEC["paths"]["/catalog/{serviceName}/{serviceVersion}"]["get"]
INTEGRATION = METHOD["x-amazon-apigateway-integration"]
REQUEST_TEMPLATE = INTEGRATION["requestTemplates"]["application/json"]
# The integration responses as API Gateway hands them back (keyed by status, pattern inside), like moto does.
RESPONSES = {
    body["statusCode"]: {**body, **({} if pattern == "default" else {"selectionPattern": pattern})}
    for pattern, body in INTEGRATION["responses"].items()
}


def request_event(name: str, version: str) -> dict:
    request = TemplateRequest(
        body="",
        path_params={"serviceName": name, "serviceVersion": version},
        query_params={},
        headers={},
        context={"requestId": "r"},
    )
    return json.loads(render(REQUEST_TEMPLATE, request))


@pytest.mark.parametrize(
    "name",
    [
        "testservice2",
        'quote"d',
        "back\\slash",
        "it's",
        "both'\"\\",
        "a/b",
        "x y",
        "..",
        "héllo",
        "中文",
        "😀",
        "tab\tnew\nline",
        "\x01\x1f",
        "\\'",
        "'",
        "$dollar",
        "#hash",
        "%2F",
    ],
)
def test_request_template_keeps_every_name_exactly(name: str) -> None:
    assert request_event(name, "1.0") == {"service_name": name, "service_version": "1.0"}


@pytest.mark.parametrize(
    ("error_message", "status"),
    [
        ("", "200"),  # success: the function's errorMessage is empty
        ("Service Not Found", "404"),
        ("Invalid Request: serviceName must not be empty", "400"),
        ("Invalid Request: serviceVersion must be at most 1024 bytes", "400"),
        ("Catalog Error: ResourceNotFoundException", "500"),
        ("Catalog Error: ProvisionedThroughputExceededException", "500"),
        ("ResourceNotFoundException: Requested resource not found", "500"),
        ("Service Not Found\nbut more lines", "500"),
        ("Service Not Found\n", "500"),
        ("Invalid Request: two\nlines", "500"),
        ("Invalid Request: não ascii", "500"),
        ("2026-12-03T09:00:00Z abc Task timed out after 10.00 seconds", "500"),
        ("Unable to import module 'catalog_service': No module named 'boto3'", "500"),
        ("RequestId: abc Error: Runtime exited with error: exit status 1", "500"),
        ("Not Found", "500"),
    ],
)
def test_selection_patterns_map_each_error_to_one_status(error_message: str, status: str) -> None:
    chosen = select_integration_response(RESPONSES, error_message)
    assert chosen is not None and chosen["statusCode"] == status


def test_error_bodies_are_fixed_json_without_internals() -> None:
    bodies = {
        status: json.loads(
            render(
                response["responseTemplates"]["application/json"],
                TemplateRequest(
                    body='{"errorMessage": "x", "stackTrace": ["s"]}',
                    path_params={},
                    query_params={},
                    headers={},
                    context={},
                ),
            )
        )
        for status, response in RESPONSES.items()
        if "responseTemplates" in response
    }
    assert bodies == {
        "404": {"error_message": "Service Not Found"},
        "400": {"error_message": "Invalid Request"},
        "500": {"error_message": "Internal Server Error"},
    }


ROUTES = (
    Route("r1", "/catalog/{serviceName}/{serviceVersion}", {"GET": {}}),
    Route("r2", "/catalog/special/{serviceVersion}", {"GET": {}}),
    Route("r3", "/files/{proxy+}", {"ANY": {}}),
    Route("r0", "/", {}),
)


@pytest.mark.parametrize(
    ("raw_path", "resource", "params"),
    [
        ("/catalog/testservice2/1.0", "r1", {"serviceName": "testservice2", "serviceVersion": "1.0"}),
        ("/catalog/a%2Fb/1.0", "r1", {"serviceName": "a/b", "serviceVersion": "1.0"}),
        ("/catalog/%2E%2E/x%20y", "r1", {"serviceName": "..", "serviceVersion": "x y"}),
        ("/catalog/h%C3%A9llo/1.0", "r1", {"serviceName": "héllo", "serviceVersion": "1.0"}),
        ("/catalog/special/2", "r2", {"serviceVersion": "2"}),
        ("/files/a/b/c", "r3", {"proxy": "a/b/c"}),
        ("/", "r0", {}),
    ],
)
def test_routes_match_on_raw_segments(raw_path: str, resource: str, params: dict) -> None:
    found = find_route(ROUTES, raw_path)
    assert found is not None
    route, path_params = found
    assert (route.resource_id, path_params) == (resource, params)


@pytest.mark.parametrize("raw_path", ["/catalog/a", "/catalog/a/b/c", "/catalog//1.0", "/other", "/files"])
def test_unknown_routes_do_not_match(raw_path: str) -> None:
    assert find_route(ROUTES, raw_path) is None
