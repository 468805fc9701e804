"""The sdcli command line: parse, call the core, render. Nothing else lives here.

Heavy imports (boto3 through sdcli.aws, rich through sdcli.render's helpers) happen inside the commands that
need them, so ``sdcli --help`` and ``sdcli lookup --api-url ...`` stay light.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sdcli import __version__, render
from sdcli.config import (
    DEFAULT_API,
    DEFAULT_FUNCTION,
    DEFAULT_LOCAL_PORT,
    DEFAULT_REGION,
    DEFAULT_SOURCE_DIR,
    DEFAULT_SPEC_FILE,
    DEFAULT_STAGE,
    DEFAULT_TABLE,
    Settings,
)
from sdcli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, InvalidInputError, NotDeployedError, SdcliError

if TYPE_CHECKING:
    from sdcli.aws import Aws
    from sdcli.deploy import Step

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def _settings() -> Settings:
    return click.get_current_context().find_object(Settings)


def _aws() -> Aws:
    from sdcli.aws import Aws

    return Aws(_settings())


def _can_prompt() -> bool:
    return sys.stdin.isatty()


def _json_mode() -> bool:
    return _settings().output == "json"


@contextmanager
def _spinner(text: str) -> Iterator[None]:
    if _json_mode() or not sys.stderr.isatty():
        yield
        return
    with render.error_console().status(render.safe_markup(text)):
        yield


# Global options a user may also put after the command (`sdcli lookup a 1 --output json`), as the AWS CLI allows.
GLOBAL_VALUE_OPTIONS = {
    "--region",
    "--profile",
    "--endpoint-url",
    "--table",
    "--function",
    "--api",
    "--stage",
    "--output",
    "-o",
}
GLOBAL_FLAGS = {"--local", "--debug"}
# Global options worth repeating in a hint's example command, so copying it targets the same place.
TARGET_OPTIONS = ("--local", "--endpoint-url", "--profile", "--region", "--table", "--function", "--api", "--stage")


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options given after the command to the front, where click expects them."""
    front: list[str] = []
    rest: list[str] = []
    seen_command = False
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if seen_command and name in GLOBAL_FLAGS:
            front.append(arg)
        elif seen_command and name in GLOBAL_VALUE_OPTIONS:
            front.append(arg)
            if "=" not in arg and index + 1 < len(args):
                index += 1
                front.append(args[index])
        else:
            if not arg.startswith("-"):
                seen_command = True
            rest.append(arg)
        index += 1
    return front + rest


def _target_flags(ctx: click.Context) -> str:
    """The user's own target options, e.g. `--local --stage prod`, for the example commands hints give."""
    settings = ctx.find_object(Settings)
    if settings is None:
        return ""
    flags = []
    defaults = Settings()
    for option in TARGET_OPTIONS:
        attribute = option[2:].replace("-", "_")
        value = getattr(settings, attribute)
        if option == "--local":
            if value:
                flags.append("--local")
        elif value != getattr(defaults, attribute):
            flags.append(f"{option} {value}")
    return " ".join(flags)


def with_target_flags(text: str, ctx: click.Context | None = None) -> str:
    """Example commands in ``text`` (`sdcli deploy`) with the user's own target options, so copying one works."""
    flags = _target_flags(ctx or click.get_current_context())
    return re.sub(r"`sdcli (?!local )", f"`sdcli {flags} ", text) if flags else text


class SdcliGroup(click.Group):
    """Turns expected failures into one clear line (two with a hint) and their documented exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SdcliError as error:
            if _debug(ctx):
                _print_traceback()
            hint = with_target_flags(error.hint, ctx) if error.hint else None
            from sdcli.redact import redact

            problems = [redact(problem) for problem in getattr(error, "problems", None) or []]
            render.error(redact(error.message), redact(hint) if hint else hint, problems)
            raise click.exceptions.Exit(error.exit_code) from None
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # the reader went away (`sdcli status | head -1`): stop quietly, as cat does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            raise click.exceptions.Exit(EXIT_FAILURE) from None
        except Exception as error:  # a bug, not an expected failure: still one line unless --debug
            if _debug(ctx):
                _print_traceback()
            render.error(
                f"Unexpected {type(error).__name__}: {error}",
                "Run again with --debug for the traceback, and please report it.",
            )
            raise click.exceptions.Exit(EXIT_FAILURE) from None


def _print_traceback() -> None:
    """--debug's traceback, redacted like every other debug line."""
    from sdcli.redact import redact

    sys.stderr.write(redact(traceback.format_exc()))


