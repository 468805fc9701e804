"""Our API Gateway data plane: serve ``/restapis/{id}/{stage}/_user_request_/{path}`` as API Gateway would.

Everything comes from what was deployed, read from the control plane (moto) through its public API: the
stage's deployment, that deployment's resources/methods/integrations (snapshotted when the deployment is
created, as API Gateway freezes them), the function's configuration and resource policy. Requests then go
through route matching, the Velocity request template, the function (run by :class:`LambdaRuntime`),
selection-pattern matching on ``errorMessage``, and the response template.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from sdcli.local.runtime import FunctionSpec, LambdaRuntime
from sdcli.local.selection import select_integration_response
from sdcli.local.velocity import TemplateError, TemplateRequest, render

log = logging.getLogger("sdcli.local.dataplane")

LAMBDA_URI = re.compile(r"^arn:[^:]+:apigateway:([^:]+):lambda:path/2015-03-31/functions/(arn:[^/]+)/invocations$")
DEFAULT_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str  # still percent-encoded, after /_user_request_
    query_string: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    source_ip: str = "127.0.0.1"


def _json_response(status: int, payload: Any, request_id: str) -> HttpResponse:
    return HttpResponse(
        status,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
    )


def missing_token(request_id: str) -> HttpResponse:
    return _json_response(403, {"message": "Missing Authentication Token"}, request_id)


def internal_error(request_id: str) -> HttpResponse:
    return _json_response(500, {"message": "Internal server error"}, request_id)


@dataclass(frozen=True)
class Route:
    resource_id: str
    path: str  # e.g. /catalog/{serviceName}/{serviceVersion}
    methods: Mapping[str, Mapping[str, Any]]  # HTTP method -> method (with methodIntegration)

    @property
    def parts(self) -> list[str]:
        return [part for part in self.path.split("/") if part]


@dataclass(frozen=True)
class Deployment:
    api_id: str
    deployment_id: str
    routes: tuple[Route, ...]


def decode_segment(segment: str) -> str:
    """A path segment's percent-decoding; bytes that are not UTF-8 stay undecodable (lone surrogates).

    Decoding with U+FFFD replacement would turn ``%FF`` and ``%ED%A0%80`` into the *valid* key ``\ufffd...``, so
    a request for a key that cannot exist would be answered with the record stored under the replacement
    characters. Kept as lone surrogates, the value reaches the function as text that is not valid Unicode, and
    the function rejects it (400 Invalid Request) like any other impossible key.
    """
    return unquote(segment, errors="surrogateescape")


def _match(route: Route, segments: list[str]) -> tuple[int, dict[str, str]] | None:
    """How specific the match is (literals beat parameters beat greedy), and the path parameters."""
    parts = route.parts
    params: dict[str, str] = {}
    score = 0
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(decode_segment(segment) for segment in rest)
            return (score, params)
        if index >= len(segments):
            return None
        segment = decode_segment(segments[index])
        if part.startswith("{") and part.endswith("}"):
            if not segment:
                return None
            params[part[1:-1]] = segment
            score += 1
        elif part == segment:
            score += 2
        else:
            return None
    if len(segments) != len(parts):
        return None
    return (score, params)


def find_route(routes: tuple[Route, ...], raw_path: str) -> tuple[Route, dict[str, str]] | None:
    segments = raw_path.split("/")[1:] if raw_path.startswith("/") else raw_path.split("/")
    if segments == [""]:
        segments = []
    best: tuple[int, Route, dict[str, str]] | None = None
    for route in routes:
        matched = _match(route, segments)
        if matched and (best is None or matched[0] > best[0]):
            best = (matched[0], route, matched[1])
    return (best[1], best[2]) if best else None


def _arn_like(pattern: str, arn: str) -> bool:
    return re.fullmatch(".*".join(re.escape(piece) for piece in pattern.split("*")), arn) is not None


class ControlPlaneView:
    """What the data plane needs from the control plane, cached until the edge sees a control-plane write."""

    def __init__(self, client_factory: Callable[[str], Any], code_store: Mapping[str, bytes]) -> None:
        self._clients = client_factory
        self._code = code_store
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[str, str], Deployment] = {}
        self._cache: dict[Any, Any] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: Any, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = load()
        with self._lock:
            self._cache[key] = value
        return value

    def snapshot(self, api_id: str, deployment_id: str) -> Deployment:
        """Freeze the API's current definition as this deployment's, as API Gateway does on CreateDeployment."""
        items = list(self._paginate("apigateway", "get_resources", "items", restApiId=api_id, embed=["methods"]))
        routes = tuple(
            Route(
                item["id"],
                item["path"],
                {m.upper(): spec for m, spec in (item.get("resourceMethods") or {}).items()},
            )
            for item in items
        )
        deployment = Deployment(api_id, deployment_id, routes)
        with self._lock:
            self._snapshots[(api_id, deployment_id)] = deployment
        return deployment

    def deployment(self, api_id: str, stage: str) -> Deployment | None:
        def load() -> Deployment | None:
            client = self._clients("apigateway")
            try:
                deployment_id = client.get_stage(restApiId=api_id, stageName=stage).get("deploymentId")
            except client.exceptions.NotFoundException:
                return None
            if not deployment_id:
                return None
            with self._lock:
                known = self._snapshots.get((api_id, deployment_id))
            return known or self.snapshot(api_id, deployment_id)

        return self._cached(("stage", api_id, stage), load)

    def function(self, function_arn: str) -> FunctionSpec | None:
        def load() -> FunctionSpec | None:
            client = self._clients("lambda")
            try:
                config = client.get_function_configuration(FunctionName=function_arn)
            except client.exceptions.ResourceNotFoundException:
                return None
            code = self._code.get(config["CodeSha256"])
            if code is None:
                log.error(
                    "The code of %s (CodeSha256 %s) was not uploaded through this local stack",
                    function_arn,
                    config["CodeSha256"],
                )
                return None
            return FunctionSpec(
                name=config["FunctionName"],
                arn=config["FunctionArn"].removesuffix(":$LATEST"),
                code_sha256=config["CodeSha256"],
                code_zip=code,
                handler=config["Handler"],
                runtime=config.get("Runtime", "python3.12"),
                timeout=float(config.get("Timeout") or 3),
                memory_mb=int(config.get("MemorySize") or 128),
                environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            )

        return self._cached(("function", function_arn), load)

    def may_invoke(self, function_arn: str, source_arn: str) -> bool:
        """API Gateway may invoke only with a resource-policy grant whose SourceArn covers this method."""

        def load() -> list[dict[str, Any]]:
            client = self._clients("lambda")
            try:
                return json.loads(client.get_policy(FunctionName=function_arn)["Policy"]).get("Statement", [])
            except client.exceptions.ResourceNotFoundException:
                return []

        for statement in self._cached(("policy", function_arn), load):
            principal = statement.get("Principal", {})
            service = principal.get("Service") if isinstance(principal, dict) else principal
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            if statement.get("Effect") != "Allow" or service != "apigateway.amazonaws.com":
                continue
            if not {"lambda:InvokeFunction", "lambda:*", "*"} & set(actions):
                continue
            condition = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
            if condition is None or _arn_like(condition, source_arn):
                return True
        return False

    def _paginate(self, service: str, operation: str, key: str, **params: Any) -> Any:
        for page in self._clients(service).get_paginator(operation).paginate(**params):
            yield from page.get(key, [])


class DataPlane:
    """Turns one HTTP request into API Gateway's answer for a deployed REST API stage."""

    def __init__(self, view: ControlPlaneView, runtime: LambdaRuntime, account_id: str, region: str) -> None:
        self.view = view
        self.runtime = runtime
        self.account_id = account_id
        self.region = region

    def handle(self, api_id: str, stage: str, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            response = self._handle(api_id, stage, request, request_id)
        except Exception:  # never a stack trace to the client, as API Gateway
            log.exception("request %s %s %s failed", request_id, request.method, request.raw_path)
            response = internal_error(request_id)
        log.info(
            "%s %s /restapis/%s/%s%s -> %d (%.1f ms)",
            request_id,
            request.method,
            api_id,
            stage,
            request.raw_path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _handle(self, api_id: str, stage: str, request: HttpRequest, request_id: str) -> HttpResponse:
        deployment = self.view.deployment(api_id, stage)
        if deployment is None:
            return _json_response(403, {"message": "Forbidden"}, request_id)
        found = find_route(deployment.routes, request.raw_path or "/")
        if found is None:
            return missing_token(request_id)
        route, path_params = found
        method = route.methods.get(request.method) or route.methods.get("ANY")
        if method is None:
            return missing_token(request_id)
        integration = method.get("methodIntegration") or {}
        kind = str(integration.get("type", "")).upper()
        if kind == "MOCK":
            return self._mock(integration, request, path_params, route, stage, api_id, request_id)
        if kind != "AWS":
            log.error("integration type %s is not supported by the local data plane", kind)
            return internal_error(request_id)
        match = LAMBDA_URI.match(str(integration.get("uri", "")))
        if not match:
            log.error("integration uri %s is not a Lambda function", integration.get("uri"))
            return internal_error(request_id)
        function_arn = match.group(2)
        context = self._context(api_id, stage, route, request, request_id)
        template_request = self._template_request(request, path_params, context)

        template = self._request_template(integration, request)
        if template is _UNSUPPORTED:
            return _json_response(415, {"message": "Unsupported Media Type"}, request_id)
        if template is None:
            payload_text = request.body.decode("utf-8", "replace")
        else:
            try:
                payload_text = render(template, template_request)
            except TemplateError:
                log.exception("request template failed to render")
                return internal_error(request_id)
        try:
            event = json.loads(payload_text) if payload_text.strip() else {}
        except ValueError:
            log.error("request template produced invalid JSON for Lambda: %r", payload_text[:500])
            return internal_error(request_id)

        source_arn = (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}/{stage}/{request.method}{route.path}"
        )
        function = self.view.function(function_arn)
        if function is None:
            log.error("integration function %s does not exist", function_arn)
            return internal_error(request_id)
        if not self.view.may_invoke(function_arn, source_arn):
            log.error(
                "Execution failed due to configuration error: Invalid permissions on Lambda function (no grant for %s)",
                source_arn,
            )
            return internal_error(request_id)

        result = self.runtime.invoke(function, event)
        selector = ""
        if result.function_error:
            try:
                selector = str(json.loads(result.payload).get("errorMessage") or "")
            except (ValueError, AttributeError):
                selector = "Unhandled"
            selector = selector or result.function_error
        chosen = select_integration_response(integration.get("integrationResponses") or {}, selector)
        if chosen is None:
            log.error("no integration response matched %r and there is no default", selector[:200])
            return internal_error(request_id)
        return self._integration_response(chosen, result.payload, request, path_params, context, request_id)

    def _integration_response(
        self,
        chosen: Mapping[str, Any],
        payload: bytes,
        request: HttpRequest,
        path_params: dict[str, str],
        context: dict[str, Any],
        request_id: str,
    ) -> HttpResponse:
        status = int(chosen.get("statusCode", 200))
        templates = chosen.get("responseTemplates") or {}
        content_type = DEFAULT_CONTENT_TYPE
        accept = request.headers.get("accept", "")
        for candidate in templates:
            if candidate in accept:
                content_type = candidate
                break
        template = templates.get(content_type) if templates else None
        body = payload
        if template:
            response_request = TemplateRequest(
                body=payload.decode("utf-8", "replace"),
                path_params=path_params,
                query_params=dict(parse_qsl(request.query_string)),
                headers=request.headers,
                context=context,
            )
            try:
                body = render(template, response_request).encode("utf-8")
            except TemplateError:
                log.exception("response template failed to render")
                return internal_error(request_id)
        headers = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
        for name, value in (chosen.get("responseParameters") or {}).items():
            if name.startswith("method.response.header.") and value.startswith("'") and value.endswith("'"):
                headers[name.removeprefix("method.response.header.")] = value[1:-1]
        return HttpResponse(status, body, headers)

    def _mock(
        self,
        integration: Mapping[str, Any],
        request: HttpRequest,
        path_params: dict[str, str],
        route: Route,
        stage: str,
        api_id: str,
        request_id: str,
    ) -> HttpResponse:
        context = self._context(api_id, stage, route, request, request_id)
        chosen = select_integration_response(integration.get("integrationResponses") or {}, "200")
        if chosen is None:
            return internal_error(request_id)
        return self._integration_response(chosen, b"", request, path_params, context, request_id)

    @staticmethod
    def _request_template(integration: Mapping[str, Any], request: HttpRequest) -> Any:
        templates = integration.get("requestTemplates") or {}
        content_type = request.headers.get("content-type", DEFAULT_CONTENT_TYPE).split(";")[0].strip().lower()
        content_type = content_type or DEFAULT_CONTENT_TYPE
        if content_type in templates:
            return templates[content_type]
        behavior = str(integration.get("passthroughBehavior") or "WHEN_NO_MATCH").upper()
        if behavior == "WHEN_NO_MATCH" or (behavior == "WHEN_NO_TEMPLATES" and not templates):
            return None
        return _UNSUPPORTED

    def _context(self, api_id: str, stage: str, route: Route, request: HttpRequest, request_id: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "accountId": self.account_id,
            "apiId": api_id,
            "domainName": f"{api_id}.execute-api.{self.region}.amazonaws.com",
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {"sourceIp": request.source_ip, "userAgent": request.headers.get("user-agent", "")},
            "path": f"/{stage}{request.raw_path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": route.resource_id,
            "resourcePath": route.path,
            "stage": stage,
        }

    @staticmethod
    def _template_request(
        request: HttpRequest, path_params: dict[str, str], context: dict[str, Any]
    ) -> TemplateRequest:
        return TemplateRequest(
            body=request.body.decode("utf-8", "replace"),
            path_params=path_params,
            query_params=dict(parse_qsl(request.query_string, keep_blank_values=True)),
            headers=request.headers,
            context=context,
        )


_UNSUPPORTED = object()
