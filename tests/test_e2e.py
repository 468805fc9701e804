"""End to end: the real ``sdcli`` executable against a real local stack over HTTP.

One local stack per module (started with ``sdcli local start --detach --port 0``), a private state folder, and
every step run as a user would run it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sdcli.errors import EXIT_API_ERROR, EXIT_NOT_FOUND
from tests.localstack import Stack
from tests.test_imports import RUN_SDCLI

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(local_stack: Stack) -> Stack:
    return local_stack


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> dict:
    first = stack.deploy()
    stack.sdcli("--local", "seed")
    return first


def test_first_deploy_creates_every_resource(deployed: dict) -> None:
    assert {r["resource"]: r["action"] for r in deployed["resources"]} == {
        "table": "created",
        "role": "created",
        "function": "created",
        "api": "created",
        "permission": "created",
        "stage": "created",
    }
    assert deployed["invoke_url"].endswith(f"/restapis/{deployed['api_id']}/dev/_user_request_")


def test_lookup_testservice2(stack: Stack, deployed: dict) -> None:
    assert stack.json("--local", "lookup", "testservice2", "1.0") == {
        "endpoint_url": "notarealurl2",
        "ttl": 600,
        "status": "healthy",
    }
    table = stack.sdcli("--local", "lookup", "testservice2", "1.0").stdout
    assert "notarealurl2" in table and "600" in table and "healthy" in table


def test_lookup_over_plain_http_gives_the_api_json(stack: Stack, deployed: dict) -> None:
    response = requests.get(f"{deployed['invoke_url']}/catalog/testservice1/1.0", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"endpoint_url": "notarealurl1", "ttl": 300, "status": "healthy"}
    assert response.text == '{"endpoint_url": "notarealurl1", "ttl": 300, "status": "healthy"}'


def test_unknown_service_is_404_and_its_exit_code(stack: Stack, deployed: dict) -> None:
    response = requests.get(f"{deployed['invoke_url']}/catalog/nosuchservice/1.0", timeout=30)
    assert response.status_code == 404 and response.json() == {"error_message": "Service Not Found"}
    result = stack.sdcli("--local", "lookup", "nosuchservice", "1.0", check=False)
    assert result.returncode == EXIT_NOT_FOUND
    assert "Service 'nosuchservice' version '1.0' is not in the catalog." in result.stderr


def test_unknown_route_answers_like_api_gateway(deployed: dict) -> None:
    response = requests.get(f"{deployed['invoke_url']}/nothing/here", timeout=30)
    assert response.status_code == 403 and response.json() == {"message": "Missing Authentication Token"}
    response = requests.post(f"{deployed['invoke_url']}/catalog/testservice1/1.0", timeout=30)
    assert response.status_code == 403


def test_names_with_quotes_slashes_and_unicode_round_trip(stack: Stack, deployed: dict, tmp_path: Path) -> None:
    names = ['quote"d', "back\\slash", "it's", "a/b", "x y", "..", "héllo 中文 😀", "percent%2F", "q?x#y"]
    services = [
        {"name": name, "version": "1.0", "endpoint_url": f"url-{index}", "ttl": index, "status": "healthy"}
        for index, name in enumerate(names)
    ]
    path = tmp_path / "services.json"
    path.write_text(json.dumps(services))
    assert stack.json("--local", "seed", "--file", str(path))["written"] == len(names)
    for index, name in enumerate(names):
        assert stack.json("--local", "lookup", name, "1.0") == {
            "endpoint_url": f"url-{index}",
            "ttl": index,
            "status": "healthy",
        }, name


def test_second_deploy_changes_nothing(stack: Stack, deployed: dict) -> None:
    second = stack.json("--local", "deploy")
    assert {r["action"] for r in second["resources"]} == {"unchanged"}
    assert second["mutating_calls"] == 0


def test_deploy_to_a_pipe_keeps_each_resource_on_one_line_without_rich(stack: Stack, deployed: dict) -> None:
    """A CI log gets the report unfolded (a grep finds the whole ARN), drawn without importing rich."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_SDCLI, json.dumps(["--local", "deploy"])],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stderr.split("MODULES ")[-1])
    assert "rich" not in modules and "botocore" in modules
    lines = result.stdout.splitlines()
    api_id = deployed["api_id"]
    permission = next(line for line in lines if line.startswith("│ permission"))
    assert f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*/GET/catalog/*/* │" in permission
    assert lines[0] == "Deploy" and len({len(line) for line in lines[1:9]}) == 1  # one box, rows unfolded
    assert f"Api id: {api_id}" in lines and "Mutating calls: 0" in lines
    assert "Everything was up to date; no changes made." in result.stderr


def test_status_shows_the_deployment(stack: Stack, deployed: dict) -> None:
    status = stack.json("--local", "status")
    assert status["healthy"] is True and status["url"] == deployed["invoke_url"]


def test_unreachable_api_url_is_the_api_exit_code(stack: Stack) -> None:
    result = stack.sdcli("lookup", "testservice2", "1.0", "--api-url", "http://127.0.0.1:9/dev", check=False)
    assert result.returncode == EXIT_API_ERROR
    assert "Cannot reach the API at http://127.0.0.1:9/dev." in result.stderr
    assert "Traceback" not in result.stderr


def test_a_region_the_local_stack_does_not_emulate_is_one_clear_error(stack: Stack) -> None:
    for service_command in (["status"], ["table", "create"], ["function", "deploy"]):  # dynamodb, iam, lambda first
        result = stack.sdcli("--local", "--region", "xx-nowhere-9", *service_command, check=False)
        assert result.returncode == 1, result.stderr
        assert "InvalidRegion: 'xx-nowhere-9' is not an AWS region" in result.stderr
        assert "Traceback" not in result.stderr and "<html" not in result.stderr.lower()
