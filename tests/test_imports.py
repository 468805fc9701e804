"""The lookup path and ``--help`` stay light: no boto3, botocore or moto when no AWS call is needed.

``sdcli lookup --api-url`` is a plain HTTP GET that CI scripts run many times; importing the AWS SDK would
cost it more than the request does. Checked, not timed: each command runs in a fresh interpreter against a
stand-in catalog API on 127.0.0.1, and the test reads ``sys.modules`` as the process exits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import http_server

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"boto3", "botocore", "moto", "s3transfer"}

RUN_SDCLI = """\
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["sdcli", *json.loads(sys.argv[1])]
from sdcli.cli import main
main()
"""


class _CatalogApi(BaseHTTPRequestHandler):
    """Answers like the deployed API: testservice2 1.0 is found, anything else is not."""

    def do_GET(self) -> None:
        if self.path == "/dev/catalog/testservice2/1.0":
            status, body = 200, {"endpoint_url": "notarealurl2", "ttl": 600, "status": "healthy"}
        else:
            status, body = 404, {"error_message": "Service Not Found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with http_server(_CatalogApi) as url:
        yield f"{url}/dev"


def _run(*args: str) -> tuple[int, str, set[str]]:
    """Exit code, stdout and the top-level packages imported by ``sdcli ARGS`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_SDCLI, json.dumps(list(args))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    marker = [line for line in result.stderr.splitlines() if line.startswith("MODULES ")]
    assert marker, result.stderr
    modules = set(json.loads(marker[-1][len("MODULES ") :]))
    return result.returncode, result.stdout, {name.split(".")[0] for name in modules} | modules


@pytest.mark.parametrize("output", ["table", "json"])
def test_lookup_with_api_url_imports_no_aws_sdk(api_url: str, output: str) -> None:
    code, stdout, modules = _run("--output", output, "lookup", "testservice2", "1.0", "--api-url", api_url)
    assert code == 0 and "notarealurl2" in stdout
    assert "sdcli.lookup" in modules  # the command really ran
    assert not HEAVY & modules


def test_lookup_table_to_a_pipe_needs_no_rich_and_looks_the_same(api_url: str) -> None:
    code, stdout, modules = _run("lookup", "testservice2", "1.0", "--api-url", api_url)
    assert code == 0 and "rich" not in modules
    assert stdout == _rich_table(
        "testservice2 1.0", ["endpoint URL", "TTL", "status"], [["notarealurl2", "600", "healthy"]]
    )


def _rich_table(title: str | None, columns: list[str], rows: list[list[str]], show_header: bool = True) -> str:
    """What sdcli's rich table (render.table) prints to a pipe 80 columns wide."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True, width=80, force_terminal=False, color_system=None)
    grid = Table(title=None if title is None else Text(title), title_justify="left", show_header=show_header)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*[Text(cell) for cell in row])
    console.print(grid)
    return out.getvalue()


class _Pipe:
    encoding = "utf-8"

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("title", "columns", "rows", "show_header"),
    [
        ("testservice2 1.0", ["endpoint URL", "TTL", "status"], [["https://x.example/a b", "0", "degraded"]], True),
        ("Deploy", ["resource", "name", "action", "detail"], [["table", "Services", "unchanged", "ACTIVE"]] * 3, True),
        ("Lambda package", ["", ""], [["sha256", "ab" * 16], ["size", "2163 bytes"]], False),
        (None, ["a"], [], True),
        ("a title longer than its narrow table", ["x"], [["y"]], True),
    ],
)
def test_plain_table_matches_rich(
    monkeypatch: pytest.MonkeyPatch, title: str | None, columns: list[str], rows: list[list[str]], show_header: bool
) -> None:
    from sdcli import render

    monkeypatch.setattr(sys, "stdout", _Pipe())
    monkeypatch.delenv("COLUMNS", raising=False)
    plain = render._plain_table(title, columns, rows, show_header)
    assert plain is None or plain == _rich_table(title, columns, rows, show_header)


@pytest.mark.parametrize(
    ("columns", "rows"),
    [(["name"], [["中文"]]), (["[b]markup[/b]"], [["x"]]), (["e"], [["\x1b[31m"]])],
)
def test_plain_table_leaves_wide_or_styled_text_to_rich(
    monkeypatch: pytest.MonkeyPatch, columns: list[str], rows: list[list[str]]
) -> None:
    from sdcli import render

    monkeypatch.setattr(sys, "stdout", _Pipe())
    assert render._plain_table("t", columns, rows, True) is None


def test_a_pipe_gets_a_long_row_whole_unless_columns_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from sdcli import render

    monkeypatch.setattr(sys, "stdout", _Pipe())
    monkeypatch.delenv("COLUMNS", raising=False)
    long = "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/catalog/*/*" + "x" * 40
    rule = len(long) + 2
    assert render._plain_table("t", ["name"], [[long]], True) == (
        f"t\n┏{'━' * rule}┓\n┃ {'name'.ljust(len(long))} ┃\n┡{'━' * rule}┩\n│ {long} │\n└{'─' * rule}┘\n"
    )
    monkeypatch.setenv("COLUMNS", "80")  # a width given is a width kept: rich folds the row
    assert render._plain_table("t", ["name"], [[long]], True) is None


def test_lookup_not_found_imports_no_aws_sdk(api_url: str) -> None:
    code, _, modules = _run("lookup", "nosuchservice", "1.0", "--api-url", api_url)
    assert code == 3
    assert not HEAVY & modules


@pytest.mark.parametrize("args", [("--help",), ("lookup", "--help"), ("--version",)])
def test_help_is_light(args: tuple[str, ...]) -> None:
    code, stdout, modules = _run(*args)
    assert code == 0 and stdout
    assert not HEAVY & modules
    assert not {"rich", "requests"} & modules  # nothing to draw and nothing to ask


def test_commands_that_call_aws_do_import_it() -> None:
    """The check can fail: a command that needs AWS imports botocore (here: no endpoint answers)."""
    _, _, modules = _run("--endpoint-url", "http://127.0.0.1:9", "status")
    assert "botocore" in modules
