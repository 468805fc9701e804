"""Worker process of the local Lambda runtime: one warm execution environment.

Started by ``sdcli.local.runtime`` as ``python -u -P /abs/path/lambda_bootstrap.py REQ_FD RESP_FD`` with the
function's code directory as cwd and a fully constructed environment. It stands in for Lambda's Python runtime
(awslambdaric): it imports the handler once (the init phase), then serves invocations until its request pipe
closes, reproducing the payloads, error objects and log lines the real runtime produces.

Deliberately stdlib-only and independent of ``sdcli``: it runs inside the function's sandbox, where ``sdcli``
is not supposed to exist, and it must never be what the function imports by accident.

Wire protocol (all integers big-endian):

* parent -> worker, once at start: ``u32 len`` + JSON ``{"nonce": hex, "arn": str}``.
* parent -> worker, per invocation: ``u32 request_id_len, u32 event_len, u64 deadline_epoch_ms`` + request id
  + event bytes (the raw Invoke payload).
* worker -> parent, once after init and once per invocation: ``u8 status, u8 flags, u32 max_rss_kb,
  u32 payload_len`` + payload. Before every such frame the worker writes the marker ``\\0 NONCE \\0`` to the
  log stream, so the parent knows where this phase's log output ends.

fds 1 and 2 are the log stream (the parent reads it like CloudWatch would); the protocol lives on its own
pipes, so whatever the handler prints cannot corrupt it. Log records and markers go through a private dup of
fd 1, which keeps them ours even if the handler points fd 1 elsewhere.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import re
import resource
import select
import struct
import sys
import threading
import time
import traceback

STATUS_OK = 0
STATUS_ERROR = 1
STATUS_INIT_ERROR = 2
FLAG_MARKED = 1

REQUEST_HEADER = struct.Struct("!IIQ")
RESPONSE_HEADER = struct.Struct("!BBII")
LENGTH = struct.Struct("!I")

_THIS_FILE = os.path.abspath(__file__)
_LOG_FD = 1  # main() replaces it with a private dup of fd 1: ours even if the handler redirects fd 1


class FaultException(Exception):
    """A runtime-level failure with a Lambda ``Runtime.*`` error type (as awslambdaric raises them)."""

    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"

    def __init__(self, exception_type: str, msg: str, trace: list[str] | None = None) -> None:
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


# --- JSON, the way awslambdaric's marshaller writes it ---------------------------------------------------
#
# awslambdaric encodes with simplejson and writes a Decimal as its exact text (``RawJSON(str(d))``; NaN
# becomes NaN), so Decimal("600") -> 600 and Decimal("1.10") -> 1.10. Non-ASCII stays unescaped on
# python3.12+ and is \u-escaped on older runtimes. simplejson is not part of this environment, so we use the
# stdlib encoder and splice the Decimal texts in through unforgeable placeholders.


class _Encoder(json.JSONEncoder):
    def __init__(self, ensure_ascii: bool) -> None:
        super().__init__(ensure_ascii=ensure_ascii)
        self._token = os.urandom(8).hex()
        self._placeholder = re.compile(r'"\\u0000' + self._token + r':(\d+)\\u0000"')
        self._decimals: list[str] = []

    def default(self, o: object) -> object:
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            self._decimals.append(str(o))
            return f"\x00{self._token}:{len(self._decimals) - 1}\x00"
        return super().default(o)

    def encode(self, o: object) -> str:
        self._decimals.clear()
        text = super().encode(o)
        if self._decimals:
            decimals = self._decimals
            text = self._placeholder.sub(lambda m: decimals[int(m.group(1))], text)
        return text


def _ensure_ascii_for(execution_env: str) -> bool:
    match = re.fullmatch(r"AWS_Lambda_python(\d+)\.(\d+)", execution_env)
    return not (match and (int(match.group(1)), int(match.group(2))) >= (3, 12))


_ENCODER = _Encoder(_ensure_ascii_for(os.environ.get("AWS_EXECUTION_ENV", "")))


def to_json(obj: object) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def error_json(error: dict) -> bytes:
    try:
        return to_json(error)
    except ValueError:  # a lone surrogate in a message cannot be UTF-8: escape it instead of dying
        return json.dumps(error).encode("ascii")


def marshal_response(response: object) -> bytes:
    if isinstance(response, bytes):
        return response
    try:
        return to_json(response)
    except Exception as e:
        raise FaultException(FaultException.MARSHAL_ERROR, f"Unable to marshal response: {e}", None) from None


def unmarshal_request(body: bytes) -> object:
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(FaultException.UNMARSHAL_ERROR, f"Unable to unmarshal input: {e}", None) from None


# --- the context object ------------------------------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class LambdaContext:
    """Mirrors awslambdaric's LambdaContext: most fields come from the environment, as strings."""

    def __init__(self, invoke_id: str, epoch_deadline_time_in_ms: int, invoked_function_arn: str) -> None:
        env = os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None
        self.client_context = None
        self.identity = CognitoIdentity()
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self) -> int:
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg: object) -> None:
        _write_log(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity},tenant_id={self.tenant_id}])"
        )


# --- logging -------------------------------------------------------------------------------------------------

