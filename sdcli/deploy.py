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
from sdcli.errors import AwsError, SdcliError
from sdcli.package import Package, build_package


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
    known: Outputs = field(default_factory=dict)  # what planning already learnt (an existing API's id)

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
    """Run every mutating step in order; what they learn (ids, ARNs) flows on through ``outputs``.

    A failing step stops the run with its error, which then also says where it stopped and what was done
    before it: every step reads what exists, so running the command again continues from there.
    """
    outputs: Outputs = {}
    results: list[StepResult] = []
    for step in plan:
        outputs.update(step.known)
        if progress:
            progress(step)
        if step.run is not None:
            try:
                step.run(outputs)
            except SdcliError as error:
                raise _stopped_at(step, error, results) from None
        results.append(StepResult(step.resource, step.name, step.action, step.detail))
    return results, outputs


def _stopped_at(step: Step, error: SdcliError, done: list[StepResult]) -> SdcliError:
    changed = [f"{r.resource} {r.action.past_tense}" for r in done if r.action not in (Action.UNCHANGED, Action.ABSENT)]
    error.message = f"Stopped at {step.resource} {step.name} ({step.action.value}): {error.message}"
    error.args = (error.message,)
    again = "A re-run continues from what exists."
    if changed:
        again = f"Done before it: {', '.join(changed)}; a re-run continues from what exists."
    error.hint = f"{error.hint} {again}" if error.hint else again
    return error


def _create_table(aws: Aws, name: str, billing_mode: str) -> None:
    """Create the table; one there by now (a retried create whose first answer was lost) is waited for instead."""
    try:
        catalog.create_table(aws, name, billing_mode)
    except AwsError as error:
        if error.code != "ResourceInUseException":
            raise
        catalog.wait_table_active(aws, name)
        catalog.check_key_schema(catalog.describe_table(aws, name))


def _set(outputs: Outputs, key: str, value: Any) -> None:
    outputs[key] = value


def _role_state(aws: Aws, role: str) -> tuple[str | None, dict[str, Any] | None]:
    arn = fn.get_role_arn(aws, role)
    return arn, (fn.get_role_policy(aws, role) if arn else None)


def _function_state(aws: Aws, name: str) -> tuple[fn.FunctionState, dict[str, Any] | None]:
    function = fn.describe_function(aws, name)
    return function, (fn.invoke_policy(aws, name) if function.arn else None)


def _api_state(aws: Aws, name: str, stage: str) -> tuple[api_ops.ApiState, api_ops.StageState]:
    api = api_ops.find_api(aws, name)
    return api, (api_ops.describe_stage(aws, api.api_id, stage) if api.api_id else api_ops.StageState(stage, False))