def _debug(ctx: click.Context) -> bool:
    settings = ctx.find_object(Settings)
    return bool(settings.debug) if settings else os.environ.get("SDCLI_DEBUG", "").lower() in ("1", "true")


def _checked(kind: str) -> Any:
    """A click callback that refuses what AWS would refuse (sdcli.names), as a usage error."""
    from sdcli import names

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        problem = names.problem(kind, value)
        if problem:
            raise click.BadParameter(f"'{render.visible(value)}': {problem}.")
        return value

    return check


def _named_option(flag: str, kind: str, default: str, help_text: str, *dest: str) -> Any:
    """A global option naming a thing on AWS: its SDCLI_ environment variable, its default and its check."""
    return click.option(
        flag,
        *dest,
        envvar=f"SDCLI_{flag[2:].upper()}",
        default=default,
        show_default=True,
        callback=_checked(kind),
        help=help_text,
    )


@click.group(cls=SdcliGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="sdcli")
@_named_option("--region", "region", DEFAULT_REGION, "AWS region.")
@click.option("--profile", envvar="SDCLI_PROFILE", help="AWS shared-config profile.")
@click.option(
    "--endpoint-url",
    envvar="SDCLI_ENDPOINT_URL",
    callback=_checked("endpoint"),
    help="Any AWS-compatible endpoint (LocalStack, the sdcli local stack) for every service.",
)
@click.option("--local", is_flag=True, envvar="SDCLI_LOCAL", help="Target the running sdcli local stack.")
@_named_option("--table", "table", DEFAULT_TABLE, "DynamoDB table.")
@_named_option("--function", "function", DEFAULT_FUNCTION, "Lambda function.", "function_name")
@_named_option("--api", "api", DEFAULT_API, "REST API name.")
@_named_option("--stage", "stage", DEFAULT_STAGE, "API stage.")
@click.option(
    "--output",
    "-o",
    envvar="SDCLI_OUTPUT",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Human-readable tables or JSON for scripts.",
)
@click.option("--debug", is_flag=True, envvar="SDCLI_DEBUG", help="Show tracebacks and AWS calls.")
@click.pass_context
def cli(
    ctx: click.Context,
    region: str,
    profile: str | None,
    endpoint_url: str | None,
    local: bool,
    table: str,
    function_name: str,
    api: str,
    stage: str,
    output: str,
    debug: bool,
) -> None:
    """Deploy, seed and query a serverless service-discovery catalog (DynamoDB + Lambda + API Gateway).

    Run against AWS with your usual credentials, against any AWS-compatible endpoint with --endpoint-url, or
    against the embedded local stack with --local (start it with `sdcli local start --detach`).
    """
    ctx.obj = Settings(
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        local=local,
        table=table,
        function=function_name,
        api=api,
        stage=stage,
        output=output,
        debug=debug,
    )
    if debug:  # every AWS call on stderr, credentials redacted; undone when the command ends
        from sdcli.redact import enable_debug_logging

        ctx.call_on_close(enable_debug_logging())


# --- table / seed / package ------------------------------------------------------------------------------------


@cli.group("table")
def table_group() -> None:
    """The catalog table."""


