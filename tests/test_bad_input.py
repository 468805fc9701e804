"""Bad input against the deployed local stack, through the real ``sdcli`` executable and plain HTTP.

* the API with keys that can never exist (schemathesis against our OpenAPI document, and kept failing inputs),
* ``sdcli seed --file`` with files that must be rejected whole (nothing written, each bad record named) or
  written exactly (items counted with a scan),
* ``sdcli lookup`` with bad arguments and an ``--api-url`` that is malformed, unreachable, or not the catalog
  API (tiny http.server stubs on port 0): one clear line and the documented exit code (README, "Exit codes").

The 10,000-record seed is ``-m slow``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from sdcli.catalog import KEY_SCHEMA, MAX_TTL
from sdcli.errors import EXIT_API_ERROR, EXIT_INVALID_INPUT, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from tests.conftest import ROOT, http_server
from tests.localstack import Stack, clean_environment

pytestmark = pytest.mark.e2e

SPEC = ROOT / "swagger" / "catalog_service.json"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The ``Error:`` line of a failed command, after checking it is all there is (plus an optional hint)."""
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr and result.stdout == "", result.stderr
    assert lines and lines[0].startswith("Error: "), result.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("Hint: ")), result.stderr
    return lines[0]


def record(name: object, version: object = "1.0", **fields: object) -> dict:
    """A valid service record unless ``fields`` say otherwise."""
    return {
        "name": name,
        "version": version,
        "endpoint_url": f"https://{name}.example",
        "ttl": 60,
        "status": "ok",
    } | fields


# --- the API over HTTP -----------------------------------------------------------------------------------------


def test_schemathesis_finds_no_failure(deployed_stack: Stack, tmp_path: Path) -> None:
    """Every schemathesis check against our own OpenAPI document, except ``unsupported_method`` (README says why)."""
    examples = os.environ.get("SDCLI_SCHEMATHESIS_EXAMPLES", "100")
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            str(SPEC),
            "--url",
            deployed_stack.invoke_url,
            "--checks",
            "all",
            "--exclude-checks",
            "unsupported_method",
            "--max-examples",
            examples,
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated is not None and generated.group(1) == generated.group(2), result.stdout[-2000:]
    assert int(generated.group(1)) >= int(examples)
    print(f"\nschemathesis: {generated.group(0)}")


def test_undecodable_percent_escapes_are_invalid_not_another_records_key(deployed_stack: Stack, tmp_path: Path) -> None:
    """``%FF`` once decoded to U+FFFD and answered with the record stored under that (valid) name."""
    result = deployed_stack.seed_file(tmp_path / "s.json", [record("\ufffd"), record("\ufffd\ufffd\ufffd")])
    assert result.returncode == EXIT_OK, result.stderr
    base = f"{deployed_stack.invoke_url}/catalog"
    found = requests.get(f"{base}/%EF%BF%BD/1.0", timeout=30)
    assert (found.status_code, found.json()) == (
        200,
        {"endpoint_url": "https://\ufffd.example", "ttl": 60, "status": "ok"},
    )
    for raw in ("%FF", "%ED%A0%80", "%C3", "a%80b"):
        response = requests.get(f"{base}/{raw}/1.0", timeout=30)
        assert (response.status_code, response.json()) == (400, {"error_message": "Invalid Request"}), raw
        response = requests.get(f"{base}/x/{raw}", timeout=30)
        assert (response.status_code, response.json()) == (400, {"error_message": "Invalid Request"}), raw


@pytest.mark.parametrize(
    "attributes",
    [
        {"endpoint_url": {"S": "u"}, "ttl": {"N": str(MAX_TTL + 1)}, "status": {"S": "ok"}},
        {"endpoint_url": {"S": "u"}, "ttl": {"N": "-5"}, "status": {"S": "ok"}},
        {"endpoint_url": {"S": "u"}, "ttl": {"N": "1.5"}, "status": {"S": "ok"}},
        {"endpoint_url": {"N": "7"}, "ttl": {"N": "1"}, "status": {"S": "ok"}},
        {"endpoint_url": {"S": "u"}, "ttl": {"N": "1"}},
    ],
    ids=["ttl-past-max", "ttl-negative", "ttl-fraction", "url-number", "no-status"],
)
def test_a_record_written_by_another_tool_outside_the_schema_is_500_not_a_bad_answer(
    deployed_stack: Stack, attributes: dict
) -> None:
    """The API never answers 200 with what its OpenAPI document says a record cannot be."""
    item = {"name": {"S": "foreign"}, "version": {"S": "1.0"}, **attributes}
    deployed_stack.client("dynamodb").put_item(TableName="Services", Item=item)
    response = requests.get(f"{deployed_stack.invoke_url}/catalog/foreign/1.0", timeout=30)
    assert (response.status_code, response.json()) == (500, {"error_message": "Internal Server Error"})


