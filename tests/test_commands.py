"""Every admin command against moto's mock_aws, in-process through the real click CLI."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
import time
from pathlib import Path

import boto3
import pytest

from sdcli.errors import EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_USAGE
from sdcli.package import build_package
from tests.conftest import ROOT, dynamodb_item

pytestmark = pytest.mark.usefixtures("aws")


def resources(payload: dict) -> dict[str, str]:
    return {entry["resource"]: entry["action"] for entry in payload["resources"]}


# --- table ---------------------------------------------------------------------------------------------------


def test_table_create_then_unchanged(run_json) -> None:
    code, payload = run_json("table", "create")
    assert code == 0 and resources(payload) == {"table": "created"}
    table = boto3.client("dynamodb").describe_table(TableName="Services")["Table"]
    assert sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == [
        ("name", "HASH"),
        ("version", "RANGE"),
    ]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 10
    code, payload = run_json("table", "create")
    assert code == 0 and resources(payload) == {"table": "unchanged"}


def test_table_create_pay_per_request(run_json) -> None:
    code, _ = run_json("--table", "Other", "table", "create", "--billing-mode", "PAY_PER_REQUEST")
    assert code == 0
    table = boto3.client("dynamodb").describe_table(TableName="Other")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_table_with_another_key_schema_is_refused(run) -> None:
    boto3.client("dynamodb").create_table(
        TableName="Services",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = run("table", "create")
    assert result.exit_code == EXIT_FAILURE
    assert "different key schema" in result.stderr and "Traceback" not in result.output


# --- seed ----------------------------------------------------------------------------------------------------


def test_seed_writes_the_examples_then_changes_nothing(run, run_json) -> None:
    run("table", "create")
    code, payload = run_json("seed")
    assert code == 0 and (payload["written"], payload["unchanged"]) == (2, 0)
    item = dynamodb_item("Services", "testservice2", "1.0")
    assert item == {
        "name": {"S": "testservice2"},
        "version": {"S": "1.0"},
        "endpoint_url": {"S": "notarealurl2"},
        "ttl": {"N": "600"},
        "status": {"S": "healthy"},
    }
    assert dynamodb_item("Services", "testservice1", "1.0")["endpoint_url"] == {"S": "notarealurl1"}
    code, payload = run_json("seed")
    assert code == 0 and (payload["written"], payload["unchanged"]) == (0, 2)


def test_seed_file_writes_only_what_differs(run, run_json, tmp_path: Path) -> None:
    run("table", "create")
    run("seed")
    services = [
        {"name": "testservice2", "version": "1.0", "endpoint_url": "notarealurl2", "ttl": 600, "status": "healthy"},
        {"name": "testservice1", "version": "1.0", "endpoint_url": "https://moved", "ttl": 30, "status": "degraded"},
        {"name": "new", "version": "2.1", "endpoint_url": "https://new", "ttl": 0, "status": "healthy"},
    ]
    path = tmp_path / "services.json"
    path.write_text(json.dumps(services))
    code, payload = run_json("seed", "--file", str(path))
    assert code == 0 and (payload["written"], payload["unchanged"], payload["total"]) == (2, 1, 3)
    assert dynamodb_item("Services", "testservice1", "1.0")["endpoint_url"] == {"S": "https://moved"}
    assert dynamodb_item("Services", "new", "2.1")["ttl"] == {"N": "0"}


def test_seed_file_with_bad_records_names_each_and_writes_nothing(run, tmp_path: Path) -> None:
    run("table", "create")
    services = [
        {"name": "ok", "version": "1", "endpoint_url": "u", "ttl": 1, "status": "healthy"},
        {"name": "badttl", "version": "1", "endpoint_url": "u", "ttl": "abc", "status": "healthy"},
        {"name": "negative", "version": "1", "endpoint_url": "u", "ttl": -5, "status": "healthy"},
        {"name": "float", "version": "1", "endpoint_url": "u", "ttl": 1.5, "status": "healthy"},
        {"name": "missing", "version": "1"},
        {"name": "extra", "version": "1", "endpoint_url": "u", "ttl": 1, "status": "healthy", "color": "red"},
        {"name": "ok", "version": "1", "endpoint_url": "u2", "ttl": 2, "status": "healthy"},
        {"name": "x" * 2049, "version": "1", "endpoint_url": "u", "ttl": 1, "status": "healthy"},
        "not an object",
    ]
    path = tmp_path / "services.json"
    path.write_text(json.dumps(services))
    result = run("seed", "--file", str(path))
    assert result.exit_code == EXIT_INVALID_INPUT
    err = result.stderr
    assert "8 invalid service record(s); nothing was written." in err
    assert "record 1 ('badttl' '1'): ttl must be a whole number of seconds, not \"abc\"" in err
    assert "record 2 ('negative' '1'): ttl must not be negative, not -5" in err
    assert "record 3 ('float' '1'): ttl must be a whole number of seconds, not 1.5" in err
    assert "record 4 ('missing' '1'): missing field 'endpoint_url'; missing field 'ttl'; missing field 'status'" in err
    assert "record 5 ('extra' '1'): unknown field 'color'" in err
    assert "record 6 ('ok' '1'): duplicate of record 0 (same name and version)" in err
    assert "record 7: name is 2049 bytes; DynamoDB allows at most 2048" in err or "record 7 (" in err
    assert "record 8: must be an object" in err
    assert boto3.client("dynamodb").scan(TableName="Services")["Count"] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"name": "a",', "is not valid JSON: Expecting"),
        ('{"name": "a"}', "must hold a JSON list"),
        (b"\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_seed_file_that_is_not_a_json_list(run, tmp_path: Path, content: str | bytes, message: str) -> None:
    run("table", "create")
    path = tmp_path / "services.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run("seed", "--file", str(path))
    assert result.exit_code == EXIT_INVALID_INPUT
    assert message in result.stderr and "Traceback" not in result.output


def test_seed_missing_file(run) -> None:
    result = run("seed", "--file", "/nonexistent/services.json")
    assert result.exit_code == EXIT_INVALID_INPUT and "Cannot read /nonexistent/services.json" in result.stderr


def test_seed_without_a_table_says_what_to_do(run) -> None:
    result = run("seed")
    assert result.exit_code == EXIT_FAILURE
    assert "Table 'Services' does not exist." in result.stderr and "sdcli table create" in result.stderr


# --- package -------------------------------------------------------------------------------------------------


def test_package_is_deterministic_and_holds_only_source(run_json, tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "catalog_service.cpython-311.pyc").write_bytes(b"x")
    (source / ".env").write_text("AWS_SECRET_ACCESS_KEY=leak")
    (source / "helper.pyc").write_bytes(b"x")
    (source / "pkg").mkdir()
    (source / "pkg" / "mod.py").write_text("X = 1\n")
    (source / "link.py").symlink_to(tmp_path / "outside.py")
    (tmp_path / "outside.py").write_text("SECRET = 1\n")
    out = tmp_path / "a.zip"
    code, first = run_json("package", "--source", str(source), "--out", str(out))
    assert code == 0
    assert first["files"] == ["catalog_service.py", "pkg/mod.py"]
    (source / "pkg" / "mod.py").touch()  # a new mtime must not change the bytes
    code, second = run_json("package", "--source", str(source))
    assert second["sha256"] == first["sha256"]
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() == first["sha256"]


def test_package_default_source_is_lambda_src(run_json) -> None:
    code, payload = run_json("package")
    assert code == 0 and payload["files"] == ["catalog_service.py"]
    assert not any("boto" in name for name in payload["files"])


# --- function / api / stage ------------------------------------------------------------------------------------


def test_function_deploy_creates_then_updates_only_on_code_change(run, run_json, tmp_path: Path) -> None:
    run("table", "create")
    code, payload = run_json("function", "deploy")
    assert code == 0 and resources(payload) == {"role": "created", "function": "created"}
    assert payload["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:catalog_service"
    config = boto3.client("lambda").get_function_configuration(FunctionName="catalog_service")
    assert config["Handler"] == "catalog_service.lambda_handler"
    assert config["Environment"]["Variables"] == {"TABLE_NAME": "Services"}
    assert config["Role"] == "arn:aws:iam::123456789012:role/catalog_service-role"

    code, payload = run_json("function", "deploy")
    assert resources(payload) == {"role": "unchanged", "function": "unchanged"}

    source = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", source)
    (source / "catalog_service.py").write_text((source / "catalog_service.py").read_text() + "\n# changed\n")
    code, payload = run_json("function", "deploy", "--source", str(source))
    assert resources(payload)["function"] == "updated"
    assert (
        payload["code_sha256"]
        == boto3.client("lambda").get_function(FunctionName="catalog_service")["Configuration"]["CodeSha256"]
    )


def test_role_policy_allows_only_getitem_on_the_table_and_own_logs(run) -> None:
    run("table", "create")
    run("function", "deploy")
    iam = boto3.client("iam")
    assert iam.list_attached_role_policies(RoleName="catalog_service-role")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="catalog_service-role")["PolicyNames"] == ["catalog-read-us-east-1"]
    document = iam.get_role_policy(RoleName="catalog_service-role", PolicyName="catalog-read-us-east-1")[
        "PolicyDocument"
    ]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["ReadCatalog"]["Action"] == "dynamodb:GetItem"
    assert by_sid["ReadCatalog"]["Resource"] == "arn:aws:dynamodb:us-east-1:123456789012:table/Services"
    log_group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/catalog_service"
    assert by_sid["CreateLogGroup"]["Resource"] == log_group
    assert by_sid["WriteLogs"]["Resource"] == f"{log_group}:*"
    assert all("*" not in str(s["Action"]) for s in document["Statement"])
    trust = iam.get_role(RoleName="catalog_service-role")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_api_push_needs_the_function(run) -> None:
    result = run("api", "push")
    assert result.exit_code == EXIT_FAILURE and "sdcli function deploy" in result.stderr


def test_api_push_imports_then_overwrites_and_grants_invoke_to_this_api_only(run, run_json, tmp_path: Path) -> None:
    run("table", "create")
    run("function", "deploy")
    code, payload = run_json("api", "push")
    assert code == 0 and resources(payload) == {"api": "created", "permission": "created"}
    api_id = payload["api_id"]
    apigw = boto3.client("apigateway")
    paths = {item["path"] for item in apigw.get_resources(restApiId=api_id)["items"]}
    assert "/catalog/{serviceName}/{serviceVersion}" in paths
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName="catalog_service")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*/GET/catalog/*/*"
    )

    code, payload = run_json("api", "push")
    assert resources(payload) == {"api": "unchanged", "permission": "unchanged"}

    spec = json.loads((ROOT / "swagger/catalog_service.json").read_text())
    spec["paths"]["/extra"] = copy.deepcopy(spec["paths"]["/catalog/{serviceName}/{serviceVersion}"])
    spec["paths"]["/extra"]["get"]["operationId"] = "extra"
    spec["paths"]["/extra"]["get"]["parameters"] = []
    changed = tmp_path / "spec.json"
    changed.write_text(json.dumps(spec))
    code, payload = run_json("api", "push", "--spec", str(changed))
    assert resources(payload)["api"] == "updated"
    assert "/extra" in {item["path"] for item in apigw.get_resources(restApiId=api_id)["items"]}
    code, payload = run_json("api", "push")
    assert resources(payload)["api"] == "updated"
    assert "/extra" not in {item["path"] for item in apigw.get_resources(restApiId=api_id)["items"]}
    assert len(apigw.get_rest_apis()["items"]) == 1


def test_api_deploy_creates_the_stage_and_prints_its_url(run, run_json) -> None:
    run("table", "create")
    run("function", "deploy")
    _, pushed = run_json("api", "push")
    code, payload = run_json("api", "deploy")
    assert code == 0 and resources(payload) == {"stage": "created"}
    assert payload["invoke_url"] == f"https://{pushed['api_id']}.execute-api.us-east-1.amazonaws.com/dev"
    code, payload = run_json("api", "deploy")
    assert resources(payload) == {"stage": "unchanged"}
    code, payload = run_json("api", "deploy", "--force")
    assert resources(payload) == {"stage": "updated"}


def test_api_deploy_before_push(run) -> None:
    result = run("api", "deploy")
    assert result.exit_code == EXIT_FAILURE and "sdcli api push" in result.stderr


# --- deploy / status / destroy -------------------------------------------------------------------------------


def test_deploy_dry_run_changes_nothing(run_json) -> None:
    code, payload = run_json("deploy", "--dry-run")
    assert code == 0 and payload["dry_run"] is True
    assert set(resources(payload).values()) == {"create"}
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    assert boto3.client("lambda").list_functions()["Functions"] == []
    assert boto3.client("apigateway").get_rest_apis()["items"] == []


def test_deploy_twice_second_run_makes_no_mutating_call(run_json) -> None:
    code, first = run_json("deploy")
    assert code == 0
    assert resources(first) == {
        "table": "created",
        "role": "created",
        "function": "created",
        "api": "created",
        "permission": "created",
        "stage": "created",
    }
    assert first["mutating_calls"] > 0
    code, second = run_json("deploy")
    assert code == 0 and set(resources(second).values()) == {"unchanged"}
    assert second["mutating_calls"] == 0
    assert second["invoke_url"] == first["invoke_url"]


def test_status_reports_what_is_deployed_and_a_missing_table(run_json) -> None:
    run_json("deploy")
    run_json("seed")
    code, status = run_json("status")
    assert code == 0 and status["healthy"] is True
    assert status["table"]["status"] == "ACTIVE" and status["table"]["item_count"] == 2
    assert status["function"]["arn"].endswith(":function:catalog_service")
    assert status["stage"]["exists"] is True and status["url"].endswith("/dev")
    boto3.client("dynamodb").delete_table(TableName="Services")
    code, status = run_json("status")
    assert status["table"]["status"] is None and status["healthy"] is False


def test_destroy_removes_everything_and_is_idempotent(run, run_json) -> None:
    run_json("deploy")
    result = run("destroy")  # no TTY, no --yes: refuses
    assert result.exit_code == EXIT_INVALID_INPUT and "--yes" in result.stderr
    code, payload = run_json("destroy", "--yes")
    assert code == 0 and set(resources(payload).values()) == {"deleted"}
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    assert boto3.client("lambda").list_functions()["Functions"] == []
    assert boto3.client("apigateway").get_rest_apis()["items"] == []
    code, payload = run_json("destroy", "--yes")
    assert code == 0 and set(resources(payload).values()) == {"absent"}


def test_two_regions_share_the_role_each_with_its_own_policy(run_json) -> None:
    """IAM is global: a deploy in a second region must not take the first region's GetItem away."""
    iam = boto3.client("iam")

    def read_resource(region: str) -> str:
        document = iam.get_role_policy(RoleName="catalog_service-role", PolicyName=f"catalog-read-{region}")
        return document["PolicyDocument"]["Statement"][0]["Resource"]

    for region in ("us-east-1", "eu-central-2"):
        code, payload = run_json("--region", region, "deploy")
        assert code == 0 and resources(payload)["role"] in ("created", "updated")
    code, payload = run_json("--region", "us-east-1", "deploy")
    assert code == 0 and set(resources(payload).values()) == {"unchanged"}  # it used to flip the policy back
    assert read_resource("us-east-1") == "arn:aws:dynamodb:us-east-1:123456789012:table/Services"
    assert read_resource("eu-central-2") == "arn:aws:dynamodb:eu-central-2:123456789012:table/Services"

    code, payload = run_json("--region", "eu-central-2", "destroy", "--yes")
    assert code == 0 and resources(payload)["role"] == "updated"  # its policy gone, the role kept for us-east-1
    assert iam.list_role_policies(RoleName="catalog_service-role")["PolicyNames"] == ["catalog-read-us-east-1"]
    code, payload = run_json("--region", "us-east-1", "deploy")
    assert code == 0 and set(resources(payload).values()) == {"unchanged"}
    code, payload = run_json("--region", "us-east-1", "destroy", "--yes")
    assert code == 0 and resources(payload)["role"] == "deleted"
    assert iam.list_roles()["Roles"] == []


