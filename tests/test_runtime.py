"""The local Lambda runtime: real worker processes running real zips, checked against what AWS Lambda returns."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from sdcli.local.runtime import (
    CodePackageError,
    FunctionSpec,
    InvocationResult,
    LambdaRuntime,
    RuntimeClosedError,
    code_sha256,
)

BASE_ENV = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, textwrap.dedent(content))
    return buf.getvalue()


def make_spec(
    source: str | dict[str, str],
    *,
    handler: str = "app.handler",
    name: str = "fn",
    timeout: float = 3.0,
    memory_mb: int = 128,
    runtime: str = "python3.12",
    environment: dict[str, str] | None = None,
) -> FunctionSpec:
    files = {"app.py": source} if isinstance(source, str) else source
    code = make_zip(files)
    return FunctionSpec(
        name=name,
        arn=ARN_PREFIX + name,
        code_sha256=code_sha256(code),
        code_zip=code,
        handler=handler,
        runtime=runtime,
        timeout=timeout,
        memory_mb=memory_mb,
        environment=environment or {},
    )


def error_of(result: InvocationResult) -> dict:
    assert result.function_error == "Unhandled"
    return json.loads(result.payload)


def pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped by whoever adopted it) counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def runtime(tmp_path: Path):
    with LambdaRuntime(base_environment=BASE_ENV, work_dir=tmp_path / "work") as rt:
        yield rt


COUNTER = """
    import os
    COUNT = 0

    def handler(event, context):
        global COUNT
        COUNT += 1
        if event.get("sleep"):
            import time
            time.sleep(event["sleep"])
        return {"count": COUNT, "pid": os.getpid()}
"""


# --- results -------------------------------------------------------------------------------------------------


def test_dict_result_is_the_json_payload(runtime: LambdaRuntime) -> None:
    result_obj = {"statusCode": 200, "body": json.dumps({"a": [1, 2.5, None, True]}), "headers": {"x": "y"}}
    spec = make_spec(f"def handler(event, context):\n    return {result_obj!r}\n")
    result = runtime.invoke(spec, {})
    assert result.function_error is None
    assert result.payload == json.dumps(result_obj).encode()
    assert uuid.UUID(result.request_id)
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")
    assert "Init Duration: " in lines[-1]  # a cold start
    assert "Init Duration: " not in runtime.invoke(spec, {}).logs  # warm


def test_event_reaches_the_handler_json_decoded(runtime: LambdaRuntime) -> None:
    spec = make_spec("def handler(event, context):\n    return {'echo': event, 'type': type(event).__name__}\n")
    event = {"path": "/services/a", "n": 1.5, "list": [1, "two"], "unicode": "ü"}
    assert json.loads(runtime.invoke(spec, event).payload) == {"echo": event, "type": "dict"}
    assert runtime.invoke(spec, None).payload == b'{"echo": null, "type": "NoneType"}'
    raw = runtime.invoke(spec, b'{"raw": true}')  # bytes are the raw Invoke payload
    assert json.loads(raw.payload)["echo"] == {"raw": True}


def test_undecodable_raw_event_is_an_unmarshal_error(runtime: LambdaRuntime) -> None:
    spec = make_spec("def handler(event, context):\n    return 1\n")
    error = error_of(runtime.invoke(spec, b"{not json"))
    assert error["errorType"] == "Runtime.UnmarshalError"
    assert error["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")


def test_none_result_is_null(runtime: LambdaRuntime) -> None:
    result = runtime.invoke(make_spec("def handler(event, context):\n    pass\n"), {})
    assert (result.payload, result.function_error) == (b"null", None)


def test_decimals_are_marshalled_as_awslambdaric_does(runtime: LambdaRuntime) -> None:
    # awslambdaric writes a Decimal as its exact text (simplejson RawJSON(str(d))), NaN as NaN.
    spec = make_spec(
        """
        from decimal import Decimal

        def handler(event, context):
            if event.get("bare"):
                return Decimal("600")
            return {"ttl": Decimal("600"), "weight": Decimal("1.10"), "big": Decimal("1E+3"),
                    "nan": Decimal("NaN"), "nested": [Decimal("-0.5")], "plain": 2.0}
        """
    )
    assert runtime.invoke(spec, {"bare": True}).payload == b"600"
    assert runtime.invoke(spec, {}).payload == (
        b'{"ttl": 600, "weight": 1.10, "big": 1E+3, "nan": NaN, "nested": [-0.5], "plain": 2.0}'
    )


def test_a_decimal_lookalike_string_is_left_alone(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        from decimal import Decimal

        def handler(event, context):
            return {"s": "\\u0000abc:0\\u0000", "d": Decimal("7")}
        """
    )
    assert json.loads(runtime.invoke(spec, {}).payload) == {"s": "\x00abc:0\x00", "d": 7}


