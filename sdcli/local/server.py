"""The local stack's edge: one port on 127.0.0.1 serving moto's control plane and our data plane.

Requests to ``/restapis/{id}/{stage}/_user_request_/...`` (LocalStack's URL form) go to the data plane;
everything else goes to moto. The edge also watches control-plane writes as they pass: it keeps each uploaded
function zip by its SHA-256 (moto does not serve code back), snapshots an API when a deployment is created, and
drops the data plane's caches after any API Gateway or Lambda write.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.config
from werkzeug.serving import BaseWSGIServer, make_server

from sdcli.config import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from sdcli.local.dataplane import ControlPlaneView, DataPlane, HttpRequest, internal_error
from sdcli.local.runtime import LambdaRuntime

log = logging.getLogger("sdcli.local")

USER_REQUEST = re.compile(r"^/restapis/([^/]+)/([^/]+)/_user_request_(/.*)?$")
CREATE_FUNCTION = re.compile(r"^/20\d\d-\d\d-\d\d/functions/?$")
UPDATE_CODE = re.compile(r"^/20\d\d-\d\d-\d\d/functions/[^/]+/code/?$")
ADD_PERMISSION = re.compile(r"^/20\d\d-\d\d-\d\d/functions/([^/]+)/policy/?$")
CREATE_DEPLOYMENT = re.compile(r"^/restapis/([^/]+)/deployments/?$")
WATCHED_WRITES = re.compile(r"^/(restapis|20\d\d-\d\d-\d\d/functions|tags)")
HEALTH_PATH = "/_sdcli/health"
ACCOUNT_ID = "123456789012"  # moto's default account
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of the standard AWS partitions, what moto has backends for (loaded once per stack)."""
    session = boto3.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("dynamodb", partition_name=partition)
    ) | {"aws-global"}


def _moto_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


class CodeStore(dict):
    """Function zips keyed by Lambda's CodeSha256 (base64 SHA-256)."""

    def add(self, data: bytes) -> str:
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self[digest] = data
        return digest


