"""The one place sdcli talks to AWS: sessions, endpoints, retries, waiters and error translation.

Every boto3 call goes through :meth:`Aws.call`, which turns botocore's exceptions into :class:`AwsError` with a
line a user can act on, and records the operation name so a deploy can say how many mutating calls it made.
Domain modules (catalog, function, api, deploy) call the typed helpers below, never boto3 directly.

Retries: botocore's standard mode (``SDCLI_MAX_ATTEMPTS`` attempts in all) retries throttling, transient errors
and lost connections. That is right for every call but a create with no natural key: a retried ImportRestApi
whose first answer was lost makes a second API. :meth:`Aws.call_once` sends such a call one attempt at a time
and, after an attempt whose outcome is unknown, looks for what it may have created before sending it again.

With ``--debug`` each call is logged on ``sdcli.aws`` (operation, a summary of its parameters, HTTP status,
retries, duration); the CLI's handler redacts credentials (:mod:`sdcli.redact`), and so do error messages here.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session

from sdcli import __version__
from sdcli.config import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, Settings
from sdcli.errors import AwsError
from sdcli.redact import add_secrets, redact
from sdcli.startup import startup_done

log = logging.getLogger("sdcli.aws")

READ_PREFIXES = ("get_", "describe_", "list_", "batch_get_", "scan", "query")

_HINTS = {
    "AccessDenied": "The credentials in use lack a permission sdcli needs; README lists them (Using real AWS).",
    "AccessDeniedException": "The credentials in use lack a permission sdcli needs; README lists them.",
    "UnrecognizedClientException": "The AWS credentials are not valid; check `aws sts get-caller-identity`.",
    "InvalidClientTokenId": "The AWS credentials are not valid; check `aws sts get-caller-identity`.",
    "ExpiredToken": "The session token has expired; refresh your credentials.",
    "ExpiredTokenException": "The session token has expired; refresh your credentials.",
    **dict.fromkeys(
        ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"),
        "AWS kept throttling after retries; wait a moment and run the command again.",
    ),
    "ProvisionedThroughputExceededException": "The table's capacity was exceeded after retries; try again "
    "or use --billing-mode PAY_PER_REQUEST.",
}


# What standard mode treats as throttling; call_once retries these the same way.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)
# Failures after which the request certainly did not reach the service: safe to send again.
_UNSENT = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)


class _PlainJsonFiles(botocore.loaders.JSONFileLoader):
    """Models parsed into plain dicts, which keep key order as botocore's OrderedDicts do, at a third of the cost."""

    def load_file(self, file_path: str) -> Any:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            try:
                with opener(file_path + suffix, "rb") as stream:
                    return json.loads(stream.read())
            except FileNotFoundError:
                continue
        return None


class _ServiceModels(botocore.loaders.Loader):
    """botocore's model loader, one per process: every new session would parse the models again.

    Listing the services no longer stats every version folder of some 400 services (about 900 calls on each
    run) to learn which hold a model of the asked type: a service's folder is enough, since a missing model
    still fails when it is loaded.
    """

    @botocore.loaders.instance_cache
    def list_available_services(self, type_name: str) -> list[str]:
        names: set[str] = set()
        for path in self.search_paths:
            with contextlib.suppress(OSError):
                names.update(os.listdir(path))
        return sorted(names)


_loader: _ServiceModels | None = None


def _service_models(session: botocore.session.Session) -> _ServiceModels:
    """Commands run in one process (tests, scripts importing sdcli) then pay for the JSON once, not per command."""
    global _loader
    if _loader is None:
        data_path = session.get_config_variable("data_path")
        extra = [os.path.expanduser(path) for path in data_path.split(os.pathsep)] if data_path else None
        _loader = _ServiceModels(extra_search_paths=extra, file_loader=_PlainJsonFiles())
    return _loader


def max_attempts() -> int:
    """Attempts per call, the first included (SDCLI_MAX_ATTEMPTS, default 5)."""
    try:
        return max(1, int(os.environ.get("SDCLI_MAX_ATTEMPTS", "5")))
    except ValueError:
        return 5


