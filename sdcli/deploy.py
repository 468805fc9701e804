"""Deploy and destroy as a plan (describe/list calls only) and an executor (the mutating calls).

A plan is a list of :class:`Step`; ``--dry-run`` renders it, ``deploy`` runs it. Steps whose inputs only exist
once an earlier step ran (the id of an API that is about to be imported) read them from the executor's
``outputs`` when they run, so planning never needs to mutate anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sdcli import api as api_ops
from sdcli import catalog
from sdcli import function as fn
from sdcli.aws import Aws
from sdcli.config import Settings
from sdcli.package import build_package


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DELETE = "delete"
    ABSENT = "absent"

    @property
    def past_tense(self) -> str:
        return {"create": "created", "update": "updated", "delete": "deleted"}.get(self.value, self.value)


Outputs = dict[str, Any]


@dataclass
class Step:
    resource: str  # "table", "role", "function", "api", "permission", "stage"
    name: str
    action: Action
    detail: str = ""
    run: Callable[[Outputs], None] | None = field(default=None, repr=False)

    @property
    def mutates(self) -> bool:
        return self.run is not None


@dataclass(frozen=True)
class StepResult:
    resource: str
    name: str
    action: Action
    detail: str


@dataclass(frozen=True)
class DeployInputs:
    source_dir: Path
    spec_file: Path
    billing_mode: str = "PROVISIONED"


def execute(plan: list[Step], progress: Callable[[Step], None] | None = None) -> tuple[list[StepResult], Outputs]:
    """Run every mutating step in order; what they learn (ids, ARNs) flows on through ``outputs``."""
    outputs: Outputs = {}
    results = []
    for step in plan:
        if progress:
            progress(step)
        if step.run is not None:
            step.run(outputs)
        results.append(StepResult(step.resource, step.name, step.action, step.detail))
    return results, outputs


def _set(outputs: Outputs, key: str, value: Any) -> None:
    outputs[key] = value


def plan_deploy(aws: Aws, settings: Settings, inputs: DeployInputs) -> list[Step]:
    """Describe what exists and compare it with what should; describe/list calls only."""
    region, account = aws.region, aws.account_id()
    steps: list[Step] = []

    # Table
    table = catalog.describe_table(aws, settings.table)
    table_arn = table.arn or f"arn:aws:dynamodb:{region}:{account}:table/{settings.table}"
    if table.status is None:
        steps.append(
            Step(
                "table",
                settings.table,
                Action.CREATE,
                f"{inputs.billing_mode.lower()} capacity",
                lambda out: catalog.create_table(aws, settings.table, inputs.billing_mode),
            )
        )
    else:
        catalog.check_key_schema(aws, settings.table)
        steps.append(Step("table", settings.table, Action.UNCHANGED, table.status))

    # Role and its policy
    role = fn.role_name(settings.function)
    role_arn = fn.get_role_arn(aws, role)
    policy = fn.role_policy(region, account, table_arn, settings.function)
    if role_arn is None:
        role_arn = f"arn:aws:iam::{account}:role/{role}"

        def create_role(out: Outputs) -> None:
            fn.create_role(aws, role)
            fn.put_role_policy(aws, role, policy)

        steps.append(Step("role", role, Action.CREATE, "dynamodb:GetItem on the table, own log group", create_role))
    elif fn.get_role_policy(aws, role) != policy:
        steps.append(
            Step(
                "role",
                role,
                Action.UPDATE,
                "policy differs",
                lambda out: fn.put_role_policy(aws, role, policy),
            )
        )
    else:
        steps.append(Step("role", role, Action.UNCHANGED))

    # Function
    package = build_package(inputs.source_dir)
    desired = fn.desired_configuration(role_arn, settings.table)
    function = fn.describe_function(aws, settings.function)
    function_arn = function.arn or f"arn:aws:lambda:{region}:{account}:function:{settings.function}"
    if function.arn is None:
        steps.append(
            Step(
                "function",
                settings.function,
                Action.CREATE,
                f"code {package.sha256_hex[:12]}",
                lambda out: _set(out, "function_arn", fn.create_function(aws, settings.function, package, desired)),
            )
        )
    else:
        changes = []
        if function.code_sha256 != package.code_sha256:
            changes.append("code")
        drift = fn.configuration_drift(function.configuration or {}, desired)
        changes += drift
        if changes:

            def update_function(out: Outputs) -> None:
                if drift:
                    fn.update_function_configuration(aws, settings.function, desired)
                if "code" in changes:
                    fn.update_function_code(aws, settings.function, package)

            steps.append(Step("function", settings.function, Action.UPDATE, ", ".join(changes), update_function))
        else:
            steps.append(Step("function", settings.function, Action.UNCHANGED, f"code {package.sha256_hex[:12]}"))

    # API definition
    spec = api_ops.render_spec(api_ops.load_spec(inputs.spec_file), settings.api, function_arn, region)
    api = api_ops.find_api(aws, settings.api)
    if api.api_id is None:
        steps.append(
            Step(
                "api",
                settings.api,
                Action.CREATE,
                f"spec {spec.digest}",
                lambda out: _set(out, "api_id", api_ops.import_api(aws, spec)),
            )
        )
    else:
        api_id = api.api_id
        if api.spec_digest != spec.digest:
            steps.append(
                Step(
                    "api",
                    settings.api,
                    Action.UPDATE,
                    f"spec {api.spec_digest} -> {spec.digest}",
                    lambda out: api_ops.overwrite_api(aws, api_id, spec),
                )
            )
        else:
            steps.append(Step("api", settings.api, Action.UNCHANGED, f"spec {spec.digest}"))
        steps[-1].detail += f" (id {api_id})"

    def api_id_of(out: Outputs) -> str:
        return out.get("api_id") or api.api_id  # type: ignore[return-value]

    # Invoke permission, scoped to this API
    if api.api_id is None:
        steps.append(
            Step(
                "permission",
                "apigateway invoke",
                Action.CREATE,
                "scoped to the new API",
                lambda out: _grant(aws, settings.function, region, account, api_id_of(out)),
            )
        )
    else:
        statement = fn.permission_statement_id(api.api_id)
        expected = fn.invoke_source_arn(region, account, api.api_id)
        current = None if function.arn is None else fn.permission_source_arn(aws, settings.function, statement)
        if current == expected:
            steps.append(Step("permission", "apigateway invoke", Action.UNCHANGED, expected))
        else:
            steps.append(
                Step(
                    "permission",
                    "apigateway invoke",
                    Action.CREATE if current is None else Action.UPDATE,
                    expected,
                    lambda out: _grant(
                        aws, settings.function, region, account, api.api_id, replace=current is not None
                    ),
                )
            )

    # Stage
    stage = (
        api_ops.StageState(settings.stage, exists=False)
        if api.api_id is None
        else api_ops.describe_stage(aws, api.api_id, settings.stage)
    )
    if not stage.exists or stage.spec_digest != spec.digest:
        action = Action.CREATE if not stage.exists else Action.UPDATE
        steps.append(
            Step(
                "stage",
                settings.stage,
                action,
                f"deploy spec {spec.digest}",
                lambda out: _set(
                    out,
                    "deployment_id",
                    api_ops.deploy_stage(aws, api_id_of(out), settings.stage, spec.digest),
                ),
            )
        )
    else:
        steps.append(Step("stage", settings.stage, Action.UNCHANGED, f"deployment {stage.deployment_id}"))

    return steps


def _grant(aws: Aws, function: str, region: str, account: str, api_id: str, replace: bool = False) -> None:
    statement = fn.permission_statement_id(api_id)
    if replace:
        fn.revoke_invoke(aws, function, statement)
    fn.grant_invoke(aws, function, statement, fn.invoke_source_arn(region, account, api_id))


def plan_destroy(aws: Aws, settings: Settings) -> list[Step]:
    """Everything deploy creates, in reverse order; what is already gone is reported absent."""
    steps: list[Step] = []
    api = api_ops.find_api(aws, settings.api)
    if api.api_id:
        api_id = api.api_id
        steps.append(
            Step(
                "api",
                settings.api,
                Action.DELETE,
                f"id {api_id} and its stages",
                lambda out: api_ops.delete_api(aws, api_id),
            )
        )
    else:
        steps.append(Step("api", settings.api, Action.ABSENT))
    function = fn.describe_function(aws, settings.function)
    if function.arn:
        steps.append(
            Step(
                "function",
                settings.function,
                Action.DELETE,
                "and its invoke permissions",
                lambda out: fn.delete_function(aws, settings.function),
            )
        )
    else:
        steps.append(Step("function", settings.function, Action.ABSENT))
    role = fn.role_name(settings.function)
    if fn.get_role_arn(aws, role):
        steps.append(Step("role", role, Action.DELETE, "and its inline policy", lambda out: fn.delete_role(aws, role)))
    else:
        steps.append(Step("role", role, Action.ABSENT))
    table = catalog.describe_table(aws, settings.table)
    if table.status is not None:
        steps.append(
            Step(
                "table",
                settings.table,
                Action.DELETE,
                f"{table.item_count or 0} item(s)",
                lambda out: catalog.delete_table(aws, settings.table),
            )
        )
    else:
        steps.append(Step("table", settings.table, Action.ABSENT))
    return steps
