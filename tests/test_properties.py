"""Property: any name and version, seeded with ``sdcli seed --file`` and looked up over HTTP on the local stack.

Names and versions come from all of Unicode plus the characters that break URLs, JSON and templates (quotes,
backslash, ``/ % ? #``, spaces, control characters, dot segments) and lengths around and past DynamoDB's key
limits (2,048 bytes name, 1,024 bytes version). A model of what was seeded says what every lookup must answer:

* 200 with exactly the seeded record (never another record's data) for a seeded key,
* 404 ``Service Not Found`` for a valid key that was not seeded,
* 400 ``Invalid Request`` for a key that can never exist (too long, not valid Unicode),
* 403 ``Missing Authentication Token`` for an empty segment, which is no route at all (API Gateway's answer;
  the OpenAPI document says ``minLength: 1``) and never reaches the function,

and the body is always JSON, never a stack trace, never a 5xx. A seed file holding an invalid key is rejected
whole (exit 5) with nothing written. One lookup per example also goes through the real ``sdcli lookup``
executable; one seed in four runs the real ``sdcli`` executable, the others the same click CLI in-process.

CI runs ``SDCLI_PROPERTY_EXAMPLES`` examples (default 50); the long run is ``-m slow`` (``test_..._long``,
``SDCLI_PROPERTY_EXAMPLES_LONG``, default 1,000). Each example is one batch of services and its seed run(s);
``-s`` prints what was tried.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdcli.cli import cli
from sdcli.errors import EXIT_INVALID_INPUT, EXIT_NOT_FOUND, EXIT_OK
from sdcli.lookup import encode_segment
from tests.localstack import Stack

pytestmark = pytest.mark.e2e

NAME_LIMIT = 2048
VERSION_LIMIT = 1024
MAX_TTL = 2**31 - 1
CI_EXAMPLES = int(os.environ.get("SDCLI_PROPERTY_EXAMPLES", "50"))
LONG_EXAMPLES = int(os.environ.get("SDCLI_PROPERTY_EXAMPLES_LONG", "1000"))

SPECIALS = ['"', "'", "\\", "/", "%", "?", "#", " ", "+", "&", "=", ";", "$", "{", "}", "[/]", "*", "~"]
SPECIALS += ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffd", "😀", "中", "é"]
SPECIALS += ["%2F", "%25", "%2E", "%2e%2e", "%00", "%ZZ", "%", "\\'", "\\u0000", "${x}", "$input", "#set"]
DOT_SEGMENTS = [".", "..", "...", "./", "../", "/..", "./.", "%2E", "%2E%2E"]
WIDE_CHARS = ["a", "%", ".", "/", "é", "中", "😀", "\x00", '"']


def _exactly(char: str, size: int) -> str:
    """A string of ``size`` UTF-8 bytes made of ``char`` (padded with ``a``), to hit the limits exactly."""
    width = len(char.encode())
    return char * (size // width) + "a" * (size % width)


def keys(limit: int) -> st.SearchStrategy[str]:
    unicode_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
    pieces = st.lists(st.sampled_from(SPECIALS) | unicode_text, min_size=1, max_size=5).map("".join)
    sized = st.builds(_exactly, st.sampled_from(WIDE_CHARS), st.integers(limit - 3, limit + 3) | st.just(limit * 3))
    not_unicode = unicode_text.map(lambda text: text + "\ud800")  # a lone surrogate: no UTF-8 form exists
    return st.one_of(
        unicode_text, pieces, st.sampled_from(DOT_SEGMENTS), sized, st.just(""), not_unicode, st.sampled_from(SPECIALS)
    )


def valid_key(value: str, limit: int) -> bool:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return 0 < size <= limit


def argv_safe(value: str) -> bool:
    """Whether a command line can carry ``value`` (no NUL, no lone surrogate)."""
    return "\x00" not in value and valid_key(value + "x", 10**6)


def segment(value: str) -> str:
    """The path segment for ``value``: sdcli's own encoding; a lone surrogate as the bytes a client would send."""
    try:
        return encode_segment(value)
    except UnicodeEncodeError:
        return quote(value.encode("utf-8", "surrogatepass"), safe="")


services = st.lists(st.tuples(keys(NAME_LIMIT), keys(VERSION_LIMIT)), min_size=1, max_size=5, unique_by=lambda key: key)
probes = st.lists(st.tuples(keys(NAME_LIMIT), keys(VERSION_LIMIT)), max_size=3)
values = st.tuples(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20).filter(str.strip),
    st.integers(0, MAX_TTL),
    st.sampled_from(["healthy", "degraded", "draining", 'ünïcode "status"']),
)