class _DeployPlanner:
    """Reads what exists, then one compare method per resource returns the Step that brings it up to date."""

    def __init__(self, aws: Aws, settings: Settings, inputs: DeployInputs) -> None:
        self.aws, self.settings, self.inputs = aws, settings, inputs
        self.region = aws.region

    @property
    def account(self) -> str:
        return self.aws.account_id()

    def steps(self) -> list[Step]:
        aws, settings, inputs = self.aws, self.settings, self.inputs
        # Every read is by name: all of them first, in this order (what an error reports first), then compares.
        table = catalog.describe_table(aws, settings.table)
        role_arn, role_policy = _role_state(aws, fn.role_name(settings.function))
        package = build_package(inputs.source_dir)
        function, invoke_policy = _function_state(aws, settings.function)
        document = api_ops.load_spec(inputs.spec_file)
        api, stage = _api_state(aws, settings.api, settings.stage)
        table_step, table_arn = self.table(table)
        role_step, role_arn = self.role(table_arn, role_arn, role_policy)
        function_arn = function.arn or f"arn:aws:lambda:{self.region}:{self.account}:function:{settings.function}"
        spec = api_ops.render_spec(document, settings.api, function_arn, self.region)

        def api_id_of(out: Outputs) -> str:
            return out.get("api_id") or api.api_id  # type: ignore[return-value]

        return [
            table_step,
            role_step,
            self.function(role_arn, function, package),
            self.api(api, spec),
            self.permission(api, function, invoke_policy, api_id_of),
            self.stage(api, stage, spec, api_id_of),
        ]

    def table(self, table: catalog.TableState) -> tuple[Step, str]:
        aws, name = self.aws, self.settings.table
        if table.arn:
            aws.learn_account_id(table.arn)  # spares an STS call
        arn = table.arn or f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
        if table.status is None:
            mode = self.inputs.billing_mode
            return Step(
                "table",
                name,
                Action.CREATE,
                f"{mode.lower()} capacity",
                lambda out: _create_table(aws, name, mode),
            ), arn
        catalog.check_key_schema(table)
        return Step("table", name, Action.UNCHANGED, table.status), arn

    def role(self, table_arn: str, arn: str | None, current_policy: dict[str, Any] | None) -> tuple[Step, str]:
        aws, role = self.aws, fn.role_name(self.settings.function)
        policy = fn.role_policy(self.region, self.account, table_arn, self.settings.function)
        if arn is None:

            def create_role(out: Outputs) -> None:
                fn.create_role(aws, role)
                fn.put_role_policy(aws, role, policy)

            step = Step("role", role, Action.CREATE, "dynamodb:GetItem on the table, own log group", create_role)
            return step, f"arn:aws:iam::{self.account}:role/{role}"
        if current_policy != policy:

            def update_role(out: Outputs) -> None:
                fn.put_role_policy(aws, role, policy)
                fn.drop_legacy_policy(aws, role)

            return Step("role", role, Action.UPDATE, "policy differs", update_role), arn
        return Step("role", role, Action.UNCHANGED), arn

    def function(self, role_arn: str, function: fn.FunctionState, package: Package) -> Step:
        aws, name = self.aws, self.settings.function
        desired = fn.desired_configuration(role_arn, self.settings.table)
        code = f"code {package.sha256_hex[:12]}"
        if function.arn is None:
            return Step(
                "function",
                name,
                Action.CREATE,
                code,
                lambda out: _set(out, "function_arn", fn.create_function(aws, name, package, desired)),
            )
        code_changed = function.code_sha256 != package.code_sha256
        drift = fn.configuration_drift(function.configuration or {}, desired)
        if not code_changed and not drift:
            return Step("function", name, Action.UNCHANGED, code)

        def update_function(out: Outputs) -> None:
            if drift:
                fn.update_function_configuration(aws, name, desired)
            if code_changed:
                fn.update_function_code(aws, name, package)

        code_change = [f"code {fn.code_hex(function.code_sha256)} -> {package.sha256_hex[:12]}"] if code_changed else []
        changes = ", ".join(code_change + drift)
        return Step("function", name, Action.UPDATE, changes, update_function)

    def api(self, api: api_ops.ApiState, spec: api_ops.RenderedSpec) -> Step:
        aws, name = self.aws, self.settings.api
        if api.api_id is None:
            return Step(
                "api",
                name,
                Action.CREATE,
                f"spec {spec.digest}",
                lambda out: out.update(zip(("api_id", "api_warnings"), api_ops.import_api(aws, spec), strict=True)),
            )
        api_id = api.api_id
        known = {"api_id": api_id}
        if api.spec_digest == spec.digest:
            return Step("api", name, Action.UNCHANGED, f"spec {spec.digest} (id {api_id})", known=known)
        return Step(
            "api",
            name,
            Action.UPDATE,
            f"spec {api.spec_digest} -> {spec.digest} (id {api_id})",
            lambda out: _set(out, "api_warnings", api_ops.overwrite_api(aws, api_id, spec)),
            known=known,
        )

    def permission(
        self,
        api: api_ops.ApiState,
        function: fn.FunctionState,
        invoke_policy: dict[str, Any] | None,
        api_id_of: Callable[[Outputs], str],
    ) -> Step:
        """API Gateway may invoke the function only from this API's GET /catalog/{name}/{version}."""
        name = "apigateway invoke"
        if api.api_id is None:
            return Step(
                "permission",
                name,
                Action.CREATE,
                "scoped to the new API",
                lambda out: self._grant(api_id_of(out), replace=False),
            )
        statement = fn.permission_statement_id(api.api_id)
        expected = fn.invoke_source_arn(self.region, self.account, api.api_id)
        current = fn.granted_source_arn(invoke_policy, statement)
        if current == expected:
            return Step("permission", name, Action.UNCHANGED, expected)
        api_id = api.api_id
        return Step(
            "permission",
            name,
            Action.CREATE if current is None else Action.UPDATE,
            expected,
            lambda out: self._grant(api_id, replace=current is not None),
        )

    def stage(
        self,
        api: api_ops.ApiState,
        stage: api_ops.StageState,
        spec: api_ops.RenderedSpec,
        api_id_of: Callable[[Outputs], str],
    ) -> Step:
        aws, name = self.aws, self.settings.stage
        if stage.exists and stage.spec_digest == spec.digest:
            return Step("stage", name, Action.UNCHANGED, f"deployment {stage.deployment_id}")
        return Step(
            "stage",
            name,
            Action.UPDATE if stage.exists else Action.CREATE,
            f"deploy spec {spec.digest}",
            lambda out: _set(out, "deployment_id", api_ops.deploy_stage(aws, api_id_of(out), name, spec.digest)),
        )

    def _grant(self, api_id: str, replace: bool) -> None:
        statement = fn.permission_statement_id(api_id)
        if replace:
            fn.revoke_invoke(self.aws, self.settings.function, statement)
        fn.grant_invoke(
            self.aws, self.settings.function, statement, fn.invoke_source_arn(self.region, self.account, api_id)
        )


