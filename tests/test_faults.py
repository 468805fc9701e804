"""Faults at the AWS boundary and in the local data plane, and what sdcli does about each.

The control plane is failed on purpose by a proxy in front of a local stack (tests/faultproxy.py), chosen by
counting requests, never by timing:

- **down mid-deploy**: from the N-th mutating request of ``sdcli deploy`` on, for each N, the control plane is
  unreachable, either before that request reaches it or right after applying it (its answer lost). The deploy
  stops with one ``Error:`` line that says where, exit 1, no traceback. The control plane then comes back *with
  its state* (the proxy stops dropping), so the re-run starts from a half-made deployment, and must end in the
  same state as an uninterrupted deploy, redoing nothing that was done. That is the meaningful convergence test.
- **stack killed** when the function step begins, and restarted: the local stack keeps no state, so the re-run
  deploys from scratch. It shows the error is clean and that sdcli keeps no local leftovers that could stop a
  re-run, and little more; the proxy outage above is what proves convergence.
- **an answer lost once**, then everything back: botocore resends the request, so every create must cope with
  finding its own resource already made (and ImportRestApi, which has no natural key, must not be resent).
- **throttling** in each service's own wire format: retried with backoff by botocore's standard mode (sdcli's
  own loop for ImportRestApi), attempts counted, then a clear error once ``SDCLI_MAX_ATTEMPTS`` are spent.

Real-AWS behaviours moto never shows are replayed with botocore's Stubber; function faults run real functions in
the local data plane; a table is deleted under a deployed API. Nothing here sleeps for a retry: botocore's and
sdcli's retry sleeps are recorded instead of slept, and asserted.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
import requests
from botocore.stub import Stubber
from click.testing import CliRunner, Result

import sdcli.aws as sdcli_aws
from sdcli import function as fn
from sdcli.api import load_spec, render_spec
from sdcli.aws import Aws
from sdcli.cli import cli
from sdcli.config import DEFAULT_SPEC_FILE, Settings
from sdcli.errors import EXIT_API_ERROR, EXIT_FAILURE, AwsError
from sdcli.local.server import LocalStack
from sdcli.package import build_package
from tests.conftest import ROOT
from tests.faultproxy import Fault, FaultProxy, LoseResponse, Outage, Throttle, pass_all
from tests.localstack import Stack

# --- the stack, the proxy, and waits that are recorded instead of slept ---------------------------------------


@contextmanager
def dummy_credentials(tmp: Path) -> Iterator[None]:
    """For module-scoped setup, which runs before conftest's per-test environment: the same dummy AWS setup."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "SDCLI_MAX_ATTEMPTS"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One local stack in this process (port 0), so deploys run in-process and their retry sleeps are ours."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with LocalStack(port=0) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(stack: LocalStack) -> Iterator[FaultProxy]:
    with FaultProxy(stack.endpoint) as running:
        yield running