class Model:
    """What the catalog must hold: every record a successful seed wrote, by key; and what was tried."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.records: dict[tuple[str, str], dict] = {}
        self.serial = itertools.count()
        self.http_lookups = 0
        self.cli_lookups = 0
        self.seeds = 0
        self.executable_seeds = 0
        self.rejected_seeds = 0
        self.examples = 0

    def expected(self, name: str, version: str) -> tuple[int, dict]:
        if name == "" or version == "":
            return 403, {"message": "Missing Authentication Token"}
        if not (valid_key(name, NAME_LIMIT) and valid_key(version, VERSION_LIMIT)):
            return 400, {"error_message": "Invalid Request"}
        if (name, version) in self.records:
            return 200, self.records[(name, version)]
        return 404, {"error_message": "Service Not Found"}


@pytest.fixture(scope="module")
def model(deployed_stack: Stack) -> Iterator[Model]:
    model = Model(deployed_stack)
    model.records[("testservice1", "1.0")] = {"endpoint_url": "notarealurl1", "ttl": 300, "status": "healthy"}
    model.records[("testservice2", "1.0")] = {"endpoint_url": "notarealurl2", "ttl": 600, "status": "healthy"}
    yield model
    print(
        f"\nproperty run: {model.examples} examples, {model.seeds} seed runs ({model.executable_seeds} by the "
        f"executable, {model.rejected_seeds} refused), "
        f"{model.http_lookups} HTTP lookups, {model.cli_lookups} sdcli lookups, {len(model.records)} records"
    )


def check_http_lookup(model: Model, name: str, version: str) -> None:
    url = f"{model.stack.invoke_url}/catalog/{segment(name)}/{segment(version)}"
    response = requests.get(url, timeout=60)
    model.http_lookups += 1
    status, body = model.expected(name, version)
    assert response.headers.get("Content-Type") == "application/json", (name, version, response.headers)
    assert "Traceback" not in response.text and "stackTrace" not in response.text
    assert (response.status_code, response.json()) == (status, body), (name, version)


def check_cli_lookup(model: Model, name: str, version: str) -> None:
    result = model.stack.sdcli(
        "--output", "json", "lookup", "--api-url", model.stack.invoke_url, "--", name, version, check=False
    )
    model.cli_lookups += 1
    status, body = model.expected(name, version)
    assert "Traceback" not in result.stderr
    if status == 200:
        assert (result.returncode, json.loads(result.stdout)) == (EXIT_OK, body), result.stderr
        return
    expected_code = {404: EXIT_NOT_FOUND, 400: EXIT_INVALID_INPUT, 403: EXIT_INVALID_INPUT}[status]
    assert (result.returncode, result.stdout) == (expected_code, ""), result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) <= 2, result.stderr


def seed(model: Model, path: Path, records: list[dict], data: st.DataObject) -> subprocess.CompletedProcess[str]:
    """``sdcli --local seed --file``: the real executable one time in four, else the same click CLI in-process
    (over HTTP to the same stack; it saves the interpreter start-up, which is most of a seed's time)."""
    model.seeds += 1
    if data.draw(st.integers(0, 3), label="seed with the executable") == 0:
        model.executable_seeds += 1
        return model.stack.seed_file(path, records)
    path.write_text(json.dumps(records), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--local", "--output", "json", "seed", "--file", str(path)], env=model.stack.env, catch_exceptions=False
    )
    return subprocess.CompletedProcess(["sdcli"], result.exit_code, result.stdout, result.stderr)


def run_property(model: Model, batch: list[tuple[str, str]], extra: list[tuple[str, str]], data: st.DataObject) -> None:
    model.examples += 1
    records = []
    for name, version in batch:
        endpoint, ttl, status = data.draw(values)
        endpoint = f"{endpoint}#{next(model.serial)}"  # unique, so another record's data cannot pass as this one
        records.append({"name": name, "version": version, "endpoint_url": endpoint, "ttl": ttl, "status": status})
    valid = [r for r in records if valid_key(r["name"], NAME_LIMIT) and valid_key(r["version"], VERSION_LIMIT)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "services.json"
        # Every few examples, first the whole batch: a file with an invalid key must be refused with nothing written.
        if len(valid) < len(records) and data.draw(st.integers(0, 2), label="check refusal") == 0:
            before = model.stack.count_items()
            result = seed(model, path, records, data)
            model.rejected_seeds += 1
            assert result.returncode == EXIT_INVALID_INPUT, result.stderr
            assert "invalid service record(s); nothing was written." in result.stderr
            assert "Traceback" not in result.stderr
            assert model.stack.count_items() == before
        if valid:
            result = seed(model, path, valid, data)
            assert result.returncode == EXIT_OK, result.stderr
            for record in valid:
                model.records[(record["name"], record["version"])] = {
                    key: record[key] for key in ("endpoint_url", "ttl", "status")
                }
    for name, version in [*batch, *extra]:
        check_http_lookup(model, name, version)
    # The executable too, for one key per example (argv cannot carry NUL or a lone surrogate).
    name, version = data.draw(st.sampled_from([*batch, *extra]))
    if argv_safe(name) and argv_safe(version):
        check_cli_lookup(model, name, version)


# Each example seeds and looks up over HTTP: slow by hypothesis's measure, and the model fixture lives per module.
SLOW_EXAMPLES = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=CI_EXAMPLES, **SLOW_EXAMPLES)
@given(batch=services, extra=probes, data=st.data())
def test_any_name_and_version_answers_its_record_or_404_or_400(
    model: Model, batch: list[tuple[str, str]], extra: list[tuple[str, str]], data: st.DataObject
) -> None:
    run_property(model, batch, extra, data)


@pytest.mark.slow
@settings(max_examples=LONG_EXAMPLES, **SLOW_EXAMPLES)
@given(batch=services, extra=probes, data=st.data())
def test_any_name_and_version_answers_its_record_or_404_or_400_long(
    model: Model, batch: list[tuple[str, str]], extra: list[tuple[str, str]], data: st.DataObject
) -> None:
    run_property(model, batch, extra, data)


def test_the_model_matches_the_table(model: Model) -> None:
    """After the property run, the table holds exactly what the model says was seeded (nothing lost, nothing extra)."""
    assert model.stack.items() == model.records
