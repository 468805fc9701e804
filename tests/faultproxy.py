"""A fault-injecting HTTP proxy in front of a local stack: the AWS boundary, failing on purpose.

sdcli talks to the proxy (``--endpoint-url``) and the proxy forwards to the stack. A rule decides, request by
request, what happens: pass it on, drop the connection before forwarding (the control plane is down), forward it
and then drop the connection (the change is applied but its answer is lost), or answer with an error in the
service's own wire format (throttling, a signature error). Faults are chosen by counting requests, never by
timing, and every request is recorded with what was done to it, so tests can count attempts exactly.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

READ_PREFIXES = ("Describe", "Get", "List", "BatchGet", "Scan", "Query")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/([^/,]+)/aws4_request")

# REST operations of the services sdcli uses, by method and path.
REST_OPERATIONS = [
    ("POST", r"/2015-03-31/functions/?", "CreateFunction"),
    ("GET", r"/2015-03-31/functions/[^/]+/?", "GetFunction"),
    ("DELETE", r"/2015-03-31/functions/[^/]+/?", "DeleteFunction"),
    ("GET", r"/2015-03-31/functions/[^/]+/configuration/?", "GetFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/[^/]+/configuration/?", "UpdateFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/[^/]+/code/?", "UpdateFunctionCode"),
    ("GET", r"/2015-03-31/functions/[^/]+/policy/?", "GetPolicy"),
    ("POST", r"/2015-03-31/functions/[^/]+/policy/?", "AddPermission"),
    ("DELETE", r"/2015-03-31/functions/[^/]+/policy/[^/]+/?", "RemovePermission"),
    ("GET", r"/restapis/?", "GetRestApis"),
    ("POST", r"/restapis/?", "ImportRestApi"),
    ("GET", r"/restapis/[^/]+/?", "GetRestApi"),
    ("PUT", r"/restapis/[^/]+/?", "PutRestApi"),
    ("PATCH", r"/restapis/[^/]+/?", "UpdateRestApi"),
    ("DELETE", r"/restapis/[^/]+/?", "DeleteRestApi"),
    ("GET", r"/restapis/[^/]+/resources/?", "GetResources"),
    ("POST", r"/restapis/[^/]+/deployments/?", "CreateDeployment"),
    ("GET", r"/restapis/[^/]+/deployments/[^/]+/?", "GetDeployment"),
    ("GET", r"/restapis/[^/]+/stages/[^/]+/?", "GetStage"),
]


@dataclass(frozen=True)
class Request:
    """One request as it reached the proxy, with the AWS operation it carries."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    service: str
    operation: str

    @property
    def mutating(self) -> bool:
        if self.service == "execute-api":
            return False
        return not self.operation.startswith(READ_PREFIXES)


class Fault(Enum):
    PASS = "pass"  # forward, answer
    DROP = "drop"  # close the connection without forwarding: the control plane is not there
    LOSE_RESPONSE = "lose-response"  # forward, then close the connection: applied, but the answer is lost