# --- sdcli seed --file -----------------------------------------------------------------------------------------

_tables = iter(range(10**6))


@pytest.fixture
def table(deployed_stack: Stack) -> str:
    """A new empty catalog table on the local stack, so every seed test counts only its own items."""
    name = f"Seed{next(_tables)}"
    deployed_stack.client("dynamodb").create_table(
        TableName=name,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=[
            {"AttributeName": "name", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_seed_rejects_every_bad_record_by_name_and_writes_nothing(
    deployed_stack: Stack, table: str, tmp_path: Path
) -> None:
    good = [record(f"good{index}") for index in range(60)]  # more than two write batches come first
    bad = [
        record("ttl-text", ttl="abc"),
        record("ttl-negative", ttl=-1),
        record("ttl-float", ttl=1.5),
        record("ttl-bool", ttl=True),
        record("ttl-null", ttl=None),
        record("ttl-too-big", ttl=MAX_TTL + 1),
        record("ttl-huge", ttl=10**126),  # DynamoDB cannot store it: it used to fail the write after 2 batches
        record(5),
        {"name": "missing", "version": "1.0"},
        record("unknown", color="red"),
        record("good0"),  # the same name and version as record 0
        record("x" * 2049),
        record("long-version", version="v" * 1025),
        record("empty-version", version=""),
        record("not-unicode", endpoint_url="\ud800"),  # json.dumps writes "\ud800": JSON can spell it
        record("too-large", endpoint_url="u" * 400_000),  # past DynamoDB's item size: the write used to fail
        "not an object",
    ]
    text = json.dumps(good + bad)
    # Duplicate keys cannot come from json.dumps; plain json.loads keeps the last one silently.
    text = (
        text[:-1]
        + ', {"name": "dup-key", "version": "1.0", "endpoint_url": "u", "ttl": 1, "ttl": "x", "status": "ok"}]'
    )
    result = deployed_stack.seed_file(tmp_path / "services.json", text, "--table", table)
    assert result.returncode == EXIT_INVALID_INPUT, result.stderr
    err = result.stderr
    assert "Error: 18 invalid service record(s); nothing was written." in err
    expected = [
        "record 60 ('ttl-text' '1.0'): ttl must be a whole number of seconds, not \"abc\"",
        "record 61 ('ttl-negative' '1.0'): ttl must not be negative, not -1",
        "record 62 ('ttl-float' '1.0'): ttl must be a whole number of seconds, not 1.5",
        "record 63 ('ttl-bool' '1.0'): ttl must be a whole number of seconds, not true",
        "record 64 ('ttl-null' '1.0'): ttl must be a whole number of seconds, not null",
        f"record 65 ('ttl-too-big' '1.0'): ttl must be at most {MAX_TTL} seconds, not {MAX_TTL + 1}",
        f"record 66 ('ttl-huge' '1.0'): ttl must be at most {MAX_TTL} seconds, not a 127-digit number",
        "record 67: name must be a string",
        "record 68 ('missing' '1.0'): missing field 'endpoint_url'; missing field 'ttl'; missing field 'status'",
        "record 69 ('unknown' '1.0'): unknown field 'color'",
        "record 70 ('good0' '1.0'): duplicate of record 0 (same name and version)",
        "record 71 ('" + "x" * 57 + "...' '1.0'): name is 2049 bytes; DynamoDB allows at most 2048",
        "record 72 ('long-version' '" + "v" * 30 + "'): version is 1025 bytes; DynamoDB allows at most 1024",
        "record 73 ('empty-version' ''): version must not be empty",
        "record 74 ('not-unicode' '1.0'): endpoint_url is not valid Unicode",
        "record 75 ('too-large' '1.0'): the record is 400067 bytes; DynamoDB allows at most 400000 per item",
        "record 76: must be an object with name, version, endpoint_url, ttl, status, not str",
        "record 77 ('dup-key' '1.0'): field 'ttl' is given more than once; "
        'ttl must be a whole number of seconds, not "x"',
    ]
    problems = [line.removeprefix("  - ") for line in err.splitlines() if line.startswith("  - ")]
    assert problems == expected
    assert deployed_stack.count_items(table) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"name": "a", "version": "1"', "is not valid JSON: Expecting ',' delimiter at line 1, column 30"),
        ("", "is not valid JSON: Expecting value at line 1, column 1"),
        ("[1, 2,]", "is not valid JSON: Expecting value at line 1, column 7"),
        ("{'name': 'a'}", "is not valid JSON: Expecting property name enclosed in double quotes"),
        ('{"name": "a"}', "A services file must hold a JSON list of service objects."),
        ("null", "A services file must hold a JSON list of service objects."),
        (b"[\xff]", "is not UTF-8 text."),
        ('[{"ttl": ' + "9" * 5000 + "}]", "cannot be read as JSON: Exceeds the limit (4300 digits)"),
        ("[" * 100_000 + "]" * 100_000, "nests JSON too deeply to read; nothing was written."),
    ],
    ids=["truncated", "empty", "trailing-comma", "single-quotes", "object", "null", "latin1", "5000-digits", "deep"],
)
def test_seed_file_that_cannot_be_read_is_one_clear_error(
    deployed_stack: Stack, table: str, tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "services.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = deployed_stack.sdcli("--local", "--table", table, "seed", "--file", str(path), check=False)
    assert result.returncode == EXIT_INVALID_INPUT
    assert message in one_error(result)
    assert deployed_stack.count_items(table) == 0


def test_seed_valid_file_writes_exactly_its_records(deployed_stack: Stack, table: str, tmp_path: Path) -> None:
    names = ["plain", 'quo"te', "back\\slash", "it's", "a/b", "..", ".", "x y", "%2F", "q?x#y", "\x00nul", "中文😀"]
    names += ["[/]", "\x1b[31mred", "n" * 2048]
    services = [record(name, version, ttl=index) for index, name in enumerate(names) for version in ("1", "v" * 1024)]
    services.append(record("max-ttl", ttl=MAX_TTL))
    path = tmp_path / "services.json"
    # A byte-order mark, as some editors write, is not part of the JSON.
    path.write_text("\ufeff" + json.dumps(services), encoding="utf-8")
    result = deployed_stack.sdcli("--local", "--output", "json", "--table", table, "seed", "--file", str(path))
    assert json.loads(result.stdout) == {"table": table, "written": 31, "unchanged": 0, "total": 31}
    assert deployed_stack.count_items(table) == 31
    assert deployed_stack.items(table) == {
        (s["name"], s["version"]): {"endpoint_url": s["endpoint_url"], "ttl": s["ttl"], "status": s["status"]}
        for s in services
    }
    again = deployed_stack.json("--local", "--table", table, "seed", "--file", str(path))
    assert (again["written"], again["unchanged"]) == (0, 31)
    assert deployed_stack.count_items(table) == 31


def test_seed_empty_list_writes_nothing(deployed_stack: Stack, table: str, tmp_path: Path) -> None:
    result = deployed_stack.seed_file(tmp_path / "s.json", [], "--table", table)
    assert result.returncode == EXIT_OK and json.loads(result.stdout)["total"] == 0
    assert deployed_stack.count_items(table) == 0


@pytest.mark.slow
def test_seed_10000_records(deployed_stack: Stack, table: str, tmp_path: Path) -> None:
    services = [record(f"service-{index:05d}", f"{index % 7}.{index % 3}", ttl=index) for index in range(10_000)]
    path = tmp_path / "services.json"
    started = time.monotonic()
    result = deployed_stack.seed_file(path, services, "--table", table)
    seeded = time.monotonic() - started
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout) == {"table": table, "written": 10_000, "unchanged": 0, "total": 10_000}
    assert deployed_stack.count_items(table) == 10_000
    started = time.monotonic()
    again = deployed_stack.json("--local", "--table", table, "seed", "--file", str(path))
    reseeded = time.monotonic() - started
    assert (again["written"], again["unchanged"]) == (0, 10_000)
    assert deployed_stack.count_items(table) == 10_000
    print(f"\nseed 10,000: {seeded:.1f} s, {deployed_stack.count_items(table)} items counted; re-seed {reseeded:.1f} s")


# --- sdcli lookup: arguments -----------------------------------------------------------------------------------


def lookup(stack: Stack, *args: str | bytes, api_url: str | None = None) -> subprocess.CompletedProcess[str]:
    url = stack.invoke_url if api_url is None else api_url
    return subprocess.run(
        [str(Path(sys.executable).with_name("sdcli")), "lookup", "--api-url", url, "--", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("", "1.0"), EXIT_INVALID_INPUT, "Error: NAME must not be empty."),
        (("testservice2", ""), EXIT_INVALID_INPUT, "Error: VERSION must not be empty."),
        (("n" * 2049, "1.0"), EXIT_INVALID_INPUT, "Error: NAME is 2049 bytes; the catalog allows at most 2048."),
        (("é" * 1025, "1.0"), EXIT_INVALID_INPUT, "Error: NAME is 2050 bytes; the catalog allows at most 2048."),
        (("n" * 100_000, "1.0"), EXIT_INVALID_INPUT, "Error: NAME is 100000 bytes; the catalog allows at most 2048."),
        (("a", "v" * 1025), EXIT_INVALID_INPUT, "Error: VERSION is 1025 bytes; the catalog allows at most 1024."),
        ((b"\xff", "1.0"), EXIT_INVALID_INPUT, "Error: NAME is not valid Unicode."),  # argv that is not UTF-8
        (("n" * 2048, "v" * 1024), EXIT_NOT_FOUND, "is not in the catalog."),  # exactly at the limits: valid
    ],
    ids=["empty-name", "empty-version", "2049", "2050-wide", "100k", "version-1025", "not-utf8", "at-limits"],
)
def test_lookup_bad_arguments(deployed_stack: Stack, args: tuple, code: int, message: str) -> None:
    result = lookup(deployed_stack, *args)
    assert result.returncode == code
    assert message in one_error(result)


