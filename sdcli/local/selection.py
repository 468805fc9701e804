"""Choosing the integration response for an integration's result, as API Gateway does.

For a Lambda non-proxy ("aws") integration the *selector* is the function's ``errorMessage`` (``""`` when the
function succeeded); for an HTTP integration it is the backend's status code as a string. Each integration
response's ``selectionPattern`` is a Java regular expression that must match the *whole* selector (Java
``String.matches``), with Java's rules - notably ``.`` does not match a line terminator, so ``.*Not Found.*``
does not match a multi-line error message. See :mod:`sdcli.local.javaregex` for the translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdcli.local.javaregex import java_regex

__all__ = ["select_integration_response"]


def _status_order(key: str) -> tuple[int, int, str]:
    """Numeric status codes first, in numeric order; anything else after them, alphabetically."""
    return (0, int(key), key) if key.isdigit() else (1, 0, key)


def select_integration_response(responses: Mapping[str, Mapping[str, Any]], selector: str) -> Mapping[str, Any] | None:
    """The integration response API Gateway would pick for ``selector``, or None (the data plane answers 500).

    ``responses`` is a method's ``integrationResponses`` map (status code -> response with ``statusCode``,
    optional ``selectionPattern``, ``responseTemplates``, ``responseParameters``). A response whose
    ``selectionPattern`` fully matches ``selector`` wins; a response without a pattern (or with an empty one) is
    the default, used when no pattern matches. With no match and no default the result is None.

    API Gateway does not document which response wins when several patterns match; this picks the one whose
    status-code key is lowest (numerically), and likewise the lowest-keyed default if there are several, so the
    choice is deterministic.

    Raises :class:`~sdcli.local.javaregex.JavaRegexError` (a ValueError) for a pattern that is not valid Java
    regex syntax or uses a construct with no faithful Python translation.
    """
    default: Mapping[str, Any] | None = None
    for key in sorted(responses, key=_status_order):
        response = responses[key]
        pattern = response.get("selectionPattern")
        if not pattern:
            if default is None:
                default = response
            continue
        if java_regex(pattern).fullmatch(selector) is not None:
            return response
    return default
