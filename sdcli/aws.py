"""The one place sdcli talks to AWS: sessions, endpoints, retries, waiters and error translation.

Every boto3 call goes through :meth:`Aws.call`, which turns botocore's exceptions into :class:`AwsError` with a
line a user can act on, and records the operation name so a deploy can say how many mutating calls it made.
Domain modules (catalog, function, api, deploy) call the typed helpers below, never boto3 directly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from sdcli import __version__
from sdcli.config import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, Settings
from sdcli.errors import AwsError

READ_PREFIXES = ("get_", "describe_", "list_", "batch_get_", "scan", "query")

_HINTS = {
    "AccessDenied": "The credentials in use lack a permission sdcli needs; README lists them (Using real AWS).",
    "AccessDeniedException": "The credentials in use lack a permission sdcli needs; README lists them.",
    "UnrecognizedClientException": "The AWS credentials are not valid; check `aws sts get-caller-identity`.",
    "InvalidClientTokenId": "The AWS credentials are not valid; check `aws sts get-caller-identity`.",
    "ExpiredToken": "The session token has expired; refresh your credentials.",
    "ExpiredTokenException": "The session token has expired; refresh your credentials.",
    "ThrottlingException": "AWS kept throttling after retries; wait a moment and run the command again.",
    "TooManyRequestsException": "AWS kept throttling after retries; wait a moment and run the command again.",
    "ProvisionedThroughputExceededException": "The table's capacity was exceeded after retries; try again "
    "or use --billing-mode PAY_PER_REQUEST.",
}


def max_attempts() -> int:
    try:
        return max(1, int(os.environ.get("SDCLI_MAX_ATTEMPTS", "5")))
    except ValueError:
        return 5


class Aws:
    """Clients for one account, region and endpoint, created lazily and reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.resolved()
        self.region = self.settings.region
        self.endpoint_url = self.settings.endpoint_url
        self.calls: list[str] = []
        self._clients: dict[str, Any] = {}
        self._account_id: str | None = None
        credentials: dict[str, str] = {}
        if self.settings.local:
            credentials = {"aws_access_key_id": LOCAL_ACCESS_KEY, "aws_secret_access_key": LOCAL_SECRET_KEY}
        try:
            self._session = boto3.Session(
                profile_name=None if self.settings.local else self.settings.profile,
                region_name=self.region,
                **credentials,
            )
        except botocore.exceptions.ProfileNotFound as error:
            raise AwsError(str(error), hint="List profiles with `aws configure list-profiles`.") from None
        if self.settings.local and self.region not in self._session.get_available_regions("dynamodb"):
            raise AwsError(
                f"{self.region!r} is not an AWS region; the local stack emulates AWS regions only.",
                hint="Use an AWS region name such as us-east-1 (the default).",
            )
        self._config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": max_attempts()},
            connect_timeout=5,
            read_timeout=60,
            user_agent_extra=f"sdcli/{__version__}",
        )

    @property
    def mutating_calls(self) -> list[str]:
        return [name for name in self.calls if not name.split(".", 1)[1].startswith(READ_PREFIXES)]

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Run one API operation, translating every botocore failure into an AwsError."""
        self.calls.append(f"{service}.{operation}")
        method: Callable[..., dict[str, Any]] = getattr(self.client(service), operation)
        try:
            return method(**params)
        except botocore.exceptions.ClientError as error:
            raise self._client_error(service, operation, error) from None
        except botocore.exceptions.BotoCoreError as error:
            raise self._botocore_error(service, error) from None

    def paginate(self, service: str, operation: str, key: str, **params: Any) -> Iterator[Any]:
        self.calls.append(f"{service}.{operation}")
        paginator = self.client(service).get_paginator(operation)
        try:
            for page in paginator.paginate(**params):
                yield from page.get(key, [])
        except botocore.exceptions.ClientError as error:
            raise self._client_error(service, operation, error) from None
        except botocore.exceptions.BotoCoreError as error:
            raise self._botocore_error(service, error) from None

    def wait(self, service: str, waiter: str, what: str, delay: float = 1, attempts: int = 120, **params: Any) -> None:
        try:
            self.client(service).get_waiter(waiter).wait(
                WaiterConfig={"Delay": delay, "MaxAttempts": attempts}, **params
            )
        except botocore.exceptions.WaiterError as error:
            raise AwsError(
                f"Gave up waiting for {what}: {error.last_response.get('Error', {}).get('Message') or error}"
            ) from None
        except botocore.exceptions.BotoCoreError as error:
            raise self._botocore_error(service, error) from None

    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.call("sts", "get_caller_identity")["Account"]
        return self._account_id

    def retry_while(
        self,
        attempt: Callable[[], dict[str, Any]],
        retryable: Callable[[AwsError], bool],
        timeout: float = 60,
        delay: float = 1,
    ) -> dict[str, Any]:
        """Retry an eventually-consistent AWS answer (a new role not yet assumable, an update in progress)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return attempt()
            except AwsError as error:
                if not retryable(error) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 8)

    def _where(self, service: str) -> str:
        return self.endpoint_url or f"AWS {service} in {self.region}"

    def _client_error(self, service: str, operation: str, error: botocore.exceptions.ClientError) -> AwsError:
        info = error.response.get("Error", {})
        code = str(info.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "Error"))
        message = info.get("Message") or "no message"
        readable = operation.replace("_", " ")
        if message.lstrip()[:1] == "<":  # an HTML error page, not an AWS error: the endpoint itself failed
            where = "the local stack" if self.settings.local else self._where(service)
            return AwsError(
                f"{service} {readable} failed: {where} answered HTTP {code} with an error page, not an AWS error.",
                hint="Check --region and --endpoint-url; the local stack's log (sdcli local status) has details.",
                code=code,
            )
        return AwsError(f"{service} {readable} failed: {code}: {message}", hint=_HINTS.get(code), code=code)

    def _botocore_error(self, service: str, error: botocore.exceptions.BotoCoreError) -> AwsError:
        if isinstance(error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return AwsError(
                "No AWS credentials found.",
                hint="Configure them (`aws configure`, AWS_PROFILE, or environment variables), "
                "or use --local to target the local stack.",
                code="NoCredentials",
            )
        if isinstance(error, botocore.exceptions.NoRegionError):
            return AwsError("No AWS region set.", hint="Pass --region or set SDCLI_REGION.", code="NoRegion")
        if isinstance(
            error,
            botocore.exceptions.EndpointConnectionError
            | botocore.exceptions.ConnectionClosedError
            | botocore.exceptions.ConnectTimeoutError
            | botocore.exceptions.ReadTimeoutError,
        ):
            hint = (
                "Is the local stack running? Start it with `sdcli local start --detach`."
                if self.settings.local
                else "Check the endpoint and your network, then run the command again."
            )
            return AwsError(f"Cannot reach {self._where(service)}: {error}", hint=hint, code="EndpointUnreachable")
        return AwsError(f"{service} request failed: {error}", code=type(error).__name__)