@table_group.command("create")
@click.option(
    "--billing-mode",
    type=click.Choice(["PROVISIONED", "PAY_PER_REQUEST"]),
    default="PROVISIONED",
    show_default=True,
    help="PROVISIONED is 10 read / 10 write capacity units.",
)
def table_create(billing_mode: str) -> None:
    """Create the table (HASH name, RANGE version) and wait until it is ACTIVE."""
    from sdcli import catalog

    aws, settings = _aws(), _settings()
    state = catalog.describe_table(aws, settings.table)
    if state.status is not None:
        catalog.check_key_schema(state)
        action = "unchanged"
    else:
        with _spinner(f"Creating table {settings.table}..."):
            catalog.create_table(aws, settings.table, billing_mode)
        action = "created"
    _report([("table", settings.table, action, "ACTIVE" if action == "created" else state.status or "")], "Table")


@cli.command()
@click.option(
    "--file",
    "file_",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON list of services (name, version, endpoint_url, ttl, status). Default: the two examples.",
)
def seed(file_: Path | None) -> None:
    """Write services to the catalog; records already stored as given are left alone."""
    from sdcli import catalog

    records = catalog.load_records(file_) if file_ else list(catalog.EXAMPLE_SERVICES)
    aws, settings = _aws(), _settings()
    with _spinner(f"Seeding {len(records)} service(s)..."):
        result = catalog.seed(aws, settings.table, records)
    if _json_mode():
        render.emit_json({"table": settings.table, **asdict(result)})
        return
    render.message(
        f"Seeded {settings.table}: {result.written} written, {result.unchanged} unchanged ({result.total} in all)."
    )


@cli.command()
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_SOURCE_DIR,
    show_default="lambda_src/",
    help="Folder with the function's code.",
)
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), help="Also write the zip here.")
def package(source: Path, out_file: Path | None) -> None:
    """Build the deterministic deployment zip and print its SHA-256."""
    from sdcli.package import build_package

    built = build_package(source)
    if out_file:
        try:
            out_file.write_bytes(built.data)
        except OSError as error:
            raise SdcliError(f"Cannot write {out_file}: {error.strerror or error}") from None
    if _json_mode():
        render.emit_json(
            {
                "sha256": built.sha256_hex,
                "code_sha256": built.code_sha256,
                "size": built.size,
                "files": list(built.files),
                "path": str(out_file) if out_file else None,
            }
        )
        return
    render.key_values(
        "Lambda package",
        [
            ("sha256", built.sha256_hex),
            ("CodeSha256", built.code_sha256),
            ("size", f"{built.size} bytes"),
            ("files", ", ".join(built.files)),
            *([("written to", str(out_file))] if out_file else []),
        ],
    )


# --- deploy ------------------------------------------------------------------------------------------------------


def _deploy_inputs(source: Path, spec: Path, billing_mode: str = "PROVISIONED") -> Any:
    from sdcli.deploy import DeployInputs

    return DeployInputs(source_dir=source, spec_file=spec, billing_mode=billing_mode)


def _run_plan(plan: list[Step], dry_run: bool) -> tuple[list[tuple[str, str, str, str]], dict[str, Any]]:
    """Execute (or, dry run, only list) a plan; the rows say what happened to each resource."""
    from sdcli.deploy import execute

    if dry_run:
        return [(s.resource, s.name, s.action.value, s.detail) for s in plan], {}
    status = render.error_console().status("") if not _json_mode() and sys.stderr.isatty() else None

    def progress(step: Step) -> None:
        if status is not None and step.mutates:
            status.update(render.safe_markup(f"{step.action.value.capitalize()} {step.resource} {step.name}..."))

    with status if status is not None else contextlib.nullcontext():
        results, outputs = execute(plan, progress)
    for warning in outputs.get("api_warnings") or []:
        render.message(f"Warning: API Gateway: {warning}")
    return [(r.resource, r.name, r.action.past_tense, r.detail) for r in results], outputs


LABELS = {"code_sha256": "CodeSha256 (base64, as Lambda shows it)"}


