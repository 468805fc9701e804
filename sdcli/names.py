"""The names and addresses sdcli is given, checked against what AWS accepts before any call is made.

A name AWS would refuse fails late and obscurely otherwise: a stage named ``a b`` is "created" again by every
deploy (API Gateway answers with another name), a function name of 64 characters leaves no room for its role's
``-role``, and bytes that are not UTF-8 crash the request's encoding. Checked here, each is a usage error (2).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# What AWS region names look like (us-east-1, ap-southeast-3, us-gov-west-1, cn-north-1, us-isob-east-1).
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ROLE_SUFFIX = "-role"  # the function's role is named after it, and IAM role names end at 64 characters

_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "table": (re.compile(r"[A-Za-z0-9_.-]{3,255}"), "3 to 255 letters, digits, '_', '-' or '.'"),
    "function": (
        re.compile(rf"[A-Za-z0-9_-]{{1,{64 - len(ROLE_SUFFIX)}}}"),
        f"1 to {64 - len(ROLE_SUFFIX)} letters, digits, '_' or '-' (its role adds '{ROLE_SUFFIX}')",
    ),
    "stage": (re.compile(r"[A-Za-z0-9_-]{1,128}"), "1 to 128 letters, digits, '_' or '-'"),
    "api": (re.compile(r"[^\x00-\x1f\x7f]{1,1024}"), "1 to 1,024 characters, none of them control characters"),
}


def problem(kind: str, value: str) -> str | None:
    """Why AWS would refuse ``value`` as this kind of option (region, endpoint, table, function, stage, api)."""
    if kind == "region":
        return region_problem(value)
    if kind == "endpoint":
        return endpoint_problem(value)
    return name_problem(kind, value)


def name_problem(kind: str, value: str) -> str | None:
    """Why AWS would refuse ``value`` as a name of this kind (table, function, stage, api), or None."""
    if _not_utf8(value):
        return "it holds bytes that are not UTF-8"
    pattern, rule = _RULES[kind]
    label = "an API" if kind == "api" else f"a {kind}"
    return None if pattern.fullmatch(value) else f"{label} name is {rule}"


def region_problem(region: str) -> str | None:
    return None if REGION_NAME.fullmatch(region) else "an AWS region name looks like us-east-1 or eu-central-2"


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint (http or https, a host, a port that exists), or None."""
    if _not_utf8(url) or not url.isprintable() or " " in url:
        return "an endpoint URL has no spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when it is out of range or not a number
    except ValueError:
        return "its port is not a number from 1 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an endpoint URL looks like http://127.0.0.1:4566 or https://host"
    if port == 0:
        return "its port is not a number from 1 to 65535"
    return None


def _not_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # surrogates: argv bytes that were not UTF-8
        return True
    return False