@pytest.mark.parametrize(
    ("runtime_name", "expected"),
    [("python3.12", '{"price": "£1"}'.encode()), ("python3.11", b'{"price": "\\u00a31"}')],
)
def test_non_ascii_escaping_follows_the_runtime_version(
    runtime: LambdaRuntime, runtime_name: str, expected: bytes
) -> None:
    spec = make_spec("def handler(event, context):\n    return {'price': '£1'}\n", runtime=runtime_name)
    assert runtime.invoke(spec, {}).payload == expected


def test_bytes_result_is_returned_as_is(runtime: LambdaRuntime) -> None:
    spec = make_spec("def handler(event, context):\n    return b'\\x00raw'\n")
    assert runtime.invoke(spec, {}).payload == b"\x00raw"


# --- logs ----------------------------------------------------------------------------------------------------


def test_prints_and_logging_do_not_corrupt_the_payload(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        import logging, os, sys

        def handler(event, context):
            print("hello from print")
            print("no newline", end="")
            sys.stderr.write("to stderr\\n")
            os.write(1, b"\\x00\\x00\\x00\\x05raw fd write\\n")
            logging.getLogger().warning("a warning")
            logging.getLogger().info("not shown: the root logger is at WARNING, as in Lambda")
            context.log("via context.log\\n")
            return {"ok": True}
        """
    )
    result = runtime.invoke(spec, {})
    assert result.payload == b'{"ok": true}'
    assert result.function_error is None
    logs = result.logs
    for expected in ("hello from print\n", "no newline", "to stderr\n", "raw fd write\n", "via context.log\n"):
        assert expected in logs
    assert "not shown" not in logs
    warning = next(line for line in logs.splitlines() if "a warning" in line)
    level, stamp, request_id, message = warning.split("\t")
    assert (level, request_id, message) == ("[WARNING]", result.request_id, "a warning")
    assert stamp.endswith("Z")
    assert logs.index("hello from print") < logs.index(f"END RequestId: {result.request_id}")


def test_a_handler_that_redirects_or_closes_stdout_does_not_stall_the_runtime(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        import logging, os

        def handler(event, context):
            if event.get("close"):
                os.close(1)
                os.close(2)
            else:
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                print("lost")
            logging.getLogger().error("still logged")
            return "ok"
        """
    )
    results = [runtime.invoke(spec, {}), runtime.invoke(spec, {}), runtime.invoke(spec, {"close": True})]
    results.append(runtime.invoke(spec, {}))
    for result in results:
        assert result.payload == b'"ok"'
        assert "still logged" in result.logs and "lost" not in result.logs


