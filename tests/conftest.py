"""Shared fixtures: every test runs with dummy AWS credentials, no profile, and its own sdcli state folder."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from sdcli.cli import cli
from tests.localstack import Stack

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    import os

    for name in list(os.environ):
        if name.startswith("SDCLI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("SDCLI_STATE_DIR", str(tmp_path / "sdcli-state"))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def run() -> Callable[..., Result]:
    """Invoke the real click CLI in-process (so moto's mock applies); returns click's Result."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def run_json(run: Callable[..., Result]) -> Callable[..., tuple[int, object]]:
    def invoke(*args: str) -> tuple[int, object]:
        result = run("--output", "json", *args)
        return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None

    return invoke


def dynamodb_item(table: str, name: str, version: str) -> dict | None:
    return (
        boto3.client("dynamodb")
        .get_item(TableName=table, Key={"name": {"S": name}, "version": {"S": version}})
        .get("Item")
    )


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One real local stack per test module (``sdcli local start --detach --port 0``), stopped afterwards."""
    stack = Stack(tmp_path_factory.mktemp("local-stack-state")).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def deployed_stack(local_stack: Stack) -> Stack:
    """The module's local stack with the catalog deployed (``sdcli --local deploy``) and the examples seeded."""
    local_stack.deploy()
    local_stack.sdcli("--local", "seed")
    return local_stack


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a client hanging up on a slow or endless stub is what such stubs are for."""


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stub HTTP server on 127.0.0.1 (ephemeral port) in a thread; yields its base URL."""
    server = QuietHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