def test_a_role_from_before_per_region_policies_loses_its_old_policy(run_json) -> None:
    run_json("deploy")
    iam = boto3.client("iam")
    document = iam.get_role_policy(RoleName="catalog_service-role", PolicyName="catalog-read-us-east-1")
    iam.put_role_policy(
        RoleName="catalog_service-role",
        PolicyName="catalog-read",
        PolicyDocument=json.dumps(document["PolicyDocument"]),
    )
    iam.delete_role_policy(RoleName="catalog_service-role", PolicyName="catalog-read-us-east-1")
    code, payload = run_json("deploy")
    assert code == 0 and resources(payload)["role"] == "updated"
    assert iam.list_role_policies(RoleName="catalog_service-role")["PolicyNames"] == ["catalog-read-us-east-1"]


def test_reports_name_what_changed(run, tmp_path: Path) -> None:
    """A code update shows the old and new hash; a destroy with nothing left says so; every report has a title."""
    assert run("table", "create").stdout.startswith("Table\n")
    first = run("function", "deploy")
    assert "CodeSha256 (base64, as Lambda shows it): " in first.stdout
    source = tmp_path / "src"
    shutil.copytree(ROOT / "lambda_src", source)
    (source / "catalog_service.py").write_text((source / "catalog_service.py").read_text() + "# changed\n")
    deployed = boto3.client("lambda").get_function(FunctionName="catalog_service")["Configuration"]["CodeSha256"]
    old = base64.b64decode(deployed).hex()[:12]
    new = hashlib.sha256(build_package(source).data).hexdigest()[:12]
    assert f"code {old} -> {new}" in run("function", "deploy", "--source", str(source)).stdout
    run("destroy", "--yes")
    again = run("destroy", "--yes")
    assert again.exit_code == 0 and "Nothing to delete; everything was already absent." in again.stderr