@pytest.mark.parametrize("target", [[], ["--local"]])
def test_lookup_invalid_key_is_reported_before_resolving_the_api(tmp_path: Path, target: list[str]) -> None:
    """No --api-url, no credentials, no local stack: an empty NAME still says so (exit 5), not 'no credentials'."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("sdcli")), *target, "lookup", "", "1.0"],
        env=clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_INVALID_INPUT
    assert one_error(result) == "Error: NAME must not be empty."


def test_lookup_missing_argument_is_a_usage_error(deployed_stack: Stack) -> None:
    result = lookup(deployed_stack, "testservice2")
    assert result.returncode == EXIT_USAGE and "Missing argument 'VERSION'" in result.stderr
    assert "Traceback" not in result.stderr


def test_lookup_shows_data_as_text_not_markup_or_terminal_codes(deployed_stack: Stack, tmp_path: Path) -> None:
    """A name like ``[/]`` was parsed as rich markup (MarkupError, exit 1); an ESC reached the terminal raw."""
    services = [record("[/]", endpoint_url="[bold]u"), record("[red]x", endpoint_url="\x1b[2Jcleared\x07")]
    assert deployed_stack.seed_file(tmp_path / "s.json", services).returncode == EXIT_OK
    result = lookup(deployed_stack, "[/]", "1.0")
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.splitlines()[0] == "[/] 1.0" and "[bold]u" in result.stdout
    result = lookup(deployed_stack, "[red]x", "1.0")
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.splitlines()[0] == "[red]x 1.0"
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2Jcleared\\x07" in result.stdout


# --- sdcli lookup: --api-url that is malformed, unreachable, or not the catalog API --------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "catalog.example.com/dev",
        "ftp://example.com/dev",
        "http://",
        "http:///dev",
        "http://[::1",
        "http://127.0.0.1:99999/dev",
        "http://127.0.0.1:port/dev",
        "http://exa mple.com/dev",
        "http://example.com/dev\n",
        "http://example.com/dev?stage=1",
        "http://example.com/dev#x",
    ],
)
def test_lookup_malformed_api_url_is_a_usage_error(deployed_stack: Stack, url: str) -> None:
    result = lookup(deployed_stack, "testservice2", "1.0", api_url=url)
    assert result.returncode == EXIT_USAGE
    assert one_error(result).startswith("Error: API URL ")


def test_lookup_unreachable_api_url(deployed_stack: Stack) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = lookup(deployed_stack, "testservice2", "1.0", api_url=f"http://127.0.0.1:{port}/dev")
    assert result.returncode == EXIT_API_ERROR
    assert one_error(result) == f"Error: Cannot reach the API at http://127.0.0.1:{port}/dev."


def test_lookup_against_the_wrong_part_of_the_local_stack(deployed_stack: Stack) -> None:
    control_plane = lookup(deployed_stack, "testservice2", "1.0", api_url=deployed_stack.endpoint)
    assert control_plane.returncode == EXIT_API_ERROR
    one_error(control_plane)
    wrong_stage = deployed_stack.invoke_url.replace("/dev/", "/nostage/")
    result = lookup(deployed_stack, "testservice2", "1.0", api_url=wrong_stage)
    assert result.returncode == EXIT_API_ERROR
    assert one_error(result) == f"Error: The API at {wrong_stage} answered HTTP 403: Forbidden."


class Stub(BaseHTTPRequestHandler):
    """Answers ``/KIND/catalog/NAME/VERSION`` the way KIND says: each a server that is not (quite) the catalog."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", headers.pop("length", str(len(body))))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # one branch per kind of wrong server
        kind = self.path.split("/")[1]
        catalog = json.dumps({"endpoint_url": "https://u", "ttl": 1, "status": "ok"}).encode()
        if kind == "ok":
            self.send(200, catalog)
        elif kind == "html":
            self.send(200, b"<!doctype html><html><body>Welcome to nginx!</body></html>", "text/html")
        elif kind == "html404":
            self.send(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        elif kind == "text":
            self.send(200, b"OK", "text/plain")
        elif kind == "empty":
            self.send(200, b"")
        elif kind == "cut-json":
            self.send(200, catalog[:25])
        elif kind == "truncated":  # promises more than it sends, then hangs up
            self.send(200, catalog[:25], length="400", Connection="close")
            self.close_connection = True
        elif kind == "truncated-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"400\r\n" + catalog[:25])
            self.close_connection = True
        elif kind == "wrong-shape":
            self.send(200, b'{"hello": "world"}')
        elif kind == "list":
            self.send(200, b"[1, 2, 3]")
        elif kind == "ttl-text":
            self.send(200, b'{"endpoint_url": "u", "ttl": "600", "status": "ok"}')
        elif kind == "ttl-negative":
            self.send(200, b'{"endpoint_url": "u", "ttl": -1, "status": "ok"}')
        elif kind == "surrogate":
            self.send(200, b'{"endpoint_url": "\\ud800", "ttl": 1, "status": "ok"}')
        elif kind == "deep":
            self.send(200, b"[" * 100_000 + b"]" * 100_000)
        elif kind == "other-404":
            self.send(404, b'{"message": "Not Found"}')
        elif kind == "other-400":
            self.send(400, b'{"error": "bad request"}')
        elif kind == "catalog-400":
            self.send(400, b'{"error_message": "Invalid Request"}')
        elif kind == "server-error":
            self.send(500, b'{"message": "Internal server error"}')
        elif kind == "multiline":
            self.send(502, json.dumps({"message": "Bad gateway\nupstream said:\n  x"}).encode())
        elif kind == "forbidden":
            self.send(403, b'{"message": "Missing Authentication Token"}')
        elif kind == "redirect":
            self.send(302, b"", "text/html", Location="http://127.0.0.1:9/elsewhere")
        elif kind == "bad-gzip":
            self.send(200, b"not gzip at all", Content_Encoding="gzip")
        elif kind == "gzip":
            self.send(200, gzip.compress(catalog), Content_Encoding="gzip")
        elif kind == "endless":  # a stream that never ends (bounded here at 64 MiB so the stub stops by itself)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(1024):
                    self.wfile.write(b" " * 65536)
            except OSError:
                pass
        elif kind == "slow":
            time.sleep(3)
            self.send(200, catalog)
        else:
            self.send(500, b"unknown stub kind", "text/plain")


@pytest.fixture(scope="module")
def stub() -> Iterator[str]:
    with http_server(Stub) as url:
        yield url


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("html", EXIT_API_ERROR, "answered HTTP 200 with a body that is not JSON (text/html)."),
        ("html404", EXIT_API_ERROR, "answered HTTP 404 with a body that is not JSON (text/html)."),
        ("text", EXIT_API_ERROR, "answered HTTP 200 with a body that is not JSON (text/plain)."),
        ("empty", EXIT_API_ERROR, "answered HTTP 200 with a body that is not JSON (application/json)."),
        ("cut-json", EXIT_API_ERROR, "answered HTTP 200 with a body that is not JSON (application/json)."),
        ("truncated", EXIT_API_ERROR, "closed the connection before its answer was complete (truncated body)."),
        ("truncated-chunked", EXIT_API_ERROR, "closed the connection before its answer was complete"),
        ("wrong-shape", EXIT_API_ERROR, "answered 200 with something that is not a catalog record."),
        ("list", EXIT_API_ERROR, "answered 200 with something that is not a catalog record."),
        ("ttl-text", EXIT_API_ERROR, "answered 200 with something that is not a catalog record."),
        ("ttl-negative", EXIT_API_ERROR, "answered 200 with something that is not a catalog record."),
        ("surrogate", EXIT_API_ERROR, "answered 200 with something that is not a catalog record."),
        ("deep", EXIT_API_ERROR, "answered HTTP 200 with a body that is not JSON (application/json)."),
        ("other-404", EXIT_API_ERROR, "answered HTTP 404: Not Found."),
        ("other-400", EXIT_API_ERROR, "answered HTTP 400."),
        ("catalog-400", EXIT_INVALID_INPUT, "The API rejected the name or version: Invalid Request."),
        ("server-error", EXIT_API_ERROR, "answered HTTP 500: Internal server error."),
        ("multiline", EXIT_API_ERROR, "answered HTTP 502: Bad gateway upstream said: x."),
        ("forbidden", EXIT_API_ERROR, "answered HTTP 403: Missing Authentication Token."),
        ("redirect", EXIT_API_ERROR, "answered HTTP 302 with a body that is not JSON (text/html)."),
        ("bad-gzip", EXIT_API_ERROR, "answered with a body that cannot be decoded."),
        ("endless", EXIT_API_ERROR, "answered HTTP 200 with more than 1024 KiB; that is not a catalog answer."),
    ],
)
def test_lookup_against_a_server_that_is_not_the_catalog(
    deployed_stack: Stack, stub: str, kind: str, code: int, message: str
) -> None:
    result = lookup(deployed_stack, "testservice2", "1.0", api_url=f"{stub}/{kind}")
    assert result.returncode == code
    error = one_error(result)
    assert message in error, error
    if code == EXIT_API_ERROR:
        assert error.startswith(f"Error: The API at {stub}/{kind} ")