def test_huge_output_is_streamed_and_the_tail_kept(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        def handler(event, context):
            for i in range(20000):
                print(f"line {i:05d} " + "x" * 40)
            return {"done": True}
        """
    )
    result = runtime.invoke(spec, {})
    assert result.payload == b'{"done": true}'
    assert len(result.logs.encode()) <= 4096
    assert "line 19999" in result.logs
    assert result.logs.rstrip().splitlines()[-1].startswith("REPORT RequestId:")


def test_init_output_is_logged_and_each_invocation_gets_its_own_logs(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        print("importing")

        def handler(event, context):
            print("call", event["n"])
            return None
        """
    )
    first = runtime.invoke(spec, {"n": 1})
    second = runtime.invoke(spec, {"n": 2})
    assert "importing" in first.logs and "call 1" in first.logs
    assert "importing" not in second.logs and "call 1" not in second.logs and "call 2" in second.logs


def test_logs_are_forwarded_to_the_lambda_logger(runtime: LambdaRuntime, caplog) -> None:
    spec = make_spec("def handler(event, context):\n    print('forward me')\n    return 1\n", name="fwd")
    with caplog.at_level(logging.INFO, logger="sdcli.local.lambda"):
        result = runtime.invoke(spec, {})
    records = [r for r in caplog.records if r.name == "sdcli.local.lambda"]
    assert len(records) == 1  # one batch per invocation, as Lambda ships logs to CloudWatch
    lines = records[0].getMessage().split("\n")
    assert lines[:3] == [
        f"[fwd] START RequestId: {result.request_id} Version: $LATEST",
        "[fwd] forward me",
        f"[fwd] END RequestId: {result.request_id}",
    ]
    assert lines[3].startswith(f"[fwd] REPORT RequestId: {result.request_id}\t") and len(lines) == 4
    assert all(getattr(r, "aws_request_id", None) == result.request_id for r in caplog.records)


def test_a_long_invocation_forwards_its_lines_while_it_runs(runtime: LambdaRuntime, caplog) -> None:
    handler = (
        "import time\n"
        "def handler(event, context):\n"
        "    print('first', flush=True)\n"
        "    print('x' * 200, flush=True)\n"  # more than the tail the runtime holds back (a marker may start there)
        "    time.sleep(1.5)\n"
        "    print('second', flush=True)\n"
        "    return 1\n"
    )
    spec = make_spec(handler, name="slow", timeout=10)
    with caplog.at_level(logging.INFO, logger="sdcli.local.lambda"):
        runtime.invoke(spec, {})
    batches = [r.getMessage() for r in caplog.records if r.name == "sdcli.local.lambda"]
    assert len(batches) >= 2 and "[slow] first" in batches[0] and "[slow] second" not in batches[0]
    assert "[slow] second" in "\n".join(batches[1:])


# --- warm environments ---------------------------------------------------------------------------------------


def test_module_state_survives_between_invocations(runtime: LambdaRuntime) -> None:
    spec = make_spec(COUNTER)
    first = json.loads(runtime.invoke(spec, {}).payload)
    second = json.loads(runtime.invoke(spec, {}).payload)
    assert (first["count"], second["count"]) == (1, 2)
    assert first["pid"] == second["pid"] != os.getpid()


def test_a_configuration_change_gets_a_new_environment(runtime: LambdaRuntime) -> None:
    v1 = make_spec(COUNTER, environment={"V": "1"})
    old = json.loads(runtime.invoke(v1, {}).payload)
    v2 = make_spec(COUNTER, environment={"V": "2"})
    new = json.loads(runtime.invoke(v2, {}).payload)
    assert new["count"] == 1 and new["pid"] != old["pid"]
    assert not pid_alive(old["pid"])  # the old pool's idle worker is retired
    assert json.loads(runtime.invoke(v2, {}).payload) == {"count": 2, "pid": new["pid"]}


def test_concurrent_invocations_run_in_parallel(runtime: LambdaRuntime) -> None:
    spec = make_spec(COUNTER)
    barrier = threading.Barrier(8)
    results: list[InvocationResult] = []

    def call() -> None:
        barrier.wait()
        results.append(runtime.invoke(spec, {"sleep": 0.3}))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Eight distinct workers: each call found every other worker busy, so they ran at the same time.
    assert len(results) == 8 and all(r.function_error is None for r in results)
    assert len({r.request_id for r in results}) == 8
    assert len({json.loads(r.payload)["pid"] for r in results}) == 8