def test_an_unreadable_services_file_says_what_one_looks_like(run, tmp_path: Path) -> None:
    run("table", "create")
    for path in (tmp_path / "missing.json", tmp_path / "bad.json"):
        if path.name == "bad.json":
            path.write_text("{bad")
        result = run("seed", "--file", str(path))
        assert result.exit_code == EXIT_INVALID_INPUT
        assert "Hint: A services file is a JSON list of objects with name, version, endpoint_url" in result.stderr


# --- expected failures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "content", "message", "hint"),
    [
        ("--source", None, "Lambda source folder {path} does not exist.", "Pass --source with the folder"),
        ("--source", "", "Lambda source folder {path} holds no files to package.", "Pass --source with the folder"),
        ("--spec", "{bad", "The API spec {path} is not valid JSON", "Pass --spec with the OpenAPI 3.0 document"),
        ("--spec", "{}", "The API spec {path} must be an OpenAPI 3.x document", "Pass --spec with the OpenAPI"),
    ],
)
def test_a_bad_source_or_spec_is_named_with_a_hint(
    run, tmp_path: Path, option: str, content: str | None, message: str, hint: str
) -> None:
    path = tmp_path / ("src" if option == "--source" else "spec.json")
    if option == "--source" and content is not None:
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    result = run("deploy", option, str(path))
    assert result.exit_code == EXIT_INVALID_INPUT
    assert f"Error: {message.format(path=path)}" in result.stderr and f"Hint: {hint}" in result.stderr
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []  # found before anything was made