def _report(rows: list[tuple[str, str, str, str]], title: str | None = None, extra: dict | None = None) -> None:
    """One table (or one JSON document) per command: the resources, then any extra fields."""
    if _json_mode():
        render.emit_json(
            {
                "resources": [{"resource": r, "name": n, "action": a, "detail": d} for r, n, a, d in rows],
                **(extra or {}),
            }
        )
        return
    render.table(
        title,
        ["resource", "name", "action", "detail"],
        [list(row) for row in rows],
        styles={2: render.action_style},
    )
    for key, value in (extra or {}).items():
        render.line(f"{LABELS.get(key) or key.replace('_', ' ').capitalize()}: {value}")


def _filtered(plan: list[Step], resources: set[str]) -> list[Step]:
    return [step for step in plan if step.resource in resources]


def _stage_url(aws: Aws, settings: Settings, api_id: str) -> str:
    from sdcli.api import invoke_url

    return invoke_url(api_id, settings.stage, aws.region, aws.endpoint_url)


source_option = click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_SOURCE_DIR,
    show_default="lambda_src/",
    help="Folder with the function's code.",
)
spec_option = click.option(
    "--spec",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_SPEC_FILE,
    show_default="swagger/catalog_service.json",
    help="OpenAPI 3.0 document of the API.",
)