def test_invocations_wait_when_the_function_is_at_max_concurrency(tmp_path: Path) -> None:
    spec = make_spec(COUNTER)
    with LambdaRuntime(base_environment=BASE_ENV, max_concurrency=2, work_dir=tmp_path) as rt:
        rt.invoke(spec, {})  # warm one up, so timing is about the handler
        pids: list[int] = []
        threads = [
            threading.Thread(target=lambda: pids.append(json.loads(rt.invoke(spec, {"sleep": 0.3}).payload)["pid"]))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(pids) == 4 and len(set(pids)) <= 2


# --- errors --------------------------------------------------------------------------------------------------


def test_handler_exception_is_an_error_payload_and_the_worker_stays_warm(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        COUNT = 0

        def fail():
            raise ValueError("boom\\nline2")

        def handler(event, context):
            global COUNT
            COUNT += 1
            if event.get("fail"):
                fail()
            return COUNT
        """
    )
    result = runtime.invoke(spec, {"fail": True})
    error = error_of(result)
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "boom\nline2"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == result.request_id
    trace = error["stackTrace"]
    assert len(trace) == 2
    assert trace[0].startswith('  File "') and "app.py" in trace[0] and "in handler" in trace[0]
    assert "in fail" in trace[1] and 'raise ValueError("boom\\nline2")' in trace[1]
    assert not any("lambda_bootstrap" in frame for frame in trace)
    assert "[ERROR] ValueError: boom\nline2\nTraceback (most recent call last):" in result.logs
    assert runtime.invoke(spec, {}).payload == b"2"  # same warm worker


def test_unserializable_result_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    result = runtime.invoke(make_spec("def handler(event, context):\n    return object()\n"), {})
    assert error_of(result) == {
        "errorMessage": "Unable to marshal response: Object of type object is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": result.request_id,
        "stackTrace": [],
    }


def test_lone_surrogates_do_not_kill_the_worker(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        def handler(event, context):
            if event.get("raise"):
                raise KeyError("\\ud800")
            return "\\ud800"
        """
    )
    assert error_of(runtime.invoke(spec, {}))["errorType"] == "Runtime.MarshalError"
    assert error_of(runtime.invoke(spec, {"raise": True}))["errorType"] == "KeyError"


def test_timeout_kills_the_environment_and_the_next_invoke_works(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        """
        import os, time

        def handler(event, context):
            if event.get("sleep"):
                print("going to sleep", flush=True)
                time.sleep(event["sleep"])
            return {"pid": os.getpid(), "remaining": context.get_remaining_time_in_millis()}
        """,
        timeout=1,
    )
    warm_pid = json.loads(runtime.invoke(spec, {}).payload)["pid"]
    started = time.monotonic()
    result = runtime.invoke(spec, {"sleep": 10})
    assert time.monotonic() - started >= 1.0  # not answered before the function's timeout
    assert error_of(result) == {
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert "going to sleep" in result.logs
    assert f"{result.request_id} Task timed out after 1.0" in result.logs
    assert "Status: timeout" in result.logs.splitlines()[-1]
    assert not pid_alive(warm_pid)

    after = runtime.invoke(spec, {})
    assert after.function_error is None
    payload = json.loads(after.payload)
    assert payload["pid"] != warm_pid
    assert 0 < payload["remaining"] <= 1000


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ("os._exit(3)", "exit status 3"),
        ("sys.exit(4)", "exit status 4"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "signal: killed"),
        ("os.kill(os.getpid(), signal.SIGSEGV)", "signal: segmentation fault"),
    ],
)
def test_a_crashing_runtime_is_an_exit_error_and_is_replaced(
    runtime: LambdaRuntime, body: str, description: str
) -> None:
    spec = make_spec(
        f"""
        import os, signal, sys

        def handler(event, context):
            if event.get("crash"):
                print("about to crash", flush=True)
                {body}
            return os.getpid()
        """
    )
    first_pid = int(runtime.invoke(spec, {}).payload)
    result = runtime.invoke(spec, {"crash": True})
    assert error_of(result) == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: {description}",
        "errorType": "Runtime.ExitError",
    }
    assert "about to crash" in result.logs
    assert "Runtime.ExitError" in result.logs
    after = runtime.invoke(spec, {})
    assert after.function_error is None and int(after.payload) != first_pid