def plan_deploy(aws: Aws, settings: Settings, inputs: DeployInputs) -> list[Step]:
    """Describe what exists and compare it with what should; describe/list calls only."""
    return _DeployPlanner(aws, settings, inputs).steps()


def plan_destroy(aws: Aws, settings: Settings) -> list[Step]:
    """Everything deploy creates, in reverse order; what is already gone is reported absent."""
    role = fn.role_name(settings.function)
    api = api_ops.find_api(aws, settings.api)
    function = fn.describe_function(aws, settings.function)
    policies = fn.role_policies(aws, role)
    table = catalog.describe_table(aws, settings.table)
    api_id = api.api_id
    return [
        _delete_if(
            api_id is not None,
            Step(
                "api",
                settings.api,
                Action.DELETE,
                f"id {api_id} and its stages",
                lambda out: api_ops.delete_api(aws, api_id),
            ),
        ),
        _delete_if(
            function.arn is not None,
            Step(
                "function",
                settings.function,
                Action.DELETE,
                "and its invoke permissions",
                lambda out: fn.delete_function(aws, settings.function),
            ),
        ),
        _destroy_role(aws, role, policies),
        _delete_if(
            table.status is not None,
            Step(
                "table",
                settings.table,
                Action.DELETE,
                f"{table.item_count or 0} item(s)",
                lambda out: catalog.delete_table(aws, settings.table),
            ),
        ),
    ]


def _delete_if(exists: bool, step: Step) -> Step:
    return step if exists else Step(step.resource, step.name, Action.ABSENT)


def _destroy_role(aws: Aws, role: str, policies: list[str] | None) -> Step:
    """The role goes with this region's policy, unless another region's deploy (or anyone else) still has one on it."""
    ours = fn.role_policy_name(aws.region)
    if policies is None:
        return Step("role", role, Action.ABSENT)
    others = [name for name in policies if name != ours]
    if not others:
        return Step("role", role, Action.DELETE, "and its inline policy", lambda out: fn.delete_role(aws, role))
    if ours not in policies:
        return Step("role", role, Action.UNCHANGED, f"kept: {', '.join(others)}")
    return Step(
        "role", role, Action.UPDATE, f"{ours} removed; kept: {', '.join(others)}", lambda out: fn.delete_role(aws, role)
    )