class Aws:
    """Clients for one account, region and endpoint, created lazily and reused.

    ``sleep`` and ``clock`` are what sdcli's own retries wait with; tests replace them to run without waiting.
    """

    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.monotonic)

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
            core = botocore.session.get_session()
            profile = None if self.settings.local else self.settings.profile
            if profile:
                core.set_config_variable("profile", profile)
            core.get_scoped_config()  # an unknown profile fails here, before any client is made
            core.register_component("data_loader", _service_models(core))
            if credentials:
                core.set_credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
            self._session = core
        except botocore.exceptions.ProfileNotFound as error:
            raise AwsError(str(error), hint="List profiles with `aws configure list-profiles`.") from None
        self._config = botocore.config.Config(
            # total_max_attempts counts the first attempt; botocore's "max_attempts" counts only the retries.
            retries={"mode": "standard", "total_max_attempts": max_attempts()},
            connect_timeout=5,
            read_timeout=60,
            user_agent_extra=f"sdcli/{__version__}",
        )
        self._single_attempt = self._config.merge(
            botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})
        )

    @property
    def mutating_calls(self) -> list[str]:
        return [name for name in self.calls if not name.split(".", 1)[1].startswith(READ_PREFIXES)]

    def client(self, service: str, *, single_attempt: bool = False) -> Any:
        """The service's client; ``single_attempt`` gives the one without botocore retries (for call_once)."""
        key = f"{service}/once" if single_attempt else service
        if key not in self._clients:
            config = self._single_attempt if single_attempt else self._config
            self._clients[key] = self._session.create_client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
            self._remember_credentials()
            startup_done()
        return self._clients[key]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Run one API operation, translating every botocore failure into an AwsError."""
        self.calls.append(f"{service}.{operation}")
        method: Callable[..., dict[str, Any]] = getattr(self.client(service), operation)
        started = self.clock()
        try:
            response = method(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            raise self._failed(service, operation, params, started, error) from None
        self._log_call(service, operation, params, started, response)
        return response

    def _failed(
        self, service: str, operation: str, params: dict[str, Any], started: float, error: Exception
    ) -> AwsError:
        """Log the failed call and translate botocore's exception into the one-line AwsError users see."""
        if isinstance(error, botocore.exceptions.ClientError):
            translated = self._client_error(service, operation, error)
            self._log_call(service, operation, params, started, error.response, translated.code)
            return translated
        self._log_call(service, operation, params, started, None, type(error).__name__)
        return self._botocore_error(service, error)

    def call_once(
        self, service: str, operation: str, recover: Callable[[], dict[str, Any] | None], **params: Any
    ) -> dict[str, Any]:
        """A create that must not run twice: never resent blind after an attempt whose outcome is unknown.

        Throttling and requests that never left are retried with standard mode's backoff. After a lost
        connection, a read timeout or a 5xx, ``recover()`` looks for what the attempt may have made (it
        returns it in the operation's response shape, or None); only when it finds nothing is the call resent.
        """
        self.calls.append(f"{service}.{operation}")
        method: Callable[..., dict[str, Any]] = getattr(self.client(service, single_attempt=True), operation)
        attempts = max_attempts()
        for attempt in range(1, attempts + 1):
            started = self.clock()
            last = attempt == attempts
            try:
                response = method(**params)
            except botocore.exceptions.ClientError as error:
                translated = self._client_error(service, operation, error)
                self._log_call(service, operation, params, started, error.response, translated.code)
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
                throttled = translated.code in THROTTLING_CODES or status == 429
                if last or not (throttled or status >= 500):
                    raise translated from None
                if status >= 500 and (found := recover()) is not None:
                    return found
                self.sleep(_backoff(attempt, throttled))
                continue
            except botocore.exceptions.BotoCoreError as error:
                self._log_call(service, operation, params, started, None, type(error).__name__)
                retryable = isinstance(error, (*_UNSENT, botocore.exceptions.HTTPClientError))
                if last or not retryable:
                    raise self._botocore_error(service, error) from None
                if not isinstance(error, _UNSENT) and (found := recover()) is not None:
                    return found
                self.sleep(_backoff(attempt, throttled=False))
                continue
            self._log_call(service, operation, params, started, response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(self, service: str, operation: str, key: str, **params: Any) -> Iterator[Any]:
        self.calls.append(f"{service}.{operation}")
        paginator = self.client(service).get_paginator(operation)
        started, pages, items = self.clock(), 0, 0
        try:
            for page in paginator.paginate(**params):
                pages += 1
                found = page.get(key, [])
                items += len(found)
                yield from found
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            raise self._failed(service, operation, params, started, error) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s.%s(%s) -> %d page(s), %d item(s) in %.0f ms",
                service,
                operation,
                _summary(params),
                pages,
                items,
                (self.clock() - started) * 1000,
            )

    def wait(self, service: str, waiter: str, what: str, delay: float = 1, attempts: int = 120, **params: Any) -> None:
        started = self.clock()
        try:
            self.client(service).get_waiter(waiter).wait(
                WaiterConfig={"Delay": delay, "MaxAttempts": attempts}, **params
            )
        except botocore.exceptions.WaiterError as error:
            message = error.last_response.get("Error", {}).get("Message") or str(error)
            log.debug("waiting for %s (%s.%s) failed: %s", what, service, waiter, message)
            raise AwsError(f"Gave up waiting for {what}: {redact(message)}") from None
        except botocore.exceptions.BotoCoreError as error:
            log.debug("waiting for %s (%s.%s) failed: %s", what, service, waiter, type(error).__name__)
            raise self._botocore_error(service, error) from None
        log.debug("waited for %s (%s.%s) %.0f ms", what, service, waiter, (self.clock() - started) * 1000)

    def learn_account_id(self, arn: str) -> None:
        """Take the account from an ARN already in hand (arn:partition:service:region:ACCOUNT:...)."""
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            self._account_id = parts[4]

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
        deadline = self.clock() + timeout
        while True:
            try:
                return attempt()
            except AwsError as error:
                if not retryable(error) or self.clock() + delay > deadline:
                    raise
                log.debug("retrying in %.1f s: %s", delay, error.message)
            self.sleep(delay)
            delay = min(delay * 2, 8)

    def _remember_credentials(self) -> None:
        """The credentials in use join the redaction list, so no output or log can show them."""
        try:
            credentials = self._session.get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials else None
        except botocore.exceptions.BotoCoreError:
            return
        if frozen is not None:
            add_secrets((frozen.access_key, frozen.secret_key, frozen.token))

    def _log_call(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        started: float,
        response: dict[str, Any] | None,
        error_code: str | None = None,
    ) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        metadata = (response or {}).get("ResponseMetadata", {})
        status = metadata.get("HTTPStatusCode", "-")
        outcome = f"{status} {error_code}" if error_code else str(status)
        retries = metadata.get("RetryAttempts") or 0
        log.debug(
            "%s.%s(%s) -> %s in %.0f ms%s",
            service,
            operation,
            _summary(params),
            outcome,
            (self.clock() - started) * 1000,
            f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else "",
        )

    def _where(self, service: str) -> str:
        return self.endpoint_url or f"AWS {service} in {self.region}"

    def _client_error(self, service: str, operation: str, error: botocore.exceptions.ClientError) -> AwsError:
        info = error.response.get("Error", {})
        code = str(info.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "Error"))
        # Some echo the signed request, token and all, over many lines: redacted, and kept to the one Error line.
        message = " ".join(redact(str(info.get("Message") or "no message")).split())
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
            return AwsError(
                redact(f"Cannot reach {self._where(service)}: {error}"), hint=hint, code="EndpointUnreachable"
            )
        return AwsError(redact(f"{service} request failed: {error}"), code=type(error).__name__)


def _backoff(attempt: int, throttled: bool) -> float:
    """Standard mode's delay before attempt ``attempt + 1``: jittered, doubling, 1 s base when throttled."""
    base = 1.0 if throttled else 0.05
    return random.random() * min(base * 2 ** (attempt - 1), 20.0)


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=lambda o: f"<{len(o)} bytes>" if isinstance(o, bytes) else str(o))
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _summary(params: dict[str, Any]) -> str:
    """Parameters as a short line for --debug: bytes by size, long values cut, environment values hidden."""
    parts = []
    for key, value in params.items():
        if key == "Environment" and isinstance(value, dict):
            names = sorted((value.get("Variables") or {}).keys())
            parts.append(f"Environment=<variables {', '.join(names)}>")
        elif key == "Code" and isinstance(value, dict):
            parts.append(f"Code={{{', '.join(f'{k}={_short(v)}' for k, v in value.items())}}}")
        else:
            parts.append(f"{key}={_short(value)}")
    return ", ".join(parts)