def test_exit_status_zero_is_exited_without_a_reason(runtime: LambdaRuntime) -> None:
    result = runtime.invoke(make_spec("import sys\ndef handler(event, context):\n    sys.exit(0)\n"), {})
    assert error_of(result)["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Runtime exited without providing a reason"
    )


def test_import_error_fails_every_invocation(runtime: LambdaRuntime) -> None:
    spec = make_spec("import module_that_does_not_exist_xyz\n\ndef handler(event, context):\n    return 1\n")
    for _ in range(2):
        result = runtime.invoke(spec, {})
        assert error_of(result) == {
            "errorMessage": "Unable to import module 'app': No module named 'module_that_does_not_exist_xyz'",
            "errorType": "Runtime.ImportModuleError",
            "requestId": "",
            "stackTrace": [],
        }
        assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'app'" in result.logs
        assert "INIT_REPORT Init Duration:" in result.logs
        assert f"START RequestId: {result.request_id}" in result.logs


def test_missing_module_and_missing_handler(runtime: LambdaRuntime) -> None:
    missing_module = runtime.invoke(make_spec("x = 1\n", handler="nope.handler"), {})
    assert error_of(missing_module)["errorType"] == "Runtime.ImportModuleError"
    assert error_of(missing_module)["errorMessage"] == "Unable to import module 'nope': No module named 'nope'"
    missing_handler = runtime.invoke(make_spec("x = 1\n", handler="app.nope"), {})
    assert error_of(missing_handler)["errorType"] == "Runtime.HandlerNotFound"
    assert error_of(missing_handler)["errorMessage"] == "Handler 'nope' missing on module 'app'"
    malformed = runtime.invoke(make_spec("x = 1\n", handler="nodot"), {})
    assert error_of(malformed)["errorType"] == "Runtime.MalformedHandlerName"


def test_errors_during_init(runtime: LambdaRuntime) -> None:
    raising = error_of(runtime.invoke(make_spec("raise RuntimeError('no config')\n"), {}))
    assert (raising["errorType"], raising["errorMessage"]) == ("RuntimeError", "no config")
    assert "app.py" in raising["stackTrace"][-1]
    syntax = error_of(runtime.invoke(make_spec("def handler(:\n"), {}))
    assert syntax["errorType"] == "Runtime.UserCodeSyntaxError"
    assert syntax["errorMessage"].startswith("Syntax error in module 'app': ")
    exiting = error_of(runtime.invoke(make_spec("import os\nos._exit(2)\n"), {}))
    assert exiting["errorType"] == "Runtime.ExitError"
    assert exiting["errorMessage"].endswith("Error: Runtime exited with error: exit status 2")


def test_dotted_handler_path_in_a_package(runtime: LambdaRuntime) -> None:
    spec = make_spec(
        {"pkg/__init__.py": "", "pkg/mod.py": "def handler(event, context):\n    return __name__\n"},
        handler="pkg.mod.handler",
    )
    assert runtime.invoke(spec, {}).payload == b'"pkg.mod"'


# --- the sandbox ---------------------------------------------------------------------------------------------


ENV_PROBE = """
    import os, sys

    def handler(event, context):
        return {
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "path0": sys.path[0],
            "context": {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
                "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                "client_context": context.client_context,
            },
        }
"""