def test_two_apis_of_one_name_are_named_with_the_commands_that_clean_up(run, run_json) -> None:
    """Two deploys racing on a new name can each import an API; sdcli says which to delete and how."""
    run_json("deploy")
    apigateway = boto3.client("apigateway")
    first = apigateway.get_rest_apis()["items"][0]["id"]
    time.sleep(1.1)  # API Gateway's createdDate counts whole seconds: the second one is then clearly newer
    second = apigateway.create_rest_api(name="catalog_service")["id"]
    result = run("deploy")
    assert result.exit_code == EXIT_FAILURE
    assert f"2 REST APIs are named 'catalog_service' ({first}, {second}, oldest first)" in result.stderr
    assert f"`aws apigateway delete-rest-api --rest-api-id {second} --region us-east-1`" in result.stderr
    apigateway.delete_rest_api(restApiId=second)
    code, payload = run_json("deploy")
    assert code == 0 and set(resources(payload).values()) == {"unchanged"}


def test_no_credentials_is_one_clear_line(run, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    result = run("status")
    assert result.exit_code == EXIT_FAILURE
    assert result.stderr.startswith("Error: No AWS credentials found.")
    assert "Traceback" not in result.output


def test_unknown_profile(run) -> None:
    result = run("--profile", "nope", "status")
    assert result.exit_code == EXIT_FAILURE and "nope" in result.stderr and "Traceback" not in result.output


def test_local_without_a_running_stack(run) -> None:
    result = run("--local", "status")
    assert result.exit_code == EXIT_FAILURE
    assert "The local stack is not running." in result.stderr and "sdcli local start" in result.stderr


def test_global_options_may_follow_the_command(run) -> None:
    run("table", "create")
    result = run("seed", "--output", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["written"] == 2
    result = run("status", "--output=json", "--table", "Services")
    assert json.loads(result.stdout)["table"]["item_count"] == 2


def test_hints_repeat_the_target_options(run) -> None:
    result = run("--table", "Other", "--region", "eu-west-1", "seed")
    assert result.exit_code == EXIT_FAILURE
    assert "`sdcli --region eu-west-1 --table Other table create`" in result.stderr


def test_lookup_on_an_undeployed_stage_says_so(run) -> None:
    run("deploy")
    result = run("--stage", "prod", "lookup", "testservice2", "1.0")
    assert result.exit_code == EXIT_FAILURE
    assert "Stage 'prod' of API 'catalog_service' is not deployed." in result.stderr
    assert "`sdcli --stage prod api deploy`" in result.stderr


def test_unknown_region_for_the_local_stack(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("SDCLI_STATE_DIR", str(state))
    (state / "local-stack.json").write_text(json.dumps({"pid": os.getpid(), "endpoint": "http://127.0.0.1:9"}))
    result = run("--local", "--region", "nowhere-1", "status")
    assert result.exit_code == EXIT_USAGE  # found before any call
    assert "'nowhere-1': an AWS region name looks like us-east-1" in result.stderr
    assert "<html" not in result.stderr.lower()


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--endpoint-url", "not a url", "an endpoint URL has no spaces"),
        ("--endpoint-url", "http://127.0.0.1:99999", "its port is not a number from 1 to 65535"),
        ("--endpoint-url", "ftp://127.0.0.1:21", "an endpoint URL looks like http://"),
        ("--region", "bad region!", "an AWS region name looks like us-east-1"),
        ("--table", "ab", "a table name is 3 to 255 letters"),
        ("--function", "f" * 60, "a function name is 1 to 59 letters, digits, '_' or '-' (its role adds '-role')"),
        ("--function", "bad\udcffname", "it holds bytes that are not UTF-8"),
        ("--stage", "a b", "a stage name is 1 to 128 letters"),
        ("--api", "x\x1by", "an API name is 1 to 1,024 characters, none of them control characters"),
    ],
)
def test_names_aws_would_refuse_are_usage_errors(run, option: str, value: str, problem: str) -> None:
    result = run(option, value, "status")
    assert result.exit_code == EXIT_USAGE
    assert f"Invalid value for '{option}'" in result.stderr and problem in result.stderr
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr


def test_local_start_with_an_unusable_state_folder(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDCLI_STATE_DIR", "/proc/sdcli-cannot-exist")
    result = run("local", "start", "--detach", "--port", "0")
    assert result.exit_code == EXIT_FAILURE
    assert result.stderr.startswith("Error: Cannot use /proc/sdcli-cannot-exist") and "SDCLI_STATE_DIR" in result.stderr


def test_local_start_on_a_taken_port(run) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["--detach"], []):
            result = run("local", "start", "--port", str(port), *args)
            assert result.exit_code == EXIT_FAILURE
            assert f"Error: Cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_a_password_in_the_endpoint_url_is_never_printed(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDCLI_MAX_ATTEMPTS", "1")
    result = run("--endpoint-url", "http://user:hunter2@127.0.0.1:9", "status")
    assert result.exit_code == EXIT_FAILURE and "Cannot reach" in result.stderr
    assert "hunter2" not in result.output