@dataclass(frozen=True)
class Respond:
    """Answer the request here, without forwarding it."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    name: str = "respond"


Verdict = Fault | Respond
Rule = Callable[[Request], Verdict]


def classify(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(service, operation) of a request, from its signature scope and its target, form action or route."""
    lower = {key.lower(): value for key, value in headers.items()}
    scope = CREDENTIAL_SCOPE.search(lower.get("authorization", ""))
    service = scope.group(1) if scope else "execute-api"
    target = lower.get("x-amz-target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if lower.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            return service, action
    route = urlsplit(path).path
    for verb, pattern, operation in REST_OPERATIONS:
        if verb == method and re.fullmatch(pattern, route):
            return service, operation
    return service, f"{method} {route}"


def error_response(request: Request, code: str, message: str) -> Respond:
    """An AWS error the way the request's service puts it on the wire, so botocore parses it as the real one."""
    request_id = str(uuid.uuid4())
    if request.service == "dynamodb":
        return Respond(
            400,
            json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode(),
            {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id},
            code,
        )
    if request.service in ("iam", "sts"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code><Message>{escape(message)}"
            f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Respond(400, body.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, code)
    status = 429 if code in ("TooManyRequestsException", "ThrottlingException") else 400
    return Respond(
        status,
        json.dumps({"message": message, "Type": "User"}).encode(),
        {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
        code,
    )


def pass_all(request: Request) -> Verdict:
    return Fault.PASS


class FaultProxy:
    """A threaded HTTP/1.1 proxy on 127.0.0.1 (ephemeral port) in front of ``upstream``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rule: Rule = pass_all
        self.log: list[tuple[Request, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def reset(self, rule: Rule = pass_all) -> None:
        with self._lock:
            self.rule = rule
            self.log = []

    def outcomes(self, operation: str | None = None) -> list[str]:
        """What was done to each request (of one operation), in order."""
        return [outcome for request, outcome in self.log if operation in (None, request.operation)]

    def mutating(self) -> list[str]:
        """The operations of the mutating requests that were forwarded to the stack."""
        return [
            f"{request.service}.{request.operation}"
            for request, outcome in self.log
            if request.mutating and outcome in (Fault.PASS.value, Fault.LOSE_RESPONSE.value)
        ]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = dict(handler.headers.items())
        service, operation = classify(handler.command, handler.path, headers, body)
        request = Request(handler.command, handler.path, headers, body, service, operation)
        with self._lock:
            verdict = self.rule(request)
            self.log.append((request, verdict.name if isinstance(verdict, Respond) else verdict.value))
        if verdict is Fault.DROP:
            handler.close_connection = True
            return
        if isinstance(verdict, Respond):
            self._write(handler, verdict.status, verdict.headers, verdict.body)
            return
        try:
            status, reply_headers, reply = self._forward(request)
        except OSError:  # the stack is gone: the client sees its connection closed
            handler.close_connection = True
            return
        if verdict is Fault.LOSE_RESPONSE:
            handler.close_connection = True
            return
        self._write(handler, status, reply_headers, reply)

    def _forward(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(request.method, request.path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            reply = response.read()
            reply_headers = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            return response.status, reply_headers, reply
        finally:
            connection.close()

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "server", "date"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


# --- rules -----------------------------------------------------------------------------------------------------


class Outage:
    """From the ``at``-th mutating request on, the control plane is unreachable until ``restore()``.

    With ``applied`` the ``at``-th request itself reaches the stack first: the change is made, its answer lost.
    """

    def __init__(self, at: int, applied: bool = False) -> None:
        self.at, self.applied = at, applied
        self.seen = 0
        self.down = False

    def restore(self) -> None:
        self.down = False
        self.at = 0

    def __call__(self, request: Request) -> Verdict:
        if self.down:
            return Fault.DROP
        if request.mutating and self.at:
            self.seen += 1
            if self.seen == self.at:
                self.down = True
                return Fault.LOSE_RESPONSE if self.applied else Fault.DROP
        return Fault.PASS


class LoseResponse:
    """The ``at``-th mutating request is applied but its answer lost; everything else passes (a blip)."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.seen = 0

    def __call__(self, request: Request) -> Verdict:
        if request.mutating:
            self.seen += 1
            if self.seen == self.at:
                return Fault.LOSE_RESPONSE
        return Fault.PASS


class Throttle:
    """Answer ``operation`` with ``code`` for its first ``times`` attempts (None: always)."""

    def __init__(self, operation: str, code: str, times: int | None, message: str = "Rate exceeded") -> None:
        self.operation, self.code, self.times, self.message = operation, code, times, message
        self.injected = 0

    def __call__(self, request: Request) -> Verdict:
        if request.operation == self.operation and (self.times is None or self.injected < self.times):
            self.injected += 1
            return error_response(request, self.code, self.message)
        return Fault.PASS