class Edge:
    """The WSGI application behind the local stack's port."""

    def __init__(self, endpoint: str, region: str = "us-east-1") -> None:
        self.endpoint = endpoint
        self.control_plane = _moto_app()
        self.code = CodeStore()
        config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3})
        session = boto3.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY, region_name=region
        )
        clients: dict[str, Any] = {}
        lock = threading.Lock()

        def client(service: str) -> Any:
            with lock:
                if service not in clients:
                    clients[service] = session.client(service, endpoint_url=endpoint, config=config)
                return clients[service]

        self.client = client
        self.view = ControlPlaneView(client, self.code)
        self.runtime = LambdaRuntime(
            base_environment={
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
                "AWS_SESSION_TOKEN": "local",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
            }
        )
        self.data_plane = DataPlane(self.view, self.runtime, ACCOUNT_ID, region)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        raw_path = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        raw_path = raw_path.split("?", 1)[0]
        if raw_path == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"status": "running", "endpoint": self.endpoint}).encode()]
        user_request = USER_REQUEST.match(raw_path)
        if user_request:
            return self._serve_user_request(user_request, environ, start_response)
        return self._serve_control_plane(raw_path, environ, start_response)

    def _serve_user_request(
        self, match: re.Match, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        api_id, stage, rest = match.group(1), match.group(2), match.group(3) or "/"
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = HttpRequest(
            method=environ["REQUEST_METHOD"].upper(),
            raw_path=rest,
            query_string=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        )
        try:
            response = self.data_plane.handle(api_id, stage, request)
        except Exception:
            log.exception("data plane failed")
            response = internal_error("unknown")
        reason = STATUS_TEXT.get(response.status, "Unknown")
        start_response(
            f"{response.status} {reason}",
            [*response.headers.items(), ("Content-Length", str(len(response.body)))],
        )
        return [response.body]

    def _serve_control_plane(self, raw_path: str, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        unknown_region = self._unknown_region(environ)
        if unknown_region is not None:
            return unknown_region(start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        watched = method != "GET" and WATCHED_WRITES.match(raw_path) is not None
        if watched:
            self._capture_code(raw_path, method, environ)
            conflict = self._duplicate_statement(raw_path, method, environ)
            if conflict is not None:
                start_response(
                    "409 Conflict",
                    [
                        ("Content-Type", "application/json"),
                        ("x-amzn-ErrorType", "ResourceConflictException"),
                        ("Content-Length", str(len(conflict))),
                    ],
                )
                return [conflict]
        captured: dict[str, Any] = {}

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        result = self.control_plane(environ, recording_start_response)
        if not watched:
            return result
        body = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        self.view.invalidate()
        deployment = CREATE_DEPLOYMENT.match(raw_path)
        if deployment and method == "POST" and captured.get("status", 500) < 300:
            try:
                self.view.snapshot(deployment.group(1), json.loads(body)["id"])
            except Exception:
                log.exception("could not snapshot deployment of %s", deployment.group(1))
        return [body]

    def _unknown_region(self, environ: dict[str, Any]) -> Callable[[Callable], Iterable[bytes]] | None:
        """An AWS error for a request signed for a region moto does not know (moto answers those with a 500
        and a traceback); the error is in the service's own wire format, so the client reports it as such."""
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None or scope.group(1) in known_regions():
            return None
        region, service = scope.groups()
        message = f"{region!r} is not an AWS region; the local stack emulates AWS regions only."
        if service in ("iam", "sts"):  # query protocol: an XML ErrorResponse
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidRegion</Code><Message>{message}</Message>"
                "</Error><RequestId>local</RequestId></ErrorResponse>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        else:  # JSON and REST-JSON protocols
            body = json.dumps({"__type": "InvalidRegion", "message": message}).encode()
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidRegion")]

        def respond(start_response: Callable) -> Iterable[bytes]:
            start_response("400 Bad Request", [*headers, ("Content-Length", str(len(body)))])
            return [body]

        return respond

    def _capture_code(self, raw_path: str, method: str, environ: dict[str, Any]) -> None:
        creating = method == "POST" and CREATE_FUNCTION.match(raw_path)
        updating = method == "PUT" and UPDATE_CODE.match(raw_path)
        if not (creating or updating):
            return
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            document = json.loads(body)
            encoded = document["Code"].get("ZipFile") if creating else document.get("ZipFile")
            if encoded:
                self.code.add(base64.b64decode(encoded))
        except (ValueError, KeyError, AttributeError, TypeError):
            log.warning("could not read the function code from %s %s", method, raw_path)

    def _duplicate_statement(self, raw_path: str, method: str, environ: dict[str, Any]) -> bytes | None:
        """AddPermission with a StatementId the policy already has: Lambda refuses it (409), moto would add a twin."""
        match = ADD_PERMISSION.match(raw_path) if method == "POST" else None
        if match is None:
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            statement_id = json.loads(body)["StatementId"]
            lambda_ = self.client("lambda")
            policy = json.loads(lambda_.get_policy(FunctionName=unquote(match.group(1)))["Policy"])
        except Exception:  # no policy yet, or a request moto will answer with its own error
            return None
        if not any(statement.get("Sid") == statement_id for statement in policy.get("Statement", [])):
            return None
        message = (
            f"The statement id ({statement_id}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement."
        )
        return json.dumps({"Type": "User", "message": message}).encode()

    def close(self) -> None:
        self.runtime.close()


class LocalStack:
    """The edge served by a threaded werkzeug server on 127.0.0.1."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        self._server: BaseWSGIServer = make_server(
            host, port, _Deferred(), threaded=True, request_handler=MotoRequestHandler
        )
        self.host, self.port = self._server.server_address[:2]
        self.endpoint = f"http://{self.host}:{self.port}"
        self.edge = Edge(self.endpoint)
        self._server.app = self.edge
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> LocalStack:
        self._thread = threading.Thread(target=self.serve_forever, name="sdcli-local-stack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self.edge.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()


class _Deferred:
    """A placeholder app until the edge, which needs the bound port, exists."""

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"starting"]
