"""Security: least privilege as deployed, no credentials in any output or log, a clean package, bare error bodies.

The credential tests run with canary values: unmistakable access key, secret and session token that sdcli and a
real local stack (started with them in its environment, as a user's shell would) are given, and that must then
appear nowhere: not on stdout or stderr of any command (``--debug`` included), not in an AWS error that echoes
the signed request, not in the function's environment, not in the local stack's log.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from moto import mock_aws

from sdcli.api import load_spec, render_spec
from sdcli.cli import cli
from sdcli.config import DEFAULT_SPEC_FILE, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from sdcli.errors import EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_NOT_FOUND
from sdcli.package import build_package
from sdcli.redact import REDACTED, add_secrets, redact
from tests.conftest import ROOT
from tests.faultproxy import Fault, FaultProxy, Request, Verdict, error_response
from tests.localstack import Stack

CANARY_KEY_ID = "AKIACANARY0000000042"
CANARY_SECRET = "canarySecret/Key+0000000000000000000000042"
CANARY_TOKEN = "IQoJcanarySessionToken" + "Zm9vYmFy" * 12 + "42=="
CANARIES = (CANARY_KEY_ID, CANARY_SECRET, CANARY_TOKEN)
ACCOUNT = "123456789012"


def canary_free(text: str) -> list[str]:
    """The canaries (or a recognisable piece of one) found in ``text``: must be empty."""
    pieces = (*CANARIES, "canarySecret", "canarySessionToken", "CANARY0000")
    return [piece for piece in pieces if piece in text]


@dataclass
class CanaryStack:
    stack: Stack
    env: dict[str, str]  # a user's shell: the canary credentials, for sdcli and for the stack it starts
    outputs: dict[str, str] = field(default_factory=dict)  # command -> its stdout and stderr
    invoke_url: str = ""
    api_id: str = ""

    def sdcli(self, *args: str, expect: int = 0) -> str:
        result = self.stack.sdcli(*args, check=False, env=self.env)
        output = result.stdout + result.stderr
        self.outputs[" ".join(args)] = output
        assert result.returncode == expect, output
        return result.stdout

    def client(self, service: str) -> Any:
        return self.stack.client(service)


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CanaryStack]:
    """A real local stack started from a shell holding canary credentials, with the catalog deployed by
    ``sdcli --debug`` signing every request with them."""
    stack = Stack(tmp_path_factory.mktemp("canary-state"))
    stack.env.update(
        AWS_ACCESS_KEY_ID=CANARY_KEY_ID,
        AWS_SECRET_ACCESS_KEY=CANARY_SECRET,
        AWS_SESSION_TOKEN=CANARY_TOKEN,
        AWS_DEFAULT_REGION="us-east-1",
    )
    running = CanaryStack(stack.start(), dict(stack.env))
    try:
        endpoint = ["--endpoint-url", stack.endpoint, "--debug"]
        deployed = json.loads(running.sdcli(*endpoint, "--output", "json", "deploy"))
        running.invoke_url, running.api_id = deployed["invoke_url"], deployed["api_id"]
        running.sdcli(*endpoint, "seed")
        running.sdcli(*endpoint, "lookup", "testservice2", "1.0")
        running.sdcli(*endpoint, "lookup", "nosuchservice", "1.0", expect=EXIT_NOT_FOUND)
        running.sdcli(*endpoint, "status")
        running.sdcli(*endpoint, "deploy", "--dry-run")
        running.sdcli("--local", "--debug", "status")
        yield running
    finally:
        stack.stop()


# --- least privilege, read back from what deploy made on the local stack ------------------------------------------


def test_role_policy_allows_only_getitem_on_this_table_and_its_own_logs(canary: CanaryStack) -> None:
    iam = canary.client("iam")
    table_arn = canary.client("dynamodb").describe_table(TableName="Services")["Table"]["TableArn"]
    log_group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/catalog_service"
    assert iam.list_attached_role_policies(RoleName="catalog_service-role")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="catalog_service-role")["PolicyNames"] == ["catalog-read-us-east-1"]
    document = iam.get_role_policy(RoleName="catalog_service-role", PolicyName="catalog-read-us-east-1")[
        "PolicyDocument"
    ]
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadCatalog", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn},
            {"Sid": "CreateLogGroup", "Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": log_group},
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group}:*",
            },
        ],
    }
    assert table_arn == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Services"
    role = iam.get_role(RoleName="catalog_service-role")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    function = canary.client("lambda").get_function_configuration(FunctionName="catalog_service")
    assert function["Role"] == role["Arn"]


def test_invoke_permission_names_this_api_and_another_api_cannot_invoke(canary: CanaryStack) -> None:
    lambda_ = canary.client("lambda")
    [statement] = json.loads(lambda_.get_policy(FunctionName="catalog_service")["Policy"])["Statement"]
    source_arn = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source_arn == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{canary.api_id}/*/GET/catalog/*/*"
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction" and statement["Effect"] == "Allow"

    # The same API definition under another name, pointing at the same function: it has no grant.
    apigateway = canary.client("apigateway")
    function_arn = lambda_.get_function_configuration(FunctionName="catalog_service")["FunctionArn"]
    spec = render_spec(load_spec(DEFAULT_SPEC_FILE), "intruder", function_arn.removesuffix(":$LATEST"), "us-east-1")
    intruder = apigateway.import_rest_api(body=spec.body)["id"]
    apigateway.create_deployment(restApiId=intruder, stageName="dev")
    denied = requests.get(
        f"{canary.stack.endpoint}/restapis/{intruder}/dev/_user_request_/catalog/testservice2/1.0", timeout=30
    )
    assert denied.status_code == 500 and denied.json() == {"message": "Internal server error"}
    served = requests.get(f"{canary.invoke_url}/catalog/testservice2/1.0", timeout=30)
    assert served.status_code == 200 and served.json()["endpoint_url"] == "notarealurl2"


# --- no credentials anywhere ---------------------------------------------------------------------------------

ENV_DUMP_HANDLER = """
import json
import os