def test_lookup_stub_that_answers_like_the_catalog_works(deployed_stack: Stack, stub: str) -> None:
    """The stubs are real servers: the two that answer a catalog record (plain and gzip) are accepted."""
    for kind in ("ok", "gzip"):
        result = lookup(deployed_stack, "testservice2", "1.0", api_url=f"{stub}/{kind}")
        assert result.returncode == EXIT_OK, result.stderr
        assert "https://u" in result.stdout


def test_lookup_timeout(deployed_stack: Stack, stub: str) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("sdcli")),
            "lookup",
            "--api-url",
            f"{stub}/slow",
            "--timeout",
            "0.5",
            "testservice2",
            "1.0",
        ],
        env=deployed_stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_API_ERROR
    assert one_error(result) == f"Error: The API at {stub}/slow did not answer within 0.5 s."


def test_lookup_not_http_at_all(deployed_stack: Stack) -> None:
    """A port that speaks another protocol (here: a banner, then hang up)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = lookup(deployed_stack, "testservice2", "1.0", api_url=f"http://127.0.0.1:{port}/dev")
    finally:
        thread.join(timeout=10)
        server.close()
    assert result.returncode == EXIT_API_ERROR
    assert one_error(result) == f"Error: Cannot reach the API at http://127.0.0.1:{port}/dev."
