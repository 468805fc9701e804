"""The catalog function and what it needs: its IAM role (least privilege) and API Gateway's invoke grant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sdcli.aws import Aws
from sdcli.errors import AwsError
from sdcli.package import Package

RUNTIME = "python3.12"
HANDLER = "catalog_service.lambda_handler"
TIMEOUT_SECONDS = 10
MEMORY_MB = 256
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ROLE_POLICY_NAME = "catalog-read"


def role_name(function: str) -> str:
    return f"{function}-role"


def permission_statement_id(api_id: str) -> str:
    return f"sdcli-apigateway-{api_id}"


@dataclass(frozen=True)
class FunctionState:
    name: str
    arn: str | None  # None: the function does not exist
    code_sha256: str | None = None
    configuration: dict[str, Any] | None = None


def role_policy(region: str, account: str, table_arn: str, function: str) -> dict[str, Any]:
    """GetItem on the one table, and writing the function's own log group; nothing else."""
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadCatalog", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn},
            {
                "Sid": "CreateLogGroup",
                "Effect": "Allow",
                "Action": "logs:CreateLogGroup",
                "Resource": log_group,
            },
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group}:*",
            },
        ],
    }


def desired_configuration(role_arn: str, table: str) -> dict[str, Any]:
    return {
        "Runtime": RUNTIME,
        "Handler": HANDLER,
        "Role": role_arn,
        "Timeout": TIMEOUT_SECONDS,
        "MemorySize": MEMORY_MB,
        "Environment": {"Variables": {"TABLE_NAME": table}},
    }


def configuration_drift(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Names of the settings whose deployed value differs from what deploy would set."""
    drift = []
    for key, value in desired.items():
        deployed = current.get(key)
        if key == "Environment":
            deployed = {"Variables": (deployed or {}).get("Variables", {})}
        if deployed != value:
            drift.append(key)
    return drift


# --- role ----------------------------------------------------------------------------------------------------


def get_role_arn(aws: Aws, name: str) -> str | None:
    try:
        return aws.call("iam", "get_role", RoleName=name)["Role"]["Arn"]
    except AwsError as error:
        if error.code == "NoSuchEntity":
            return None
        raise


def get_role_policy(aws: Aws, role: str) -> dict[str, Any] | None:
    try:
        document = aws.call("iam", "get_role_policy", RoleName=role, PolicyName=ROLE_POLICY_NAME)["PolicyDocument"]
    except AwsError as error:
        if error.code == "NoSuchEntity":
            return None
        raise
    if isinstance(document, str):  # URL-encoded JSON on the wire; boto3 decodes it, some endpoints don't
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    return document


def create_role(aws: Aws, name: str) -> str:
    response = aws.call(
        "iam",
        "create_role",
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
        Description="sdcli: execution role of the service catalog function",
    )
    return response["Role"]["Arn"]


def put_role_policy(aws: Aws, role: str, policy: dict[str, Any]) -> None:
    aws.call(
        "iam",
        "put_role_policy",
        RoleName=role,
        PolicyName=ROLE_POLICY_NAME,
        PolicyDocument=json.dumps(policy),
    )


def delete_role(aws: Aws, role: str) -> None:
    for policy in aws.call("iam", "list_role_policies", RoleName=role).get("PolicyNames", []):
        aws.call("iam", "delete_role_policy", RoleName=role, PolicyName=policy)
    aws.call("iam", "delete_role", RoleName=role)


# --- function ------------------------------------------------------------------------------------------------


def describe_function(aws: Aws, name: str) -> FunctionState:
    try:
        config = aws.call("lambda", "get_function_configuration", FunctionName=name)
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return FunctionState(name=name, arn=None)
        raise
    arn = config["FunctionArn"]
    if arn.endswith(":$LATEST"):
        arn = arn.rsplit(":", 1)[0]
    return FunctionState(name=name, arn=arn, code_sha256=config.get("CodeSha256"), configuration=config)


def _role_not_ready(error: AwsError) -> bool:
    # A new IAM role takes seconds to propagate; until then Lambda answers that it cannot be assumed.
    return error.code == "InvalidParameterValueException" and "assume" in error.message.lower()


def _update_in_progress(error: AwsError) -> bool:
    return error.code == "ResourceConflictException"


def create_function(aws: Aws, name: str, package: Package, configuration: dict[str, Any]) -> str:
    response = aws.retry_while(
        lambda: aws.call(
            "lambda",
            "create_function",
            FunctionName=name,
            Code={"ZipFile": package.data},
            Publish=False,
            Description="sdcli: service catalog lookup",
            **configuration,
        ),
        _role_not_ready,
        timeout=90,
    )
    wait_function_ready(aws, name, "function_active_v2")
    arn = response["FunctionArn"]
    return arn.rsplit(":", 1)[0] if arn.endswith(":$LATEST") else arn


def update_function_code(aws: Aws, name: str, package: Package) -> None:
    aws.retry_while(
        lambda: aws.call("lambda", "update_function_code", FunctionName=name, ZipFile=package.data),
        _update_in_progress,
    )
    wait_function_ready(aws, name, "function_updated_v2")


def update_function_configuration(aws: Aws, name: str, configuration: dict[str, Any]) -> None:
    aws.retry_while(
        lambda: aws.call("lambda", "update_function_configuration", FunctionName=name, **configuration),
        lambda error: _update_in_progress(error) or _role_not_ready(error),
    )
    wait_function_ready(aws, name, "function_updated_v2")


def wait_function_ready(aws: Aws, name: str, waiter: str) -> None:
    aws.wait("lambda", waiter, f"function {name} to be ready", FunctionName=name)


def delete_function(aws: Aws, name: str) -> None:
    aws.call("lambda", "delete_function", FunctionName=name)


# --- invoke permission ---------------------------------------------------------------------------------------


def invoke_source_arn(region: str, account: str, api_id: str) -> str:
    """Only this API's GET /catalog/{name}/{version}, from any stage, may invoke the function."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/*/GET/catalog/*/*"


def permission_source_arn(aws: Aws, function: str, statement_id: str) -> str | None:
    """The SourceArn of our grant, None when the function has no such statement."""
    try:
        policy = json.loads(aws.call("lambda", "get_policy", FunctionName=function)["Policy"])
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise
    for statement in policy.get("Statement", []):
        if statement.get("Sid") == statement_id:
            return statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "*")
    return None


def grant_invoke(aws: Aws, function: str, statement_id: str, source_arn: str) -> None:
    def add() -> dict[str, Any]:
        try:
            return aws.call(
                "lambda",
                "add_permission",
                FunctionName=function,
                StatementId=statement_id,
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=source_arn,
            )
        except AwsError as error:
            if error.code == "ResourceConflictException" and "already exists" in error.message:
                return {}  # granted by an earlier run
            raise

    aws.retry_while(add, _update_in_progress)


def revoke_invoke(aws: Aws, function: str, statement_id: str) -> None:
    try:
        aws.call("lambda", "remove_permission", FunctionName=function, StatementId=statement_id)
    except AwsError as error:
        if error.code != "ResourceNotFoundException":
            raise