def test_a_zombie_local_stack_is_not_running() -> None:
    import subprocess
    import sys

    from sdcli.config import _process_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # exited but not reaped: a zombie
            with open(f"/proc/{child.pid}/stat", "rb") as stat:
                if stat.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    break
            import time

            time.sleep(0.02)
        assert _process_alive(child.pid) is False
    finally:
        child.wait()
    import os

    assert _process_alive(os.getpid()) is True


def test_status_problems_name_what_is_missing_with_the_users_flags(run_json) -> None:
    code, status = run_json("--stage", "prod", "status")
    assert code == 0 and status["healthy"] is False
    assert status["problems"] == [
        "nothing is serving lookups: no API is deployed; run `sdcli --stage prod deploy`",
        "table 'Services' does not exist; run `sdcli --stage prod deploy`",
        "function 'catalog_service' does not exist; run `sdcli --stage prod deploy`",
    ]
    run_json("deploy")
    code, status = run_json("--stage", "prod", "status")
    assert code == 0 and status["problems"] == ["stage 'prod' is not deployed; run `sdcli --stage prod api deploy`"]
    code, status = run_json("status")
    assert code == 0 and status["healthy"] is True and status["problems"] == []


def test_status_for_another_table_does_not_claim_lookups_fail(run_json) -> None:
    run_json("deploy")
    code, status = run_json("--table", "Nope", "status")
    assert code == 0 and status["problems"] == [
        "table 'Nope' does not exist; run `sdcli --table Nope deploy` (the deployed function reads table 'Services')"
    ]