def test_environment_is_built_not_inherited(runtime: LambdaRuntime, monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "canary-profile")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret")
    monkeypatch.setenv("SDCLI_TEST_CANARY", "canary")
    spec = make_spec(
        ENV_PROBE,
        name="probe",
        memory_mb=256,
        timeout=5,
        environment={"TABLE_NAME": "services", "AWS_LAMBDA_FUNCTION_NAME": "spoofed", "AWS_REGION": "eu-west-1"},
    )
    result = runtime.invoke(spec, {})
    probe = json.loads(result.payload)
    env = probe["env"]

    assert "AWS_PROFILE" not in env and "SDCLI_TEST_CANARY" not in env
    assert "canary" not in json.dumps(env)
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"  # the local stack's dummy, never the user's
    assert env["AWS_ENDPOINT_URL"] == BASE_ENV["AWS_ENDPOINT_URL"]
    assert env["TABLE_NAME"] == "services"
    assert env["AWS_REGION"] == "eu-west-1"  # the function's own variables are layered over the base
    assert env["HOME"] != os.path.expanduser("~")

    task_root = env["LAMBDA_TASK_ROOT"]
    assert {
        key: env[key]
        for key in (
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "_HANDLER",
            "AWS_EXECUTION_ENV",
            "TZ",
            "LANG",
        )
    } == {
        "AWS_LAMBDA_FUNCTION_NAME": "probe",  # reserved variables win
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/probe",
        "_HANDLER": "app.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
    }
    assert env["PATH"]
    assert "/[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert probe["cwd"] == task_root == probe["path0"]
    assert Path(task_root, "app.py").is_file()

    context = probe["context"]
    assert context == {
        "aws_request_id": result.request_id,
        "function_name": "probe",
        "function_version": "$LATEST",
        "invoked_function_arn": ARN_PREFIX + "probe",
        "memory_limit_in_mb": "256",  # a string, as awslambdaric reads it from the environment
        "log_group_name": "/aws/lambda/probe",
        "log_stream_name": env["AWS_LAMBDA_LOG_STREAM_NAME"],
        "remaining": context["remaining"],
        "identity": [None, None],
        "client_context": None,
    }
    assert 4000 < context["remaining"] <= 5000


def test_the_code_directory_comes_first_on_sys_path(runtime: LambdaRuntime) -> None:
    # A package named like ours, or like the bootstrap's own neighbours, must resolve to the zip's copy.
    spec = make_spec(
        {
            "sdcli/__init__.py": "WHERE = 'zip'\n",
            "runtime.py": "WHERE = 'zip'\n",
            "app.py": "import sdcli, runtime, boto3\ndef handler(e, c):\n    return [sdcli.WHERE, runtime.WHERE]\n",
        }
    )
    assert json.loads(runtime.invoke(spec, {}).payload) == ["zip", "zip"]


# --- code packages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("evil", ["../evil.py", "/tmp/sdcli-evil.py", "pkg/../../evil.py", "..\\evil.py"])
def test_zip_slip_is_refused(runtime: LambdaRuntime, tmp_path: Path, evil: str) -> None:
    spec = make_spec({"app.py": "def handler(e, c):\n    return 1\n", evil: "print('pwned')\n"})
    with pytest.raises(CodePackageError, match="unsafe path"):
        runtime.invoke(spec, {})
    assert not list(tmp_path.rglob("evil.py")) and not Path("/tmp/sdcli-evil.py").exists()


def test_sha_mismatch_is_refused(runtime: LambdaRuntime) -> None:
    good = make_spec("def handler(e, c):\n    return 1\n")
    other = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    bad = dataclasses.replace(good, code_zip=other)
    with pytest.raises(CodePackageError, match="does not match its CodeSha256"):
        runtime.invoke(bad, {})