@cli.command()
@source_option
@spec_option
@click.option(
    "--billing-mode",
    type=click.Choice(["PROVISIONED", "PAY_PER_REQUEST"]),
    default="PROVISIONED",
    show_default=True,
    help="For a table deploy creates.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
def deploy(source: Path, spec: Path, billing_mode: str, dry_run: bool) -> None:
    """Table, role, function, API, invoke permission and stage: create or update only what differs."""
    from sdcli.deploy import plan_deploy

    aws, settings = _aws(), _settings()
    with _spinner("Planning..."):
        plan = plan_deploy(aws, settings, _deploy_inputs(source, spec, billing_mode))
    rows, outputs = _run_plan(plan, dry_run)
    if dry_run:
        _report(rows, "Deploy plan (dry run: nothing changed)", {"dry_run": True} if _json_mode() else None)
        return
    api_id = outputs["api_id"]
    mutating = len(aws.mutating_calls)
    _report(
        rows,
        "Deploy",
        {
            "invoke_url": _stage_url(aws, settings, api_id),
            "api_id": api_id,
            "stage": settings.stage,
            "mutating_calls": mutating,
        },
    )
    if mutating == 0 and not _json_mode():
        render.message("Everything was up to date; no changes made.")


@cli.group("function")
def function_group() -> None:
    """The Lambda function."""


@function_group.command("deploy")
@source_option
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
def function_deploy(source: Path, dry_run: bool) -> None:
    """Create the function and its role, or update its code when the SHA-256 differs."""
    from sdcli.deploy import plan_deploy
    from sdcli.function import describe_function

    aws, settings = _aws(), _settings()
    plan = _filtered(plan_deploy(aws, settings, _deploy_inputs(source, DEFAULT_SPEC_FILE)), {"role", "function"})
    rows, _ = _run_plan(plan, dry_run)
    state = None if dry_run else describe_function(aws, settings.function)
    _report(
        rows,
        "Function plan (dry run: nothing changed)" if dry_run else "Function",
        None if state is None else {"function_arn": state.arn, "code_sha256": state.code_sha256},
    )


@cli.group("api")
def api_group() -> None:
    """The REST API and its stages."""


@api_group.command("push")
@spec_option
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
def api_push(spec: Path, dry_run: bool) -> None:
    """Import the API, or overwrite its definition when the spec differs; grant it invoke on the function."""
    from sdcli.deploy import plan_deploy

    aws, settings = _aws(), _settings()
    plan = plan_deploy(aws, settings, _deploy_inputs(DEFAULT_SOURCE_DIR, spec))
    function_step = next(step for step in plan if step.resource == "function")
    if function_step.action.value == "create":
        raise NotDeployedError(
            f"Function {settings.function!r} does not exist yet.",
            hint="Deploy it first: `sdcli function deploy` (or `sdcli deploy` for everything).",
        )
    rows, outputs = _run_plan(_filtered(plan, {"api", "permission"}), dry_run)
    if dry_run:
        _report(rows, "API plan (dry run: nothing changed)")
        return
    _report(rows, "API", {"api_id": outputs["api_id"]})


@api_group.command("deploy")
@spec_option
@click.option("--force", is_flag=True, help="Create a new deployment even when the stage is up to date.")
def api_deploy(spec: Path, force: bool) -> None:
    """Deploy the stage (when its deployment is behind the API) and print its invoke URL."""
    from sdcli import api as api_ops
    from sdcli.deploy import Action, plan_deploy

    aws, settings = _aws(), _settings()
    api = api_ops.find_api(aws, settings.api)
    if api.api_id is None:
        raise NotDeployedError(f"No REST API named {settings.api!r}.", hint="Push it first: `sdcli api push`.")
    plan = _filtered(plan_deploy(aws, settings, _deploy_inputs(DEFAULT_SOURCE_DIR, spec)), {"stage"})
    step = plan[0]
    if force and step.run is None:
        digest = api.spec_digest
        step.action, step.detail = Action.UPDATE, "forced"
        step.run = lambda out: api_ops.deploy_stage(aws, api.api_id, settings.stage, digest)
    rows, _ = _run_plan(plan, False)
    _report(rows, "Stage", {"invoke_url": _stage_url(aws, settings, api.api_id)})


def _print_fields(fields: dict[str, Any]) -> None:
    if _json_mode():
        render.emit_json(fields)
        return
    for key, value in fields.items():
        render.line(f"{key.replace('_', ' ').capitalize()}: {value}")


# --- lookup / status / destroy -------------------------------------------------------------------------------------


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option(
    "--api-url",
    envvar="SDCLI_API_URL",
    help="The stage's invoke URL. Default: resolved from the deployed API and --stage.",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds.")
def lookup(name: str, version: str, api_url: str | None, timeout: float) -> None:
    """Look up a service's endpoint by NAME and VERSION (exit 3 when the catalog has no such service)."""
    from sdcli.lookup import check_key
    from sdcli.lookup import lookup as fetch

    check_key(name, version)  # an invalid NAME/VERSION is exit 5 before any AWS call resolves the URL
    if api_url is None:  # an explicit empty --api-url is malformed, not "resolve it"
        api_url = _resolve_api_url()
    record = fetch(api_url, name, version, timeout=timeout)
    if _json_mode():
        render.emit_json(record.as_json())
        return
    render.table(
        f"{name} {version}",
        ["endpoint URL", "TTL", "status"],
        [[record.endpoint_url, record.ttl, record.status]],
    )


def _resolve_api_url() -> str:
    from sdcli.api import describe_stage, find_api

    aws, settings = _aws(), _settings()
    api = find_api(aws, settings.api)
    if api.api_id is None:
        raise NotDeployedError(
            f"No REST API named {settings.api!r} is deployed.", hint="Run `sdcli deploy`, or pass --api-url."
        )
    if not describe_stage(aws, api.api_id, settings.stage).exists:
        raise NotDeployedError(
            f"Stage {settings.stage!r} of API {settings.api!r} is not deployed.",
            hint="Deploy it with `sdcli api deploy`, or pick another with --stage.",
        )
    return _stage_url(aws, settings, api.api_id)


@cli.command()
def status() -> None:
    """What is deployed: table, function, API and stage."""
    from sdcli.status import describe_deployment

    aws, settings = _aws(), _settings()
    report = describe_deployment(aws, settings)
    if _json_mode():
        payload = report.as_json()
        payload["problems"] = [with_target_flags(problem) for problem in payload["problems"]]
        render.emit_json(payload)
        return
    render.table(
        "Deployment",
        ["resource", "name", "state", "detail"],
        [[*row[:3], with_target_flags(row[3])] for row in report.rows()],
        styles={2: lambda state: "green" if state in ("ACTIVE", "Active", "deployed") else "red"},
    )
    if report.url:
        render.line(f"Invoke URL: {report.url}")
    for problem in report.problems():
        render.message(f"Problem: {with_target_flags(problem)}")


@cli.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; change nothing.")
def destroy(yes: bool, dry_run: bool) -> None:
    """Delete what deploy created: API, function, role and table (with its items)."""
    from sdcli.deploy import plan_destroy

    aws, settings = _aws(), _settings()
    plan = plan_destroy(aws, settings)
    if not dry_run and any(step.mutates for step in plan) and not yes:
        if not _can_prompt():
            raise InvalidInputError(
                "destroy deletes the catalog and its data, and there is no terminal to confirm on.",
                hint="Pass --yes to confirm (`sdcli destroy --dry-run` lists what would go).",
            )
        if not click.confirm(f"Delete the API, function, role and table {settings.table!r} with its items?"):
            raise SdcliError("Nothing was deleted (not confirmed).")
    rows, _ = _run_plan(plan, dry_run)
    _report(rows, "Destroy plan (dry run: nothing changed)" if dry_run else "Destroy")
    if not dry_run and not _json_mode() and all(step.action.value == "absent" for step in plan):
        render.message("Nothing to delete; everything was already absent.")


# --- local stack -----------------------------------------------------------------------------------------------


@cli.group("local")
def local_group() -> None:
    """The embedded local stack: AWS control plane (moto) plus our API Gateway data plane on one port."""


@local_group.command("start")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_LOCAL_PORT,
    show_default=True,
    envvar="SDCLI_LOCAL_PORT",
    help="Port on 127.0.0.1; 0 picks a free one.",
)
@click.option("--detach", "-d", is_flag=True, help="Run in the background and return once it answers.")
def local_start(port: int, detach: bool) -> None:
    """Start the local stack on 127.0.0.1 (foreground until Ctrl-C, or --detach)."""
    from sdcli.local import control

    if detach:
        state = control.start_detached(port)
        if state.get("already_running") and not _json_mode():
            render.message(f"A local stack is already running at {state['endpoint']} (pid {state['pid']}); using it.")
            if port not in (0, state["port"]):
                render.message(f"--port {port} was ignored; stop it first (`sdcli local stop`) to move it.")
        fields = {"endpoint": state["endpoint"], "pid": state["pid"]}
        if state.get("log"):
            fields["log"] = state["log"]
        if _json_mode():
            fields["already_running"] = bool(state.get("already_running"))
        _print_fields(fields)
        return
    control.run_foreground(
        port,
        on_ready=lambda endpoint: render.message(
            f"Local stack listening on {endpoint} (Ctrl-C to stop). Use `sdcli --local ...` from another shell."
        ),
    )


@local_group.command("stop")
def local_stop() -> None:
    """Stop the detached local stack (all its state is discarded)."""
    from sdcli.local import control

    stopped = control.stop()
    if _json_mode():
        render.emit_json({"stopped": stopped})
    else:
        render.message("Local stack stopped." if stopped else "No local stack was running.")


@local_group.command("status")
def local_status() -> None:
    """Whether a local stack is running, and where."""
    from sdcli.config import read_local_state

    state = read_local_state()
    if _json_mode():
        render.emit_json({"running": state is not None, **(state or {})})
    elif state:
        render.message(f"Running at {state['endpoint']} (pid {state['pid']}).")
    else:
        render.message("Not running.")
    if state is None:
        sys.exit(EXIT_FAILURE)


# --- entry point -----------------------------------------------------------------------------------------------


def main() -> None:
    """The console-script entry point."""
    from sdcli.startup import defer_collection

    defer_collection()
    for stream in (sys.stdout, sys.stderr):  # a name the terminal's encoding lacks is shown as \uXXXX, not a crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    try:
        cli(prog_name="sdcli")
    except KeyboardInterrupt:  # before a command runs (click parsing); commands handle their own
        sys.stderr.write("Interrupted.\n")
        sys.exit(EXIT_INTERRUPTED)