def test_destroy_declined_at_the_prompt_deletes_nothing(run, monkeypatch: pytest.MonkeyPatch) -> None:
    run("table", "create")
    monkeypatch.setattr("sdcli.cli._can_prompt", lambda: True)
    result = run("destroy", input="n\n")
    assert result.exit_code == EXIT_FAILURE
    assert "Error: Nothing was deleted (not confirmed)." in result.stderr
    assert boto3.client("dynamodb").list_tables()["TableNames"] == ["Services"]


def test_api_gateway_import_warnings_are_returned_not_fatal() -> None:
    from botocore.stub import ANY, Stubber

    from sdcli import api as api_ops
    from sdcli.aws import Aws
    from sdcli.config import Settings

    aws = Aws(Settings())
    spec = api_ops.render_spec(
        api_ops.load_spec(ROOT / "swagger/catalog_service.json"),
        "catalog_service",
        "arn:aws:lambda:us-east-1:123456789012:function:catalog_service",
        "us-east-1",
    )
    for single_attempt in (True, False):
        client = aws.client("apigateway", single_attempt=single_attempt)
        stubber = Stubber(client)
        if single_attempt:
            stubber.add_response(
                "import_rest_api",
                {"id": "abc123", "warnings": ["Ignoring example"]},
                {"body": ANY, "failOnWarnings": False},
            )
        else:
            stubber.add_response(
                "put_rest_api",
                {"id": "abc123", "warnings": ["Ignoring minLength"]},
                {"restApiId": "abc123", "mode": "overwrite", "body": ANY, "failOnWarnings": False},
            )
            stubber.add_response("get_rest_api", {"id": "abc123", "description": spec.description})
        stubber.activate()
    assert api_ops.import_api(aws, spec) == ("abc123", ["Ignoring example"])
    assert api_ops.overwrite_api(aws, "abc123", spec) == ["Ignoring minLength"]


def test_seed_backs_off_on_unprocessed_items_then_says_so(run, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdcli.aws import Aws

    run("table", "create")
    slept: list[float] = []
    monkeypatch.setattr(Aws, "sleep", staticmethod(slept.append))
    real_call = Aws.call

    def throttled(self: Aws, service: str, operation: str, **params: object) -> dict:
        response = real_call(self, service, operation, **params)
        if operation == "batch_write_item":  # DynamoDB hands every item back, every time
            return {**response, "UnprocessedItems": params["RequestItems"]}
        return response

    monkeypatch.setattr(Aws, "call", throttled)
    result = run("seed")
    assert result.exit_code == EXIT_FAILURE
    assert "DynamoDB left 2 item(s) unprocessed after retries." in result.stderr
    assert slept == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2, 2, 2, 2]