def lambda_handler(event, context):
    print("environment:", json.dumps(dict(os.environ)))
    return {"endpoint_url": json.dumps(dict(os.environ)), "ttl": 1, "status": "healthy"}
"""


def test_debug_output_logs_the_calls_and_no_credentials(canary: CanaryStack) -> None:
    deploy = next(output for command, output in canary.outputs.items() if command.endswith("json deploy"))
    assert "debug: sdcli.aws: lambda.create_function(FunctionName='catalog_service', Code={ZipFile=<" in deploy
    assert "debug: sdcli.aws: apigateway.import_rest_api(body=<" in deploy
    assert "debug: sdcli.aws: sts.get_caller_identity() -> 200 in " in deploy
    assert "Environment=<variables TABLE_NAME>" in deploy
    assert len(canary.outputs) >= 7
    for command, output in canary.outputs.items():
        assert canary_free(output) == [], command


def test_function_environment_holds_no_user_credentials(canary: CanaryStack, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "catalog_service.py").write_text(textwrap.dedent(ENV_DUMP_HANDLER))
    names = ["--table", "Services", "--function", "envdump", "--api", "envdump"]
    deployed = json.loads(
        canary.sdcli(
            "--endpoint-url", canary.stack.endpoint, "--output", "json", *names, "deploy", "--source", str(source)
        )
    )
    answer = requests.get(f"{deployed['invoke_url']}/catalog/x/1", timeout=60)
    environment = json.loads(answer.json()["endpoint_url"])
    assert canary_free(answer.text) == []
    assert environment["AWS_ACCESS_KEY_ID"] == LOCAL_ACCESS_KEY
    assert environment["AWS_SECRET_ACCESS_KEY"] == LOCAL_SECRET_KEY
    assert environment["HOME"] != os.environ.get("HOME")  # no ~/.aws of the user's either


def test_local_stack_log_holds_no_credentials(canary: CanaryStack) -> None:
    # A client that puts a session token in a URL, and the function that logs what it was asked for: both
    # reach the stack's log, which must show neither the token nor the signed headers.
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={CANARY_KEY_ID}/20260101/us-east-1/execute-api/aws4_request",
        "X-Amz-Security-Token": CANARY_TOKEN,
    }
    lookup = requests.get(f"{canary.invoke_url}/catalog/{CANARY_TOKEN}/1.0", headers=headers, timeout=30)
    assert lookup.status_code == 404 and lookup.json() == {"error_message": "Service Not Found"}
    log = (canary.stack.state / "local-stack.log").read_text()
    assert f"/catalog/{REDACTED}/1.0 -> 404" in log  # the request was logged, the token in it redacted
    assert '"service_name": "' + REDACTED + '"' in log  # so was the function's own log line
    assert "START RequestId" in log and "[catalog_service]" in log
    assert canary_free(log) == []


def test_aws_error_that_echoes_the_signed_request_is_redacted(canary: CanaryStack) -> None:
    """STS and IAM answer a bad signature with the canonical request they expected, session token included."""
    echoed = (
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String "
        "for this request should have been\n'POST\n/\n\ncontent-type:application/x-www-form-urlencoded; "
        f"charset=utf-8\nhost:sts.amazonaws.com\nx-amz-date:20260101T000000Z\nx-amz-security-token:{CANARY_TOKEN}"
        "\n\ncontent-type;host;x-amz-date;x-amz-security-token\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n\nThe String-to-Sign should have "
        f"been\n'AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/sts/aws4_request' (Credential="
        f"{CANARY_KEY_ID}/20260101/us-east-1/sts/aws4_request)"
    )

    def bad_signature(request: Request) -> Verdict:
        if request.operation == "DescribeTable":  # the first call a deploy makes
            return error_response(request, "SignatureDoesNotMatch", echoed)
        return Fault.PASS

    with FaultProxy(canary.stack.endpoint) as proxy:
        proxy.rule = bad_signature
        for debug in ([], ["--debug"]):
            command = ["--endpoint-url", proxy.endpoint, *debug, "deploy", "--dry-run"]
            canary.sdcli(*command, expect=EXIT_FAILURE)
            output = canary.outputs[" ".join(command)]
            errors = [line for line in output.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1 and "SignatureDoesNotMatch: The request signature we calculated" in errors[0]
            assert f"x-amz-security-token:{REDACTED}" in errors[0] and f"(Credential={REDACTED}/" in errors[0]
            assert errors[0].endswith("/us-east-1/sts/aws4_request)")  # AWS's many lines, kept to the one
            if not debug:
                assert output.splitlines() == errors
            assert canary_free(output) == []
        assert proxy.outcomes("DescribeTable") == ["SignatureDoesNotMatch", "SignatureDoesNotMatch"]


def test_debug_redacts_botocore_wire_logs_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with botocore's own DEBUG logging on (signed headers, canonical requests), nothing leaks."""
    for name, value in zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), CANARIES, strict=True):
        monkeypatch.setenv(name, value)
    botocore_logger = logging.getLogger("botocore")
    level = botocore_logger.level
    botocore_logger.setLevel(logging.DEBUG)
    try:
        with mock_aws():
            result = CliRunner().invoke(cli, ["--debug", "status"], catch_exceptions=False)
    finally:
        botocore_logger.setLevel(level)
    assert result.exit_code == 0, result.output
    assert "debug: botocore.endpoint: Sending http request:" in result.stderr
    assert f"x-amz-security-token:{REDACTED}" in result.stderr  # the canonical request was logged, redacted
    assert f"'X-Amz-Security-Token': b'{REDACTED}'" in result.stderr
    assert f"'Authorization': b'AWS4-HMAC-SHA256 {REDACTED}'" in result.stderr
    assert canary_free(result.output) == []

    after = CliRunner().invoke(cli, ["status"], catch_exceptions=False)  # --debug ends with its command
    assert "debug:" not in after.stderr


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"headers={{'Authorization': b'AWS4-HMAC-SHA256 Credential={CANARY_KEY_ID}/x, Signature=ab'}}", "headers="),
        (f"Authorization: Bearer {CANARY_TOKEN}", "Authorization: "),
        (f"[default]\naws_access_key_id = {CANARY_KEY_ID}\naws_secret_access_key = {CANARY_SECRET}\n", "[default]"),
        (f"AWS_SESSION_TOKEN={CANARY_TOKEN} AWS_SECURITY_TOKEN={CANARY_TOKEN}", "AWS_SESSION_TOKEN="),
        (
            f'{{"Credentials": {{"SecretAccessKey": "{CANARY_SECRET}", "SessionToken": "{CANARY_TOKEN}"}}}}',
            "Credentials",
        ),
        (
            f"https://b.s3.amazonaws.com/k?X-Amz-Credential={CANARY_KEY_ID}%2F20260101&X-Amz-Security-Token="
            f"{CANARY_TOKEN}&X-Amz-Signature={'a' * 64}",
            "https://b.s3.amazonaws.com/k?",
        ),
        (f"x-amz-security-token:{CANARY_TOKEN}\nSignature:\n{'0f' * 32}", "x-amz-security-token:"),
        (f"--endpoint-url http://admin:{CANARY_SECRET.replace('/', '%2F')}@proxy.internal:8080", "proxy.internal:8080"),
        (f"access key ASIA{CANARY_KEY_ID[4:]} in use", "access key "),
    ],
    ids=[
        "sigv4-header",
        "bearer",
        "credentials-file",
        "environment",
        "sts-json",
        "presigned-url",
        "signer-log",
        "url-password",
        "temporary-key-id",
    ],
)
def test_redact_removes_credentials_in_every_shape_they_take(text: str, kept: str) -> None:
    redacted = redact(text)
    assert canary_free(redacted) == [] and "a" * 64 not in redacted and "0f" * 32 not in redacted
    assert REDACTED in redacted and kept in redacted
    assert redact(redacted) == redacted  # a line redacted twice (two handlers) keeps its shape


