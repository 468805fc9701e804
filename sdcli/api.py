"""The lookup API: render the OpenAPI document, push it to API Gateway, deploy stages, build invoke URLs.

A rendered spec carries its own SHA-256 in ``info.description`` (``[sdcli-spec <16 hex>]``) and every stage
deployment sdcli makes carries it in its description, so a plan can tell from describe calls alone whether the
API definition or the stage is behind the spec on disk.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdcli.aws import Aws
from sdcli.errors import AwsError, InvalidInputError

FUNCTION_ARN_PLACEHOLDER = "$catalog_serviceARN$"
REGION_PLACEHOLDER = "{region}"
MARKER = re.compile(r"\[sdcli-spec ([0-9a-f]{16})\]")


@dataclass(frozen=True)
class RenderedSpec:
    document: dict[str, Any]
    digest: str  # 16 hex chars of the SHA-256 of the rendered document (before the marker is added)

    @property
    def body(self) -> bytes:
        return json.dumps(self.document, sort_keys=True, ensure_ascii=False).encode("utf-8")

    @property
    def description(self) -> str:
        return self.document["info"]["description"]


@dataclass(frozen=True)
class ApiState:
    name: str
    api_id: str | None  # None: no REST API of this name
    spec_digest: str | None = None


@dataclass(frozen=True)
class StageState:
    name: str
    exists: bool
    deployment_id: str | None = None
    spec_digest: str | None = None


SPEC_HINT = "Pass --spec with the OpenAPI 3.0 document of the API; the project's own is swagger/catalog_service.json."


def load_spec(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"Cannot read the API spec {path}: {error.strerror or error}", hint=SPEC_HINT) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"The API spec {path} is not valid JSON: {error}", hint=SPEC_HINT) from None
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise InvalidInputError(
            f"The API spec {path} must be an OpenAPI 3.x document (API Gateway imports 3.0).", hint=SPEC_HINT
        )
    if not isinstance(document.get("info"), dict) or not document["info"].get("title"):
        raise InvalidInputError(f"The API spec {path} needs info.title (it names the REST API).")
    return document


def _substitute(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, actual in replacements.items():
            value = value.replace(placeholder, actual)
        return value
    if isinstance(value, dict):
        return {key: _substitute(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, replacements) for item in value]
    return value


def render_spec(document: dict[str, Any], api_name: str, function_arn: str, region: str) -> RenderedSpec:
    """The spec as API Gateway should hold it: placeholders filled, titled with the API name, digest marked."""
    rendered = _substitute(
        copy.deepcopy(document), {FUNCTION_ARN_PLACEHOLDER: function_arn, REGION_PLACEHOLDER: region}
    )
    rendered["info"]["title"] = api_name
    base = MARKER.sub("", rendered["info"].get("description", "")).strip()
    rendered["info"]["description"] = base
    digest = hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()[:16]
    rendered["info"]["description"] = f"{base} [sdcli-spec {digest}]".strip()
    return RenderedSpec(document=rendered, digest=digest)


def _digest_of(description: str | None) -> str | None:
    match = MARKER.search(description or "")
    return match.group(1) if match else None


def find_api(aws: Aws, name: str) -> ApiState:
    matches = [api for api in aws.paginate("apigateway", "get_rest_apis", "items") if api.get("name") == name]
    if len(matches) > 1:
        # Two deploys racing on a new name each import one. Keep the oldest (createdDate counts whole seconds, so
        # two made in one second are in id order): the deploy that made it got there first.
        matches.sort(key=lambda api: (str(api.get("createdDate") or ""), api["id"]))
        ids = ", ".join(api["id"] for api in matches)
        target = f" --region {aws.region}" + (f" --endpoint-url {aws.endpoint_url}" if aws.endpoint_url else "")
        extra = "; ".join(f"`aws apigateway delete-rest-api --rest-api-id {api['id']}{target}`" for api in matches[1:])
        raise AwsError(
            f"{len(matches)} REST APIs are named {name!r} ({ids}, oldest first); sdcli cannot tell which is its own.",
            hint=f"Keep the oldest and delete the others ({extra}), or pick another name with --api.",
        )
    if not matches:
        return ApiState(name=name, api_id=None)
    return ApiState(name=name, api_id=matches[0]["id"], spec_digest=_digest_of(matches[0].get("description")))


def import_api(aws: Aws, spec: RenderedSpec) -> tuple[str, list[str]]:
    """Import the API exactly once; returns its id and API Gateway's import warnings.

    Warnings do not fail the import (as with the AWS CLI): API Gateway warns about OpenAPI fields it ignores,
    and the deploy shows them rather than refusing a working API.

    ImportRestApi has no idempotency token: resent after a lost answer it makes a second API of the same name,
    and every later deploy refuses to pick one. So it is never resent blind (``Aws.call_once``): after an attempt
    whose outcome is unknown, an API with this name and spec digest is the one that attempt made.
    """
    name = spec.document["info"]["title"]

    def made_by_the_lost_attempt() -> dict[str, Any] | None:
        found = find_api(aws, name)
        return {"id": found.api_id} if found.api_id and found.spec_digest == spec.digest else None

    response = aws.call_once(
        "apigateway", "import_rest_api", made_by_the_lost_attempt, body=spec.body, failOnWarnings=False
    )
    return response["id"], list(response.get("warnings") or [])


def overwrite_api(aws: Aws, api_id: str, spec: RenderedSpec) -> list[str]:
    """Replace the definition whole (merge mode would keep paths the spec no longer has); returns the warnings."""
    response = aws.call(
        "apigateway", "put_rest_api", restApiId=api_id, mode="overwrite", body=spec.body, failOnWarnings=False
    )
    current = aws.call("apigateway", "get_rest_api", restApiId=api_id)
    if current.get("description") != spec.description:
        aws.call(
            "apigateway",
            "update_rest_api",
            restApiId=api_id,
            patchOperations=[{"op": "replace", "path": "/description", "value": spec.description}],
        )
    return list(response.get("warnings") or [])


def delete_api(aws: Aws, api_id: str) -> None:
    aws.call("apigateway", "delete_rest_api", restApiId=api_id)


def describe_stage(aws: Aws, api_id: str, stage: str) -> StageState:
    try:
        info = aws.call("apigateway", "get_stage", restApiId=api_id, stageName=stage)
    except AwsError as error:
        if error.code == "NotFoundException":
            return StageState(name=stage, exists=False)
        raise
    deployment_id = info.get("deploymentId")
    digest = None
    if deployment_id:
        deployment = aws.call("apigateway", "get_deployment", restApiId=api_id, deploymentId=deployment_id)
        digest = _digest_of(deployment.get("description"))
    return StageState(name=stage, exists=True, deployment_id=deployment_id, spec_digest=digest)


def deploy_stage(aws: Aws, api_id: str, stage: str, digest: str | None) -> str:
    description = f"sdcli deployment [sdcli-spec {digest}]" if digest else "sdcli deployment"
    return aws.call("apigateway", "create_deployment", restApiId=api_id, stageName=stage, description=description)["id"]


def invoke_url(api_id: str, stage: str, region: str, endpoint_url: str | None) -> str:
    """Where clients call the API: execute-api on AWS, LocalStack's URL form on any custom endpoint."""
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_"
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