def test_a_non_zip_is_refused(runtime: LambdaRuntime) -> None:
    junk = b"definitely not a zip"
    spec = dataclasses.replace(make_spec("x = 1\n"), code_zip=junk, code_sha256=code_sha256(junk))
    with pytest.raises(CodePackageError, match="not a valid zip"):
        runtime.invoke(spec, {})


def test_code_sha256_is_lambdas_base64_digest() -> None:
    assert code_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


# --- lifecycle -----------------------------------------------------------------------------------------------


def test_close_kills_every_worker_and_removes_the_code(tmp_path: Path) -> None:
    spec = make_spec(COUNTER)
    rt = LambdaRuntime(base_environment=BASE_ENV, work_dir=tmp_path)
    results: list[InvocationResult] = []
    threads = [threading.Thread(target=lambda: results.append(rt.invoke(spec, {"sleep": 0.2}))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pids = {json.loads(r.payload)["pid"] for r in results}
    assert len(pids) >= 2 and all(pid_alive(pid) for pid in pids)
    rt.close()
    assert not any(pid_alive(pid) for pid in pids)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeClosedError):
        rt.invoke(spec, {})
    rt.close()  # idempotent


def test_close_during_an_invocation_ends_it_as_a_dead_sandbox(tmp_path: Path) -> None:
    spec = make_spec(COUNTER)
    rt = LambdaRuntime(base_environment=BASE_ENV, work_dir=tmp_path)
    rt.invoke(spec, {})
    box: list[InvocationResult] = []
    thread = threading.Thread(target=lambda: box.append(rt.invoke(spec, {"sleep": 30})))
    thread.start()
    time.sleep(0.3)
    rt.close()
    thread.join(5)
    assert not thread.is_alive()
    assert error_of(box[0])["errorType"] == "Runtime.ExitError"


PARENT_SCRIPT = """
import json, os, sys, threading, time
sys.path.insert(0, {repo!r})
from sdcli.local.runtime import FunctionSpec, LambdaRuntime, code_sha256
code = bytes.fromhex({code!r})
spec = FunctionSpec("orphan", "arn:aws:lambda:us-east-1:000000000000:function:orphan", code_sha256(code), code,
                    "app.handler", "python3.12", 60, 128, {{}})
rt = LambdaRuntime(base_environment={{}}, work_dir={work!r})
idle_pid = json.loads(rt.invoke(spec, {{}}).payload)["pid"]
threading.Thread(target=rt.invoke, args=(spec, {{"sleep": 50}}), daemon=True).start()
time.sleep(1.0)
print(idle_pid, flush=True)
os._exit(0)  # dies without any cleanup: no close(), no atexit
"""


def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    code = make_zip({"app.py": COUNTER})
    marker_dir = tmp_path / "work"
    script = PARENT_SCRIPT.format(repo=str(Path(__file__).parents[1]), code=code.hex(), work=str(marker_dir))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    idle_pid = int(out.stdout.split()[0])
    # The busy worker (sleeping in its handler) is the idle one's sibling; find both by their environment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (pid_alive(idle_pid) or _workers_of(marker_dir)):
        time.sleep(0.05)
    assert not pid_alive(idle_pid)
    assert _workers_of(marker_dir) == []


def test_interpreter_exit_cleans_up_without_close(tmp_path: Path) -> None:
    code = make_zip({"app.py": COUNTER})
    script = (
        PARENT_SCRIPT.split("threading.Thread(")[0].format(
            repo=str(Path(__file__).parents[1]), code=code.hex(), work=str(tmp_path)
        )
        + "print(idle_pid, flush=True)\n"  # and a normal exit: no close(), only the atexit finalizer
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert not pid_alive(int(out.stdout.split()[0]))
    assert list(tmp_path.iterdir()) == []  # the extracted code is gone: the finalizer ran, not just the lifeline


def _workers_of(work_dir: Path) -> list[int]:
    """Live processes whose cwd is under ``work_dir`` (our workers run in their code directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(work_dir) in os.readlink(entry / "cwd") and pid_alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