def test_redact_leaves_ordinary_text_and_short_values_alone() -> None:
    add_secrets(["test", "local"])  # the local stack's dummies: too short to be secrets, too common to redact
    text = "Service 'testservice2' version '1.0': Missing Authentication Token (local stack, token bucket)"
    assert redact(text) == text


# --- the package holds only lambda_src's files ------------------------------------------------------------------


def test_package_holds_only_source_files(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", source)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stolen.py").write_text("SECRET = 1\n")
    planted = {
        ".env": "TOKEN=1\n",
        ".env.production": "TOKEN=1\n",
        ".aws/credentials": "[default]\n",
        ".git/config": "[core]\n",
        ".ssh/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
        "sub/.hidden.py": "X = 1\n",
        "sub/__pycache__/mod.cpython-311.pyc": "x",
        "sub/mod.py": "X = 1\n",
    }
    for name, content in planted.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(content)
    (source / "linked.py").symlink_to(outside / "stolen.py")
    (source / "linked_dir").symlink_to(outside, target_is_directory=True)

    package = build_package(source)

    assert package.files == ("catalog_service.py", "sub/mod.py")
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert archive.namelist() == ["catalog_service.py", "sub/mod.py"]
        assert all(not info.filename.startswith(("/", "..")) for info in archive.infolist())
    assert build_package(ROOT / "lambda_src").files == ("catalog_service.py",)


