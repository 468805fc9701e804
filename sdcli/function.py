"""The catalog function and what it needs: its IAM role (least privilege) and API Gateway's invoke grant."""

from __future__ import annotations

import base64
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


def role_name(function: str) -> str:
    return f"{function}-role"


def role_policy_name(region: str) -> str:
    """IAM is global, the table regional: each region's deploy keeps its own inline policy on the shared role.

    With one policy for all, a deploy in a second region would point it at that region's table, and the
    function in the first region would lose GetItem on its own.
    """
    return f"catalog-read-{region}"


def permission_statement_id(api_id: str) -> str:
    return f"sdcli-apigateway-{api_id}"


def code_hex(code_sha256: str | None) -> str:
    """Lambda's base64 CodeSha256 as the 12 hex digits deploy, status and package print."""
    try:
        return base64.b64decode(code_sha256 or "").hex()[:12] or "unknown"
    except ValueError:
        return code_sha256 or "unknown"


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
    """This region's policy on the role, None when it has none."""
    try:
        document = aws.call("iam", "get_role_policy", RoleName=role, PolicyName=role_policy_name(aws.region))[
            "PolicyDocument"
        ]
    except AwsError as error:
        if error.code == "NoSuchEntity":
            return None
        raise
    if isinstance(document, str):  # URL-encoded JSON on the wire; boto3 decodes it, some endpoints don't
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    return document


def create_role(aws: Aws, name: str) -> str:
    """Create the role; one that exists by now (our retried create whose first answer was lost) is adopted."""
    try:
        response = aws.call(
            "iam",
            "create_role",
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
            Description="sdcli: execution role of the service catalog function",
        )
    except AwsError as error:
        if error.code == "EntityAlreadyExists" and (arn := get_role_arn(aws, name)):
            return arn
        raise
    return response["Role"]["Arn"]


def put_role_policy(aws: Aws, role: str, policy: dict[str, Any]) -> None:
    aws.call(
        "iam",
        "put_role_policy",
        RoleName=role,
        PolicyName=role_policy_name(aws.region),
        PolicyDocument=json.dumps(policy),
    )


LEGACY_POLICY_NAME = "catalog-read"  # sdcli 0.1's one policy for every region


def drop_legacy_policy(aws: Aws, role: str) -> None:
    """A role deployed before policies were per region loses its old policy when this region's is written."""
    try:
        aws.call("iam", "delete_role_policy", RoleName=role, PolicyName=LEGACY_POLICY_NAME)
    except AwsError as error:
        if error.code != "NoSuchEntity":
            raise


def role_policies(aws: Aws, role: str) -> list[str] | None:
    """The role's inline policy names, None when there is no such role."""
    try:
        return list(aws.call("iam", "list_role_policies", RoleName=role).get("PolicyNames", []))
    except AwsError as error:
        if error.code == "NoSuchEntity":
            return None
        raise


def delete_role(aws: Aws, role: str) -> None:
    """This region's policy, then the role unless a policy is left on it (another region's deploy, or not ours)."""
    try:
        aws.call("iam", "delete_role_policy", RoleName=role, PolicyName=role_policy_name(aws.region))
    except AwsError as error:
        if error.code != "NoSuchEntity":
            raise
    if not role_policies(aws, role):
        aws.call("iam", "delete_role", RoleName=role)


# --- function ------------------------------------------------------------------------------------------------


def describe_function(aws: Aws, name: str) -> FunctionState:
    try:
        config = aws.call("lambda", "get_function_configuration", FunctionName=name)
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return FunctionState(name=name, arn=None)
        raise
    arn = unqualified_arn(config["FunctionArn"])
    return FunctionState(name=name, arn=arn, code_sha256=config.get("CodeSha256"), configuration=config)


ROLE_PROPAGATION_SECONDS = 90  # IAM is eventually consistent: a new role can take this long to be assumable
UPDATE_WAIT_SECONDS = 60
ROLE_NOT_READY_HINT = (
    "A new IAM role can take a minute or two to reach Lambda; run the command again shortly "
    "(it continues from what exists)."
)
UPDATE_IN_PROGRESS_HINT = "Another update of the function is still running; run the command again when it is done."


def _role_not_ready(error: AwsError) -> bool:
    # A new IAM role takes seconds to propagate; until then Lambda answers that it cannot be assumed.
    return error.code == "InvalidParameterValueException" and "assume" in error.message.lower()


def _update_in_progress(error: AwsError) -> bool:
    # "An update is in progress for resource: ...", "The function is currently in the following state: Pending".
    return error.code == "ResourceConflictException" and not _already_exists(error)


def _already_exists(error: AwsError) -> bool:
    # CreateFunction: "Function already exist: NAME"; AddPermission: "The statement id (ID) provided already exists."
    return error.code == "ResourceConflictException" and "already exist" in error.message


def _hinted(error: AwsError) -> AwsError:
    """The error with what to do when Lambda's eventual consistency outlasted our waiting."""
    hint = (
        ROLE_NOT_READY_HINT
        if _role_not_ready(error)
        else UPDATE_IN_PROGRESS_HINT
        if _update_in_progress(error)
        else None
    )
    if error.hint is None:
        error.hint = hint
    return error