_current_request_id = ""


def _write_log(text: str) -> None:
    """Writes straight to the log fd, like awslambdaric's telemetry sink: immune to sys.stdout swaps."""
    data = text.encode("utf-8", "replace")
    try:
        while data:
            data = data[os.write(_LOG_FD, data) :]
    except OSError:
        pass


class _LambdaLoggerHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write_log(self.format(record))
        except Exception:
            self.handleError(record)


class _LambdaLoggerFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        record.tenant_id = None
        return True


def _setup_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = _LambdaLoggerHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_LambdaLoggerFilter())
    root = logging.getLogger()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


def _log_error(error: dict) -> None:
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack_trace = error.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            lines.extend(element.splitlines() if element else [""])
    _write_log("\n".join(lines) + "\n")


# --- errors --------------------------------------------------------------------------------------------------


def make_error(message: str | None, error_type: str | None, stack_trace: list[str] | None, invoke_id=None) -> dict:
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb) -> list[str]:
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if frame[0] != _THIS_FILE:
            frames = frames[i:]
            break
    return traceback.format_list(frames)


def _fault_result(exc: BaseException, invoke_id: str | None) -> dict:
    if isinstance(exc, FaultException):
        return make_error(exc.msg, exc.exception_type, exc.trace, invoke_id)
    return make_error(str(exc), type(exc).__name__, _user_frames(exc.__traceback__), invoke_id)


# --- init ----------------------------------------------------------------------------------------------------


def _get_handler(handler: str):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {e}") from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {modname} as a handler module",
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(FaultException.IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'", None
        ) from None


# --- the protocol ----------------------------------------------------------------------------------------------


def _read_exact(fd: int, n: int) -> bytes | None:
    """None on EOF: the parent is gone or done with us."""
    if n == 0:
        return b""
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Channel:
    def __init__(self, req_fd: int, resp_fd: int, marker: bytes) -> None:
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.marker = marker

    def send(self, status: int, payload: bytes) -> None:
        flags = 0
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:
                pass
        try:
            _write_all(_LOG_FD, self.marker)
            flags |= FLAG_MARKED
        except OSError:
            pass  # the handler closed our log fd (closerange...): the parent must not wait for the marker
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _write_all(self.resp_fd, RESPONSE_HEADER.pack(status, flags, min(rss_kb, 0xFFFFFFFF), len(payload)) + payload)

    def receive(self) -> tuple[str, bytes, int] | None:
        header = _read_exact(self.req_fd, REQUEST_HEADER.size)
        if header is None:
            return None
        id_len, event_len, deadline_ms = REQUEST_HEADER.unpack(header)
        body = _read_exact(self.req_fd, id_len + event_len)
        if body is None:
            return None
        return body[:id_len].decode("ascii"), body[id_len:], deadline_ms


def _watch_parent(req_fd: int) -> None:
    """Dies with the parent even while the handler is busy: POLLHUP on the request pipe means it is gone."""
    poller = select.poll()
    poller.register(req_fd, 0)
    while True:
        for _fd, event in poller.poll():
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                os._exit(0)


def _handle(channel: _Channel, handler, invoke_id: str, event_body: bytes, deadline_ms: int, arn: str) -> None:
    global _current_request_id
    _current_request_id = invoke_id
    try:
        context = LambdaContext(invoke_id, deadline_ms, arn)
        event = unmarshal_request(event_body)
        result = marshal_response(handler(event, context))
    except Exception as exc:
        error = _fault_result(exc, invoke_id)
        _log_error(error)
        channel.send(STATUS_ERROR, error_json(error))
    else:
        channel.send(STATUS_OK, result)


def main(argv: list[str]) -> int:
    global _LOG_FD
    req_fd, resp_fd = int(argv[1]), int(argv[2])
    for fd in (req_fd, resp_fd):
        os.set_inheritable(fd, False)  # the handler's own subprocesses must not hold our pipes open
    _LOG_FD = os.dup(1)  # non-inheritable; log records and phase markers go here, prints go to fd 1
    sys.argv = [_THIS_FILE]

    raw_len = _read_exact(req_fd, LENGTH.size)
    raw_config = _read_exact(req_fd, LENGTH.unpack(raw_len)[0]) if raw_len is not None else None
    if raw_config is None:
        return 0
    config = json.loads(raw_config)
    channel = _Channel(req_fd, resp_fd, b"\x00" + config["nonce"].encode("ascii") + b"\x00")
    arn = config["arn"]

    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if sys.path[:1] != [task_root]:
        sys.path.insert(0, task_root)

    threading.Thread(target=_watch_parent, args=(req_fd,), name="lambda-parent-watch", daemon=True).start()
    _setup_logging()

    try:
        handler = _get_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:
        error = _fault_result(exc, None)  # init errors carry an empty requestId, as in Lambda
        _log_error(error)
        channel.send(STATUS_INIT_ERROR, error_json(error))
        return 1
    channel.send(STATUS_OK, b"")

    while True:
        request = channel.receive()
        if request is None:
            return 0
        invoke_id, event_body, deadline_ms = request
        _handle(channel, handler, invoke_id, event_body, deadline_ms, arn)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