@pytest.mark.parametrize(
    "content",
    [
        f"[default]\naws_access_key_id = {CANARY_KEY_ID}\n",
        "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        f'KEY = "ASIA{CANARY_KEY_ID[4:]}"\n',
        f"AWS_SESSION_TOKEN: '{CANARY_TOKEN}'\n",
    ],
    ids=["access-key-id", "secret-key", "temporary-key-id", "session-token"],
)
def test_package_refuses_files_holding_credentials(tmp_path: Path, content: str) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", source)
    (source / "settings.py").write_text(content)
    result = CliRunner().invoke(cli, ["package", "--source", str(source)])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert result.stderr.startswith(f"Error: {source / 'settings.py'} holds what looks like AWS credentials")
    assert canary_free(result.output) == [] and "wJalrXUtnFEMI" not in result.output


def test_code_that_reads_credentials_from_its_environment_is_packaged(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", source)
    (source / "client.py").write_text(
        "import os\nimport boto3\n\n"
        "s3 = boto3.client('s3', aws_secret_access_key=os.environ.get('AWS_SECRET_ACCESS_KEY'))\n"
    )
    assert build_package(source).files == ("catalog_service.py", "client.py")


# --- error bodies: no stack trace, no ARN, no table name ----------------------------------------------------------

LEAKY_HANDLER = """
import os

TABLE = os.environ["TABLE_NAME"]
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/" + TABLE

def lambda_handler(event, context):
    mode = event["service_name"]
    if mode == "trace":
        raise RuntimeError("Traceback (most recent call last):\\n  File \\"/var/task/catalog_service.py\\" " + ARN)
    if mode == "notfound":
        raise LookupError("Service Not Found\\n" + ARN)
    if mode == "invalid":
        raise ValueError("Invalid Request: no such key in " + TABLE + " (" + ARN + ")")
    if mode == "boto":
        raise Exception("An error occurred (ResourceNotFoundException) when calling the GetItem operation: "
                        "Requested resource not found: Table: " + TABLE + " not found")
    return {"endpoint_url": "https://ok", "ttl": 1, "status": "healthy"}
"""


@pytest.fixture(scope="module")
def leaky_url(canary: CanaryStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    source = tmp_path_factory.mktemp("leaky")
    (source / "catalog_service.py").write_text(textwrap.dedent(LEAKY_HANDLER))
    names = ["--table", "SecretInternalTable", "--function", "leaky", "--api", "leaky"]
    out = canary.sdcli(
        "--endpoint-url", canary.stack.endpoint, "--output", "json", *names, "deploy", "--source", str(source)
    )
    return json.loads(out)["invoke_url"]


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/catalog/trace/1", 500, {"error_message": "Internal Server Error"}),
        ("/catalog/notfound/1", 500, {"error_message": "Internal Server Error"}),
        ("/catalog/invalid/1", 400, {"error_message": "Invalid Request"}),
        ("/catalog/boto/1", 500, {"error_message": "Internal Server Error"}),
        ("/catalog/only-one-segment", 403, {"message": "Missing Authentication Token"}),
    ],
    ids=["stack-trace", "not-found-with-more", "invalid-with-table", "boto-error", "unknown-route"],
)
def test_error_bodies_carry_no_internals(leaky_url: str, path: str, status: int, body: dict[str, str]) -> None:
    answer = requests.get(leaky_url + path, timeout=60)
    assert answer.status_code == status and answer.json() == body
    everything = answer.text + json.dumps(dict(answer.headers))
    for internal in ("Traceback", 'File "', "arn:", "SecretInternalTable", "leaky", ACCOUNT, "ResourceNotFound"):
        assert internal not in everything


def test_missing_stage_and_function_answer_bare_errors(canary: CanaryStack, leaky_url: str) -> None:
    api_id = leaky_url.split("/restapis/")[1].split("/")[0]
    no_stage = requests.get(f"{canary.stack.endpoint}/restapis/{api_id}/prod/_user_request_/catalog/a/1", timeout=30)
    assert no_stage.status_code == 403 and no_stage.json() == {"message": "Forbidden"}
    canary.client("lambda").delete_function(FunctionName="leaky")
    gone = requests.get(f"{leaky_url}/catalog/ok/1", timeout=30)
    assert gone.status_code == 500 and gone.json() == {"message": "Internal server error"}
    assert "leaky" not in gone.text and "arn:" not in gone.text
