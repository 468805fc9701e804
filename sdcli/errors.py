"""Expected failures, each with the exit code the CLI documents (README, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # an AWS call or local operation failed (credentials, access denied, endpoint down, missing resource)
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_NOT_FOUND = 3  # lookup: the catalog has no such service
EXIT_API_ERROR = 4  # lookup: the API is unreachable, failing, or not sdcli's API
EXIT_INVALID_INPUT = 5  # a services file or spec that is not valid; nothing was written
EXIT_INTERRUPTED = 130


class SdcliError(Exception):
    """A failure the user can act on: one line of what failed, optionally one line of what to do."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class AwsError(SdcliError):
    """An AWS call failed; ``code`` is the service's error code (``AccessDenied``, ``ResourceNotFoundException``...)."""

    def __init__(self, message: str, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code


class NotDeployedError(SdcliError):
    """The command needs a resource that deploy has not created yet."""


class UsageError(SdcliError):
    """A bad option value that click's own types cannot check (e.g. a malformed --api-url)."""

    exit_code = EXIT_USAGE


class InvalidInputError(SdcliError):
    exit_code = EXIT_INVALID_INPUT

    def __init__(self, message: str, problems: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.problems = problems or []


class ServiceNotFoundError(SdcliError):
    exit_code = EXIT_NOT_FOUND


class ApiError(SdcliError):
    exit_code = EXIT_API_ERROR