def unqualified_arn(arn: str) -> str:
    """The function's ARN without the ``:$LATEST`` qualifier Lambda sometimes appends."""
    return arn.removesuffix(":$LATEST")


def create_function(aws: Aws, name: str, package: Package, configuration: dict[str, Any]) -> str:
    """Create the function, waiting out a role that is not assumable yet.

    A function that exists by now was made by this very call (a retry after the first answer was lost): it is
    adopted and brought to the package and configuration asked for.
    """
    try:
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
            timeout=ROLE_PROPAGATION_SECONDS,
        )
    except AwsError as error:
        if not _already_exists(error):
            raise _hinted(error) from None
        state = describe_function(aws, name)
        if state.arn is None:
            raise
        wait_function_ready(aws, name, "function_active_v2")
        if configuration_drift(state.configuration or {}, configuration):
            update_function_configuration(aws, name, configuration)
        if state.code_sha256 != package.code_sha256:
            update_function_code(aws, name, package)
        return state.arn
    wait_function_ready(aws, name, "function_active_v2")
    return unqualified_arn(response["FunctionArn"])


def update_function_code(aws: Aws, name: str, package: Package) -> None:
    try:
        aws.retry_while(
            lambda: aws.call("lambda", "update_function_code", FunctionName=name, ZipFile=package.data),
            _update_in_progress,
            timeout=UPDATE_WAIT_SECONDS,
        )
    except AwsError as error:
        raise _hinted(error) from None
    wait_function_ready(aws, name, "function_updated_v2")


def update_function_configuration(aws: Aws, name: str, configuration: dict[str, Any]) -> None:
    try:
        aws.retry_while(
            lambda: aws.call("lambda", "update_function_configuration", FunctionName=name, **configuration),
            lambda error: _update_in_progress(error) or _role_not_ready(error),
            timeout=ROLE_PROPAGATION_SECONDS,
        )
    except AwsError as error:
        raise _hinted(error) from None
    wait_function_ready(aws, name, "function_updated_v2")


def wait_function_ready(aws: Aws, name: str, waiter: str) -> None:
    aws.wait("lambda", waiter, f"function {name} to be ready", FunctionName=name)


def delete_function(aws: Aws, name: str) -> None:
    aws.call("lambda", "delete_function", FunctionName=name)


# --- invoke permission ---------------------------------------------------------------------------------------


def invoke_source_arn(region: str, account: str, api_id: str) -> str:
    """Only this API's GET /catalog/{name}/{version}, from any stage, may invoke the function."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/*/GET/catalog/*/*"


def invoke_policy(aws: Aws, function: str) -> dict[str, Any] | None:
    """The function's resource policy, None when it has none."""
    try:
        return json.loads(aws.call("lambda", "get_policy", FunctionName=function)["Policy"])
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise


def granted_source_arn(policy: dict[str, Any] | None, statement_id: str) -> str | None:
    """The SourceArn of our grant in ``policy``, None when it has no such statement.

    "*" stands for anything broader than an API Gateway invoke grant under a SourceArn: no condition, another
    principal or another action under our statement id. Deploy replaces whatever is not exactly its own.
    """
    for statement in (policy or {}).get("Statement", []):
        if statement.get("Sid") != statement_id:
            continue
        ours = (
            statement.get("Effect") == "Allow"
            and statement.get("Principal") == {"Service": "apigateway.amazonaws.com"}
            and statement.get("Action") == "lambda:InvokeFunction"
        )
        source_arn = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        return source_arn if ours and isinstance(source_arn, str) else "*"
    return None


def grant_invoke(aws: Aws, function: str, statement_id: str, source_arn: str) -> None:
    """Add our statement; one that already has this id counts as granted only if it names ``source_arn``.

    The id exists when an earlier attempt's answer was lost, or when a statement of that id was put there by
    someone else; only ours, with exactly this SourceArn, may stay. Any other is replaced.
    """

    def add() -> dict[str, Any]:
        return aws.call(
            "lambda",
            "add_permission",
            FunctionName=function,
            StatementId=statement_id,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
        )

    for _ in range(2):
        try:
            aws.retry_while(add, _update_in_progress, timeout=UPDATE_WAIT_SECONDS)
            return
        except AwsError as error:
            if not _already_exists(error):
                raise _hinted(error) from None
        if granted_source_arn(invoke_policy(aws, function), statement_id) == source_arn:
            return  # granted already, exactly as asked
        revoke_invoke(aws, function, statement_id)
    raise AwsError(
        f"Lambda keeps a statement {statement_id!r} on {function} that sdcli cannot replace.",
        hint="Remove it (`aws lambda remove-permission`) and run the command again.",
    )


def revoke_invoke(aws: Aws, function: str, statement_id: str) -> None:
    try:
        aws.call("lambda", "remove_permission", FunctionName=function, StatementId=statement_id)
    except AwsError as error:
        if error.code != "ResourceNotFoundException":
            raise