@pytest.fixture(autouse=True)
def _passing(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with a proxy that passes everything."""
    proxy = request.getfixturevalue("proxy") if "proxy" in request.fixturenames else None
    if proxy is not None:
        proxy.reset()
    yield
    if proxy is not None:
        proxy.reset()


@dataclass
class Waits:
    botocore: list[float] = field(default_factory=list)  # botocore's retry backoff (standard mode)
    sdcli: list[float] = field(default_factory=list)  # sdcli's own retries (retry_while, call_once)


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    recorded = Waits()
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=recorded.botocore.append))
    monkeypatch.setattr(Aws, "sleep", staticmethod(recorded.sdcli.append))
    return recorded


@dataclass(frozen=True)
class Names:
    """A scenario's own table, function and API, so scenarios on one stack never see each other's resources."""

    table: str
    function: str
    api: str

    @classmethod
    def tagged(cls, tag: str) -> Names:
        return cls(f"T-{tag}", f"fn-{tag}", f"api-{tag}")

    def options(self) -> list[str]:
        return ["--table", self.table, "--function", self.function, "--api", self.api]


def sdcli(endpoint: str, names: Names, *args: str) -> Result:
    """The real CLI, in-process, against ``endpoint`` (the proxy, or the stack itself)."""
    return CliRunner().invoke(
        cli, ["--endpoint-url", endpoint, "--output", "json", *names.options(), *args], catch_exceptions=False
    )


def payload(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


def assert_one_error_line(result: Result) -> list[str]:
    """Exit 1, nothing on stdout, and exactly an ``Error:`` line and a ``Hint:`` line on stderr."""
    assert result.exit_code == EXIT_FAILURE, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines


def deployed_state(endpoint: str, names: Names) -> dict[str, Any]:
    """What is deployed for ``names``, read back from the stack, with names, ids and endpoints made generic.

    The spec digest is made generic only where it is the digest this deploy must produce for these names.
    """
    status = payload(sdcli(endpoint, names, "status"))
    apigateway, lambda_, iam = client(endpoint, "apigateway"), client(endpoint, "lambda"), client(endpoint, "iam")
    apis = [api for api in apigateway.get_rest_apis(limit=500)["items"] if api["name"] == names.api]
    role = f"{names.function}-role"
    config = lambda_.get_function_configuration(FunctionName=names.function)
    state = {
        "status": status,
        "apis": len(apis),
        "resources": sorted(
            item["path"] for api in apis for item in apigateway.get_resources(restApiId=api["id"])["items"]
        ),
        "role_policies": {
            policy: iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
            for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]
        },
        "invoke_grants": sorted(
            (s["Sid"], s["Condition"]["ArnLike"]["AWS:SourceArn"])
            for s in json.loads(lambda_.get_policy(FunctionName=names.function)["Policy"])["Statement"]
        ),
        "function": {key: config.get(key) for key in ("Runtime", "Role", "Timeout", "MemorySize", "CodeSha256")}
        | {"Environment": config.get("Environment", {}).get("Variables")},
    }
    text = json.dumps(state, sort_keys=True)
    function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{names.function}"
    digest = render_spec(load_spec(DEFAULT_SPEC_FILE), names.api, function_arn, "us-east-1").digest
    text = text.replace(digest, "<spec-digest>")
    for api in apis:
        text = text.replace(api["id"], "<api-id>")
    if status["stage"] and status["stage"]["deployment_id"]:
        text = text.replace(status["stage"]["deployment_id"], "<deployment-id>")
    for name, placeholder in ((names.function, "<function>"), (names.table, "<table>"), (names.api, "<api>")):
        text = text.replace(name, placeholder)
    generic = json.loads(text.replace(endpoint, "<endpoint>"))
    generic["function"]["Handler"] = config["Handler"]  # the module's name, which may be the function's too
    return generic


# --- the control plane going away in the middle of a deploy ----------------------------------------------------

MUTATING_REQUESTS = [
    "dynamodb.CreateTable",
    "iam.CreateRole",
    "iam.PutRolePolicy",
    "lambda.CreateFunction",
    "apigateway.ImportRestApi",
    "lambda.AddPermission",
    "apigateway.CreateDeployment",
]
STEPS = ["table", "role", "function", "api", "permission", "stage"]
STEP_OF = {
    "CreateTable": "table",
    "CreateRole": "role",
    "PutRolePolicy": "role",
    "CreateFunction": "function",
    "ImportRestApi": "api",
    "AddPermission": "permission",
    "CreateDeployment": "stage",
}


@pytest.fixture(scope="module")
def reference(stack: LocalStack, proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted deploy: the state every interrupted one must converge to."""
    proxy.reset()
    names = Names.tagged("reference")
    with dummy_credentials(tmp_path_factory.mktemp("reference")):
        first = payload(sdcli(proxy.endpoint, names, "deploy"))
        assert {r["action"] for r in first["resources"]} == {"created"}
        assert proxy.mutating() == MUTATING_REQUESTS
        return deployed_state(stack.endpoint, names)


def test_reference_deploy_is_complete_and_scoped(reference: dict[str, Any]) -> None:
    assert reference["apis"] == 1 and reference["status"]["healthy"] is True
    assert reference["status"]["problems"] == []
    assert reference["resources"] == [
        "/",
        "/catalog",
        "/catalog/{serviceName}",
        "/catalog/{serviceName}/{serviceVersion}",
    ]
    assert reference["invoke_grants"] == [
        ["sdcli-apigateway-<api-id>", "arn:aws:execute-api:us-east-1:123456789012:<api-id>/*/GET/catalog/*/*"]
    ]
    assert list(reference["role_policies"]) == ["catalog-read-us-east-1"]
    assert reference["function"]["Environment"] == {"TABLE_NAME": "<table>"}


@pytest.mark.parametrize("at", range(1, len(MUTATING_REQUESTS) + 1), ids=lambda n: MUTATING_REQUESTS[n - 1])
@pytest.mark.parametrize("applied", [False, True], ids=["down-before-it", "down-after-applying-it"])
def test_control_plane_down_mid_deploy_then_back_converges(
    stack: LocalStack,
    proxy: FaultProxy,
    reference: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    at: int,
    applied: bool,
) -> None:
    monkeypatch.setenv("SDCLI_MAX_ATTEMPTS", "3")
    names = Names.tagged(f"{'after' if applied else 'before'}-{at}")
    operation = MUTATING_REQUESTS[at - 1].split(".")[1]
    outage = Outage(at, applied=applied)
    proxy.reset(outage)

    lines = assert_one_error_line(sdcli(proxy.endpoint, names, "deploy"))
    step = STEP_OF[operation]
    assert lines[0].startswith(f"Error: Stopped at {step} ")
    assert "(create): Cannot reach " in lines[0]
    assert lines[1].endswith("re-run continues from what exists.")
    # The fault hit where intended: the at-th mutating request was this operation, and it was dropped or lost.
    mutating = [(request.operation, outcome) for request, outcome in proxy.log if request.mutating]
    assert [op for op, _ in mutating[: at - 1]] == [m.split(".")[1] for m in MUTATING_REQUESTS[: at - 1]]
    assert mutating[at - 1] == (operation, "lose-response" if applied else "drop")
    assert all(outcome == "pass" for _, outcome in mutating[: at - 1])
    # Every attempt at it was spent (3), except ImportRestApi, which is never resent blind: after its lost
    # attempt, sdcli looks for the API it may have made (GetRestApis), and that lookup is what fails here.
    attempts = proxy.outcomes(operation)
    assert len(attempts) == (1 if operation == "ImportRestApi" else 3)
    if operation == "ImportRestApi":
        assert proxy.outcomes("GetRestApis")[-3:] == ["drop"] * 3

    outage.restore()  # the control plane is back, with everything it had
    proxy.reset()
    rerun = payload(sdcli(proxy.endpoint, names, "deploy"))
    actions = {r["resource"]: r["action"] for r in rerun["resources"]}
    assert all(actions[done] == "unchanged" for done in STEPS[: STEPS.index(step)]), actions
    assert deployed_state(stack.endpoint, names) == reference

    proxy.reset()
    third = payload(sdcli(proxy.endpoint, names, "deploy"))
    assert third["mutating_calls"] == 0 and proxy.mutating() == []


@pytest.mark.parametrize("at", range(1, len(MUTATING_REQUESTS) + 1), ids=lambda n: MUTATING_REQUESTS[n - 1])
def test_a_lost_answer_is_resent_safely_and_nothing_is_made_twice(
    stack: LocalStack, proxy: FaultProxy, reference: dict[str, Any], at: int
) -> None:
    names = Names.tagged(f"lost-{at}")
    operation = MUTATING_REQUESTS[at - 1].split(".")[1]
    proxy.reset(LoseResponse(at))

    first = payload(sdcli(proxy.endpoint, names, "deploy"))
    assert {r["action"] for r in first["resources"]} == {"created"}
    outcomes = proxy.outcomes(operation)
    assert outcomes[0] == "lose-response"
    if operation == "ImportRestApi":  # found by its name and spec digest instead of being imported again
        assert outcomes == ["lose-response"]
    else:  # botocore resent it; the create found its own resource and carried on
        assert outcomes == ["lose-response", "pass"]
    assert deployed_state(stack.endpoint, names) == reference

    proxy.reset()
    again = payload(sdcli(proxy.endpoint, names, "deploy"))
    assert again["mutating_calls"] == 0 and proxy.mutating() == []


def test_stack_killed_when_the_function_step_begins_then_restarted(tmp_path: Path, reference: dict[str, Any]) -> None:
    names = Names.tagged("killed")
    stack = Stack(tmp_path / "state")
    stack.env["TMPDIR"] = str(tmp_path)  # what the killed stack cannot clean up stays in pytest's folder
    stack.start()
    env = {
        **stack.env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SDCLI_MAX_ATTEMPTS": "2",
    }
    pid = json.loads((tmp_path / "state" / "local-stack.json").read_text())["pid"]
    killed: list[str] = []

    def kill_at_create_function(request: Any) -> Fault:
        if request.operation == "CreateFunction" and not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(request.operation)
        return Fault.PASS

    try:
        with FaultProxy(stack.endpoint) as proxy:
            proxy.rule = kill_at_create_function
            result = stack.sdcli("--endpoint-url", proxy.endpoint, *names.options(), "deploy", check=False, env=env)
            assert killed == ["CreateFunction"]
            assert result.returncode == EXIT_FAILURE and result.stdout == ""
            lines = result.stderr.splitlines()
            assert len(lines) == 2, result.stderr
            assert lines[0].startswith("Error: Stopped at function fn-killed (create): Cannot reach ")
            assert lines[1].startswith("Hint: ") and "Traceback" not in result.stderr
            assert "Done before it: table created, role created; a re-run continues from what exists." in lines[1]

            stack.start()  # a new, empty stack: the re-run deploys everything again
            proxy.upstream, proxy.rule = stack.endpoint, pass_all
            rerun = stack.sdcli(
                "--endpoint-url", proxy.endpoint, "--output", "json", *names.options(), "deploy", env=env
            )
            assert {r["action"] for r in json.loads(rerun.stdout)["resources"]} == {"created"}
            assert deployed_state(stack.endpoint, names) == reference
    finally:
        stack.stop()


# --- throttling ------------------------------------------------------------------------------------------------

THROTTLED = [
    ("deploy", "CreateTable", "ThrottlingException"),  # DynamoDB's control plane
    ("deploy", "CreateRole", "Throttling"),  # IAM's code for it
    ("deploy", "CreateFunction", "TooManyRequestsException"),  # Lambda, HTTP 429
    ("deploy", "ImportRestApi", "TooManyRequestsException"),  # API Gateway, retried by sdcli's call_once
    ("deploy", "CreateDeployment", "TooManyRequestsException"),
    ("seed", "BatchWriteItem", "ProvisionedThroughputExceededException"),  # the table's capacity
]


def _prepare(proxy: FaultProxy, names: Names, command: str) -> None:
    if command == "seed":
        payload(sdcli(proxy.endpoint, names, "deploy"))


@pytest.mark.parametrize(("command", "operation", "code"), THROTTLED, ids=[t[1] for t in THROTTLED])
def test_throttling_is_retried_with_backoff(
    proxy: FaultProxy, waits: Waits, monkeypatch: pytest.MonkeyPatch, command: str, operation: str, code: str
) -> None:
    names = Names.tagged(f"throttled-{operation}")
    _prepare(proxy, names, command)
    monkeypatch.setattr(sdcli_aws, "random", SimpleNamespace(random=lambda: 1.0))  # sdcli's own jitter: none
    waits.botocore.clear()
    throttle = Throttle(operation, code, times=2)
    proxy.reset(throttle)

    result = sdcli(proxy.endpoint, names, command)

    assert result.exit_code == 0, result.output
    assert proxy.outcomes(operation) == [code, code, "pass"]
    if operation == "ImportRestApi":  # sdcli's loop: standard mode's throttling backoff, 1 s then 2 s
        assert waits.sdcli == [1.0, 2.0] and waits.botocore == []
    else:  # botocore's: rand(0, 1) * 1 s, then rand(0, 1) * 2 s
        assert len(waits.botocore) == 2 and waits.sdcli == []
        assert 0 < waits.botocore[0] <= 1 and 0 < waits.botocore[1] <= 2


@pytest.mark.parametrize(("command", "operation", "code"), THROTTLED, ids=[t[1] for t in THROTTLED])
def test_throttling_until_retries_run_out_is_a_clear_error(
    proxy: FaultProxy, waits: Waits, monkeypatch: pytest.MonkeyPatch, command: str, operation: str, code: str
) -> None:
    names = Names.tagged(f"throttled-out-{operation}")
    _prepare(proxy, names, command)
    monkeypatch.setenv("SDCLI_MAX_ATTEMPTS", "3")
    proxy.reset(Throttle(operation, code, times=None))

    lines = assert_one_error_line(sdcli(proxy.endpoint, names, command))

    assert proxy.outcomes(operation) == [code] * 3  # SDCLI_MAX_ATTEMPTS attempts, the first included
    assert f"failed: {code}: Rate exceeded" in lines[0]
    if command == "deploy":
        assert lines[0].startswith("Error: Stopped at ")
    hint = "capacity was exceeded after retries" if code.startswith("Provisioned") else "kept throttling after retries"
    assert hint in lines[1]

    proxy.reset()  # the throttling stops: the same command finishes the job
    assert sdcli(proxy.endpoint, names, command).exit_code == 0


def test_default_attempts_are_five_in_all(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """SDCLI_MAX_ATTEMPTS counts attempts, the first one included (botocore's max_attempts counts retries)."""
    monkeypatch.delenv("SDCLI_MAX_ATTEMPTS", raising=False)
    proxy.reset(Throttle("CreateTable", "ThrottlingException", times=None))
    assert_one_error_line(sdcli(proxy.endpoint, Names.tagged("five"), "deploy"))
    assert proxy.outcomes("CreateTable") == ["ThrottlingException"] * 5


# --- real-AWS eventual consistency, replayed with botocore's Stubber ----------------------------------------------

ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
UPDATE_IN_PROGRESS = (
    "The operation cannot be performed at this time. An update is in progress for resource: "
    "arn:aws:lambda:us-east-1:123456789012:function:fn"
)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
SOURCE_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/catalog/*/*"
STATEMENT_ID = "sdcli-apigateway-abc123"


class FakeClock:
    """sdcli's retry clock: sleeping advances it, nothing waits."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(Aws, "sleep", staticmethod(fake.sleep))
    monkeypatch.setattr(Aws, "clock", staticmethod(lambda: fake.now))
    return fake


@pytest.fixture
def stubbed() -> Iterator[tuple[Aws, Stubber]]:
    aws = Aws(Settings())
    with Stubber(aws.client("lambda")) as stubber:
        yield aws, stubber
        stubber.assert_no_pending_responses()


def _grant(source_arn: str | None = SOURCE_ARN, principal: Any = None, action: str = "lambda:InvokeFunction") -> str:
    statement: dict[str, Any] = {
        "Sid": STATEMENT_ID,
        "Effect": "Allow",
        "Principal": principal or {"Service": "apigateway.amazonaws.com"},
        "Action": action,
        "Resource": FUNCTION_ARN,
    }
    if source_arn:
        statement["Condition"] = {"ArnLike": {"AWS:SourceArn": source_arn}}
    return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [statement]})


def _add_permission_params() -> dict[str, str]:
    return {
        "FunctionName": "fn",
        "StatementId": STATEMENT_ID,
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": SOURCE_ARN,
    }


def test_new_role_not_yet_assumable_is_retried(stubbed: tuple[Aws, Stubber], clock: FakeClock) -> None:
    aws, stubber = stubbed
    for _ in range(3):
        stubber.add_client_error("create_function", "InvalidParameterValueException", ROLE_NOT_ASSUMABLE, 400)
    stubber.add_response("create_function", {"FunctionName": "fn", "FunctionArn": FUNCTION_ARN, "State": "Pending"})
    stubber.add_response("get_function", {"Configuration": {"State": "Active"}})  # the function_active_v2 waiter

    package = build_package(ROOT / "lambda_src")
    arn = fn.create_function(aws, "fn", package, fn.desired_configuration("arn:aws:iam::123456789012:role/r", "T"))

    assert arn == FUNCTION_ARN
    assert clock.sleeps == [1, 2, 4]
    assert aws.calls == ["lambda.create_function"] * 4


def test_role_never_assumable_gives_up_at_its_deadline_with_a_hint(
    stubbed: tuple[Aws, Stubber], clock: FakeClock
) -> None:
    aws, stubber = stubbed
    for _ in range(14):  # 1+2+4 s, then 8 s apiece: the 14th failure comes at 87 s, and 95 s is past 90
        stubber.add_client_error("create_function", "InvalidParameterValueException", ROLE_NOT_ASSUMABLE, 400)

    with pytest.raises(AwsError) as raised:
        fn.create_function(aws, "fn", build_package(ROOT / "lambda_src"), fn.desired_configuration("r", "T"))

    assert clock.sleeps == [1, 2, 4] + [8] * 10 and clock.now == 87
    assert raised.value.message.endswith(f"InvalidParameterValueException: {ROLE_NOT_ASSUMABLE}")
    assert raised.value.hint == fn.ROLE_NOT_READY_HINT


def test_update_in_progress_is_waited_out(stubbed: tuple[Aws, Stubber], clock: FakeClock) -> None:
    aws, stubber = stubbed
    for _ in range(2):
        stubber.add_client_error("update_function_code", "ResourceConflictException", UPDATE_IN_PROGRESS, 409)
    stubber.add_response("update_function_code", {"FunctionName": "fn", "LastUpdateStatus": "InProgress"})
    stubber.add_response("get_function", {"Configuration": {"LastUpdateStatus": "Successful"}})

    fn.update_function_code(aws, "fn", build_package(ROOT / "lambda_src"))

    assert clock.sleeps == [1, 2]


def test_update_still_in_progress_after_a_minute_says_so(stubbed: tuple[Aws, Stubber], clock: FakeClock) -> None:
    aws, stubber = stubbed
    for _ in range(10):  # 1+2+4+8*6 = 55 s; 63 s would be past the 60 s wait
        stubber.add_client_error("update_function_code", "ResourceConflictException", UPDATE_IN_PROGRESS, 409)

    with pytest.raises(AwsError) as raised:
        fn.update_function_code(aws, "fn", build_package(ROOT / "lambda_src"))

    assert clock.now == 55 and raised.value.hint == fn.UPDATE_IN_PROGRESS_HINT


def test_repeated_statement_id_of_the_same_grant_counts_as_granted(
    stubbed: tuple[Aws, Stubber], clock: FakeClock
) -> None:
    aws, stubber = stubbed
    stubber.add_client_error(
        "add_permission",
        "ResourceConflictException",
        f"The statement id ({STATEMENT_ID}) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
        409,
        expected_params=_add_permission_params(),
    )
    stubber.add_response("get_policy", {"Policy": _grant()}, {"FunctionName": "fn"})

    fn.grant_invoke(aws, "fn", STATEMENT_ID, SOURCE_ARN)

    assert aws.calls == ["lambda.add_permission", "lambda.get_policy"] and clock.sleeps == []


@pytest.mark.parametrize(
    "existing",
    [
        _grant(source_arn=None),  # any API of any account
        _grant(source_arn="arn:aws:execute-api:us-east-1:123456789012:other/*/*/*"),  # another API
        _grant(principal="*"),  # anyone
        _grant(action="lambda:*"),  # more than invoking
    ],
    ids=["no-source-arn", "another-api", "any-principal", "any-action"],
)
def test_repeated_statement_id_granting_something_else_is_replaced(
    stubbed: tuple[Aws, Stubber], clock: FakeClock, existing: str
) -> None:
    aws, stubber = stubbed
    conflict = f"The statement id ({STATEMENT_ID}) provided already exists. Please provide a new statement id."
    stubber.add_client_error("add_permission", "ResourceConflictException", conflict, 409)
    stubber.add_response("get_policy", {"Policy": existing})
    stubber.add_response("remove_permission", {}, {"FunctionName": "fn", "StatementId": STATEMENT_ID})
    stubber.add_response("add_permission", {"Statement": "{}"}, _add_permission_params())

    fn.grant_invoke(aws, "fn", STATEMENT_ID, SOURCE_ARN)

    assert aws.calls == [
        "lambda.add_permission",
        "lambda.get_policy",
        "lambda.remove_permission",
        "lambda.add_permission",
    ]


def test_grant_while_the_function_updates_is_waited_out(stubbed: tuple[Aws, Stubber], clock: FakeClock) -> None:
    aws, stubber = stubbed
    stubber.add_client_error("add_permission", "ResourceConflictException", UPDATE_IN_PROGRESS, 409)
    stubber.add_response("add_permission", {"Statement": "{}"}, _add_permission_params())

    fn.grant_invoke(aws, "fn", STATEMENT_ID, SOURCE_ARN)

    assert clock.sleeps == [1] and aws.calls == ["lambda.add_permission"] * 2


# --- functions that fail, in the local data plane -----------------------------------------------------------------

FAULTY_HANDLER = """
import os
import signal
import time

def lambda_handler(event, context):
    mode = event["service_name"]
    secret = "arn:aws:dynamodb:us-east-1:123456789012:table/" + os.environ["TABLE_NAME"]
    if mode == "raise":
        raise RuntimeError("lookup failed on " + secret)
    if mode == "unserializable":
        return {"endpoint_url": object(), "ttl": 1, "status": secret}
    if mode == "timeout":
        time.sleep(30)
    if mode == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "exit":
        raise SystemExit(3)
    if mode == "oversize":
        return {"endpoint_url": "x" * (7 * 1024 * 1024), "ttl": 1, "status": secret}
    return {"endpoint_url": "https://ok", "ttl": 1, "status": "healthy"}
"""
GENERIC_500 = {"error_message": "Internal Server Error"}


@pytest.fixture(scope="module")
def faulty_api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A function that fails on request, deployed by ``sdcli deploy --source``, with a 1 s timeout."""
    source = tmp_path_factory.mktemp("faulty")
    (source / "catalog_service.py").write_text(textwrap.dedent(FAULTY_HANDLER))
    names = Names.tagged("faulty")
    with dummy_credentials(source):
        deployed = payload(sdcli(stack.endpoint, names, "deploy", "--source", str(source)))
        client(stack.endpoint, "lambda").update_function_configuration(FunctionName=names.function, Timeout=1)
    return deployed["invoke_url"]


@pytest.mark.parametrize("mode", ["raise", "unserializable", "timeout", "crash", "exit", "oversize"])
def test_failing_function_is_a_generic_500_and_the_next_request_is_served(faulty_api: str, mode: str) -> None:
    failed = requests.get(f"{faulty_api}/catalog/{mode}/1", timeout=60)
    assert failed.status_code == 500
    assert failed.json() == GENERIC_500
    for leak in ("Traceback", "arn:", "T-faulty", "fn-faulty", "RuntimeError", "Sandbox", "Runtime."):
        assert leak not in failed.text and leak not in str(failed.headers)

    served = requests.get(f"{faulty_api}/catalog/ok/1", timeout=60)
    assert served.status_code == 200
    assert served.json() == {"endpoint_url": "https://ok", "ttl": 1, "status": "healthy"}


# --- the table deleted under a deployed API --------------------------------------------------------------------


def test_table_deleted_under_a_deployed_api(stack: LocalStack) -> None:
    names = Names.tagged("gone")
    url = payload(sdcli(stack.endpoint, names, "deploy"))["invoke_url"]
    payload(sdcli(stack.endpoint, names, "seed"))
    assert requests.get(f"{url}/catalog/testservice2/1.0", timeout=30).status_code == 200

    client(stack.endpoint, "dynamodb").delete_table(TableName=names.table)

    answer = requests.get(f"{url}/catalog/testservice2/1.0", timeout=30)
    assert answer.status_code == 500 and answer.json() == GENERIC_500  # not 404: the catalog cannot answer
    assert requests.get(f"{url}/catalog/nosuchservice/1.0", timeout=30).status_code == 500
    lookup = sdcli(stack.endpoint, names, "lookup", "testservice2", "1.0")
    assert lookup.exit_code == EXIT_API_ERROR
    assert lookup.stderr.splitlines()[0] == f"Error: The API at {url} answered HTTP 500: Internal Server Error."

    status = payload(sdcli(stack.endpoint, names, "status"))
    assert status["table"]["status"] is None and status["healthy"] is False
    again = f"sdcli --endpoint-url {stack.endpoint} {' '.join(names.options())}"  # hints repeat the user's flags
    assert status["problems"] == [
        f"table 'T-gone' is gone: every lookup fails (HTTP 500) until `{again} deploy` recreates it "
        f"and `{again} seed` refills it"
    ]
    table_view = CliRunner().invoke(cli, ["--endpoint-url", stack.endpoint, *names.options(), "status"]).stdout
    assert "gone: lookups fail (500)" in table_view

    redeployed = payload(sdcli(stack.endpoint, names, "deploy"))
    assert {r["resource"]: r["action"] for r in redeployed["resources"]}["table"] == "created"
    assert requests.get(f"{url}/catalog/testservice2/1.0", timeout=30).status_code == 404  # empty, answering
    payload(sdcli(stack.endpoint, names, "seed"))
    assert requests.get(f"{url}/catalog/testservice2/1.0", timeout=30).json()["endpoint_url"] == "notarealurl2"
