"""API Gateway mapping templates (Velocity), rendered locally with airspeed.

API Gateway renders request and response mapping templates with Apache Velocity 1.7 running on Java objects.
airspeed is a Python Velocity engine, but on plain Python values it differs from API Gateway in ways that
change what a template produces, so this module runs airspeed with these API Gateway/Velocity rules:

* **Java strings.** Every string a template can reach (``$input``, ``$util``, ``$context``,
  ``$stageVariables``, string literals, and what their methods return) is a :class:`JavaString` answering
  ``java.lang.String`` methods with Java semantics (``replaceAll`` takes a Java regex and ``$1`` replacements,
  ``split`` drops trailing empty strings, ``length()`` counts UTF-16 units, ...). airspeed on a plain ``str``
  would render an unknown method call as its literal source text.
* **Velocity string literals.** Velocity does not unescape backslashes inside ``"..."`` or ``'...'`` (a
  backslash only stops a quote from ending the literal, and a doubled quote stands for one quote), airspeed
  does. So in the canonical idiom ``$util.escapeJavaScript($x).replaceAll("\\\\'","'")`` the regex that
  reaches ``replaceAll`` is ``\\\\'`` (a backslash, then a quote), which turns escapeJavaScript's ``\\'``
  (invalid in JSON) back into ``'`` - exactly as on AWS.
* **Null renders as nothing.** A reference that resolves to null renders as the empty string (API Gateway
  renders ``$input.path('$').missing`` as ``""``), not as its source text as stock Velocity/airspeed do.
* **Velocity 1.7 semantics**: ``#if`` is false only for null and ``false`` (an empty string is true);
  ``#set($x = <null>)`` leaves ``$x`` unchanged; a ``#set`` of a new variable inside ``#foreach`` is visible
  after the loop; ``#foreach`` over a map iterates its values; ``==`` between different types compares
  their string forms; ``+`` with a string operand concatenates; ``/`` and ``%`` on integers truncate like Java;
  ``true``/``false`` render lower-case; ``$obj.name`` on a map is ``get("name")``, on other objects a
  ``getName()``/``isName()`` getter; ``$obj.method(...)`` always calls a method (a JSON key named ``get``
  cannot shadow ``$map.get('x')``); an unknown method resolves to null.
* **Java rendering of objects**: JSON objects (``$input.path``, ``$util.parseJson``) and other maps render as
  ``{a=1, b=x}`` (``java.util.LinkedHashMap``), JSON arrays as compact JSON (json-smart's ``JSONArray``),
  other lists as ``[a, b]``, doubles as Java's ``Double.toString`` (``1.0E10``).

The compiled template (parse tree) is cached by template text and is never mutated while rendering, and each
render builds its own namespace, so :func:`render` is safe to call from many threads at once.

airspeed is loaded as a private copy of its module (``sdcli.local._vtl_airspeed``) and only that copy is
patched, so other users of ``import airspeed`` in the same process see the stock library.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib.util
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

from sdcli.local.javaregex import java_matches, java_replace, java_split

__all__ = [
    "BodyNotJsonError",
    "JavaList",
    "JavaMap",
    "JavaString",
    "JsonList",
    "TemplateError",
    "TemplateRequest",
    "escape_javascript",
    "java_str",
    "render",
]


class TemplateError(Exception):
    """A mapping template that does not parse or fails to render (API Gateway answers 500 for it)."""


class BodyNotJsonError(TemplateError):
    """``$input.path``/``$input.json`` on a body that is not JSON.

    For a *request* template API Gateway answers 400 ``{"message": "Could not parse request body into json:
    ..."}`` rather than 500; the data plane can tell the two apart by this subclass.
    """


@dataclass(frozen=True)
class TemplateRequest:
    """Everything a mapping template can see of one request (or, for a response template, of its result)."""

    body: str  # raw request body (for a response template: the integration's output, e.g. Lambda's JSON result)
    path_params: Mapping[str, str]  # already percent-decoded
    query_params: Mapping[str, str]
    headers: Mapping[str, str]  # header lookups case-insensitive, as API Gateway does
    # $context: requestId, extendedRequestId, stage, resourcePath, httpMethod, apiId, accountId, path, protocol,
    # requestTime, requestTimeEpoch, domainName, identity {sourceIp, userAgent, ...}
    context: Mapping[str, Any]
    stage_variables: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Java values
# ---------------------------------------------------------------------------------------------------------

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))  # String.trim() strips every char <= U+0020


def _utf16(text: str) -> str:
    """``text`` as UTF-16 code units (non-BMP characters become surrogate pairs), for Java string indices."""
    if not _ASTRAL.search(text):
        return text
    return "".join(
        ch
        if ord(ch) < 0x10000
        else chr(0xD800 + ((ord(ch) - 0x10000) >> 10)) + chr(0xDC00 + ((ord(ch) - 0x10000) & 0x3FF))
        for ch in text
    )


def _from_utf16(units: str) -> str:
    """Join surrogate pairs back into characters (a lone surrogate stays, as in a Java string)."""
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _java_double(value: float) -> str:
    """Java's ``Double.toString``: plain notation in [1e-3, 1e7), else ``d.dddE±n``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        return repr(value)
    digits_tuple = Decimal(repr(magnitude)).as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    exponent = int(digits_tuple.exponent) + len(digits) - 1
    digits = digits.rstrip("0") or "0"
    return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def java_str(value: Any) -> str:
    """``String.valueOf(value)`` as Java would print the value the template holds."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, (JavaMap, JavaList)):
        return value.toString()
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Mapping):
        return JavaMap(value).toString()
    if isinstance(value, (list, tuple)):
        return JavaList(value).toString()
    return str(value)


def _as_text(value: Any) -> str:
    """A method argument that Java declares as ``String``/``CharSequence`` (null is an error, as in Java)."""
    if value is None:
        raise TypeError("null argument where a String is required (NullPointerException)")
    return java_str(value)


class JavaString(str):
    """A ``str`` that answers ``java.lang.String`` methods the way Velocity templates call them on AWS.

    Indices and lengths are in UTF-16 code units, as in Java. Methods returning strings return JavaString.
    ``replace`` and ``split`` have Java semantics (``split`` takes a regex); the rest of ``str`` is untouched.
    """

    __slots__ = ()

    def length(self) -> int:
        return len(_utf16(self))

    def isEmpty(self) -> bool:
        return len(self) == 0

    def charAt(self, index: int) -> JavaString:
        units = _utf16(self)
        if not 0 <= index < len(units):
            raise IndexError(f"String index out of range: {index}")
        return JavaString(units[index])

    def substring(self, begin: int, end: int | None = None) -> JavaString:
        units = _utf16(self)
        stop = len(units) if end is None else end
        if begin < 0 or stop > len(units) or begin > stop:
            raise IndexError(f"begin {begin}, end {stop}, length {len(units)}")
        return JavaString(_from_utf16(units[begin:stop]))

    def indexOf(self, target: Any, from_index: int = 0) -> int:
        units = _utf16(self)
        needle = _utf16(chr(target) if isinstance(target, int) else _as_text(target))
        start = max(from_index, 0)
        if start >= len(units):
            return len(units) if not needle else -1
        return units.find(needle, start)

    def lastIndexOf(self, target: Any, from_index: int | None = None) -> int:
        units = _utf16(self)
        needle = _utf16(chr(target) if isinstance(target, int) else _as_text(target))
        right = len(units) - len(needle)
        start = right if from_index is None else min(from_index, right)
        if start < 0:
            return -1
        return units.rfind(needle, 0, start + len(needle))

    def contains(self, target: Any) -> bool:
        return _as_text(target) in self

    def startsWith(self, prefix: Any, offset: int = 0) -> bool:
        return offset >= 0 and _utf16(self).startswith(_utf16(_as_text(prefix)), offset)

    def endsWith(self, suffix: Any) -> bool:
        return self.endswith(_as_text(suffix))

    def equals(self, other: Any) -> bool:
        return isinstance(other, str) and str.__eq__(self, other)

    def equalsIgnoreCase(self, other: Any) -> bool:
        if not isinstance(other, str):
            return False
        mine, theirs = _utf16(self), _utf16(other)
        return len(mine) == len(theirs) and all(
            a == b or a.upper() == b.upper() or a.lower() == b.lower() for a, b in zip(mine, theirs, strict=True)
        )

    def compareTo(self, other: Any) -> int:
        mine, theirs = _utf16(self), _utf16(_as_text(other))
        for a, b in zip(mine, theirs, strict=False):
            if a != b:
                return ord(a) - ord(b)
        return len(mine) - len(theirs)

    def toLowerCase(self) -> JavaString:
        return JavaString(self.lower())

    def toUpperCase(self) -> JavaString:
        return JavaString(self.upper())

    def trim(self) -> JavaString:
        return JavaString(self.strip(_JAVA_TRIM))

    def concat(self, other: Any) -> JavaString:
        return JavaString(str.__add__(self, _as_text(other)))

    def replace(self, target: Any, replacement: Any, count: int = -1) -> JavaString:  # type: ignore[override]
        """Java ``replace(CharSequence, CharSequence)``: every literal occurrence (no regex)."""
        return JavaString(str.replace(self, _as_text(target), _as_text(replacement), count))

    def replaceAll(self, regex: Any, replacement: Any) -> JavaString:
        return JavaString(java_replace(_as_text(regex), str.__str__(self), _as_text(replacement)))

    def replaceFirst(self, regex: Any, replacement: Any) -> JavaString:
        return JavaString(java_replace(_as_text(regex), str.__str__(self), _as_text(replacement), count=1))

    def split(self, regex: Any, limit: int = 0) -> JavaList:  # type: ignore[override]
        """Java ``split(regex[, limit])``: a regex separator; trailing empty strings dropped when limit is 0."""
        return JavaList(JavaString(piece) for piece in java_split(_as_text(regex), str.__str__(self), limit))

    def matches(self, regex: Any) -> bool:
        return java_matches(_as_text(regex), str.__str__(self))

    def toString(self) -> JavaString:
        return self


class JavaMap(dict):
    """A ``java.util.Map`` (insertion-ordered, like the ``LinkedHashMap`` API Gateway parses JSON into)."""

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return len(self) == 0

    def containsKey(self, key: Any) -> bool:
        return key in self

    def containsValue(self, value: Any) -> bool:
        return value in dict.values(self)

    def keySet(self) -> JavaList:
        return JavaList(dict.keys(self))

    def values(self) -> JavaList:  # type: ignore[override]
        return JavaList(dict.values(self))

    def entrySet(self) -> JavaList:
        return JavaList(_Entry(key, value) for key, value in dict.items(self))

    def put(self, key: Any, value: Any) -> Any:
        previous = self.get(key)
        self[key] = value
        return previous

    def putAll(self, other: Mapping[Any, Any]) -> None:
        for key, value in other.items():
            self[key] = value

    def remove(self, key: Any) -> Any:
        return self.pop(key, None)

    def toString(self) -> JavaString:
        return JavaString("{" + ", ".join(f"{java_str(k)}={java_str(v)}" for k, v in dict.items(self)) + "}")

    def __str__(self) -> str:
        return str.__str__(self.toString())


class _Entry:
    """A ``Map.Entry`` for ``#foreach($e in $map.entrySet())``."""

    __slots__ = ("_key", "_value")

    def __init__(self, key: Any, value: Any) -> None:
        self._key, self._value = key, value

    def getKey(self) -> Any:
        return self._key

    def getValue(self) -> Any:
        return self._value

    def toString(self) -> JavaString:
        return JavaString(f"{java_str(self._key)}={java_str(self._value)}")

    def __str__(self) -> str:
        return str.__str__(self.toString())


class _HeaderMap(JavaMap):
    """Request headers: keys keep their case, lookups ignore it."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__()
        self._folded: dict[str, Any] = {}
        for name, value in headers.items():
            self[JavaString(name)] = JavaString(value)

    def _key(self, key: Any) -> Any:
        return self._folded.get(key.lower(), key) if isinstance(key, str) else key

    def __setitem__(self, key: Any, value: Any) -> None:
        existing = self._key(key)
        if existing in self and existing != key:
            dict.__delitem__(self, existing)
        dict.__setitem__(self, key, value)
        if isinstance(key, str):
            self._folded[key.lower()] = key

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, self._key(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        real = self._key(key)
        if isinstance(real, str):
            self._folded.pop(real.lower(), None)
        return dict.pop(self, real, *default)


class JavaList(list):
    """A ``java.util.List``; renders as ``[a, b]`` (``AbstractCollection.toString``)."""

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return len(self) == 0

    def get(self, index: int) -> Any:
        if not 0 <= index < len(self):
            raise IndexError(f"Index {index} out of bounds for length {len(self)}")
        return self[index]

    def contains(self, value: Any) -> bool:
        return value in self

    def indexOf(self, value: Any) -> int:
        return self.index(value) if value in self else -1

    def add(self, value: Any) -> bool:
        self.append(value)
        return True

    def addAll(self, values: Iterable[Any]) -> bool:
        before = len(self)
        self.extend(values)
        return len(self) != before

    def set(self, index: int, value: Any) -> Any:
        previous = self.get(index)
        self[index] = value
        return previous

    def toString(self) -> JavaString:
        return JavaString("[" + ", ".join(java_str(item) for item in self) + "]")

    def __str__(self) -> str:
        return str.__str__(self.toString())


class JsonList(JavaList):
    """A JSON array (json-smart ``JSONArray``, what API Gateway's JSONPath yields): renders as compact JSON."""

    def toString(self) -> JavaString:
        return JavaString(_to_json(self))


def _to_java(value: Any, *, json_arrays: bool) -> Any:
    """Convert plain Python data to the Java-like values templates work on."""
    if isinstance(value, JavaString):
        return value
    if isinstance(value, str):
        return JavaString(value)
    if isinstance(value, Mapping):
        converted = JavaMap()
        for key, item in value.items():
            dict.__setitem__(converted, _to_java(key, json_arrays=json_arrays), _to_java(item, json_arrays=json_arrays))
        return converted
    if isinstance(value, (list, tuple)):
        cls = JsonList if json_arrays else JavaList
        return cls(_to_java(item, json_arrays=json_arrays) for item in value)
    return value


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ---------------------------------------------------------------------------------------------------------
# $util
# ---------------------------------------------------------------------------------------------------------

_JS_SPECIAL = re.compile(r"""[^\x20-\x7f]|['"\\/]""")
_JS_NAMED = {
    "\b": "\\b",
    "\n": "\\n",
    "\t": "\\t",
    "\f": "\\f",
    "\r": "\\r",
    "'": "\\'",
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
}


def _js_escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    named = _JS_NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04X}"


def escape_javascript(text: str) -> str:
    """Commons-lang ``StringEscapeUtils.escapeJavaScript``, which ``$util.escapeJavaScript`` is.

    ``'`` ``"`` ``\\`` ``/`` get a backslash; ``\\b \\f \\n \\r \\t`` their short escapes; other characters
    below U+0020 and every character above U+007F become ``\\uXXXX`` (upper-case hex; a non-BMP character as
    its two UTF-16 surrogates). U+007F itself is left as is, as commons-lang does.
    """
    return _JS_SPECIAL.sub(_js_escape_char, text)


_URL_DECODE_TOKEN = re.compile(r"(?:%[0-9a-fA-F]{2})+|\+|%|[^%+]+")


class _Util:
    """``$util``; stateless, one instance shared by every render."""

    def escapeJavaScript(self, value: Any) -> JavaString | None:
        if value is None:  # commons-lang returns null for null: renders as nothing
            return None
        return JavaString(escape_javascript(java_str(value)))

    def urlEncode(self, value: Any) -> JavaString:
        """``URLEncoder.encode(s, "UTF-8")``: space -> ``+``, only ``A-Za-z0-9.-*_`` left as is."""
        data = _as_text(value).encode("utf-8", "replace")
        return JavaString(quote_plus(data, safe="*").replace("~", "%7E"))

    def urlDecode(self, value: Any) -> JavaString:
        """``URLDecoder.decode(s, "UTF-8")``: ``+`` -> space; a malformed ``%`` escape is an error."""
        out: list[str] = []
        for token in _URL_DECODE_TOKEN.findall(_as_text(value)):
            if token == "+":
                out.append(" ")
            elif token == "%":
                raise ValueError("URLDecoder: Illegal hex characters in escape (%) pattern")
            elif token.startswith("%"):
                out.append(bytes.fromhex(token.replace("%", "")).decode("utf-8", "replace"))
            else:
                out.append(token)
        return JavaString("".join(out))

    def base64Encode(self, value: Any) -> JavaString:
        return JavaString(base64.b64encode(_as_text(value).encode("utf-8", "replace")).decode("ascii"))

    def base64Decode(self, value: Any) -> JavaString:
        """``java.util.Base64`` basic decoder: strict alphabet, padding optional but correct if present."""
        text = _as_text(value)
        body = text.rstrip("=")
        padding = len(text) - len(body)
        needed = -len(body) % 4
        if not re.fullmatch(r"[A-Za-z0-9+/]*", body) or needed == 3 or (padding and padding != needed):
            raise ValueError(f"Illegal base64 input: {text!r}")
        return JavaString(base64.b64decode(body + "=" * needed).decode("utf-8", "replace"))

    def parseJson(self, value: Any) -> Any:
        return _to_java(json.loads(_as_text(value)), json_arrays=True)


_UTIL = _Util()


# ---------------------------------------------------------------------------------------------------------
# $input
# ---------------------------------------------------------------------------------------------------------

_MISSING: Any = object()
_JSONPATH_STEP = re.compile(
    r"""\.(?P<dot>[^.\[\]]+)"""
    r"""|\[\s*(?:'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<index>-?\d+))\s*\]"""
)
_JSONPATH_UNESCAPE = re.compile(r"\\(.)")


@functools.lru_cache(maxsize=512)
def _jsonpath_steps(expression: str) -> tuple[str | int, ...]:
    """Parse the JSONPath subset API Gateway templates use: ``$``, ``.key``, ``['key']``, ``[n]``."""
    path = expression.strip() or "$"
    if not path.startswith("$"):
        path = "$." + path  # Jayway JsonPath reads "a.b" as "$.a.b"
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _JSONPATH_STEP.match(path, position)
        if match is None or match.group("dot") == "*":
            raise TemplateError(
                f"unsupported JSONPath {expression!r} at {path[position:]!r} (supported: $, .key, ['key'], [n])"
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            key = match.group("dot")
            if key is None:
                quoted = match.group("sq") if match.group("sq") is not None else match.group("dq")
                key = _JSONPATH_UNESCAPE.sub(r"\1", quoted)
            steps.append(key)
        position = match.end()
    return tuple(steps)


def _select(root: Any, expression: str) -> Any:
    """The value at ``expression`` in parsed JSON ``root``, or ``_MISSING``."""
    node = root
    for step in _jsonpath_steps(java_str(expression)):
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
    return node


class _Input:
    """``$input``: the body, the JSONPath helpers and the request parameters of one render."""

    def __init__(self, request: TemplateRequest) -> None:
        self._request = request
        self._parsed: Any = _MISSING

    @property
    def body(self) -> JavaString:
        """The raw body; API Gateway substitutes ``{}`` for an empty one."""
        return JavaString(self._request.body or "{}")

    def _json(self) -> Any:
        if self._parsed is _MISSING:
            text = self._request.body or "{}"
            try:
                self._parsed = json.loads(text)
            except ValueError as error:
                raise BodyNotJsonError(f"Could not parse request body into json: {error}") from None
        return self._parsed

    def path(self, expression: Any) -> Any:
        """The value at a JSONPath as an object (map, list, string, number, boolean); missing -> null."""
        value = _select(self._json(), expression)
        return None if value is _MISSING else _to_java(value, json_arrays=True)

    def json(self, expression: Any) -> JavaString:
        """The value at a JSONPath serialized as (compact) JSON; missing -> the empty string."""
        value = _select(self._json(), expression)
        return JavaString("" if value is _MISSING else _to_json(value))

    def params(self, name: Any = None) -> Any:
        """``params()``: ``{path, querystring, header}``; ``params(x)``: path, then query, then header, or ``""``."""
        request = self._request
        if name is None:
            return JavaMap(
                {
                    JavaString("path"): _to_java(dict(request.path_params), json_arrays=False),
                    JavaString("querystring"): _to_java(dict(request.query_params), json_arrays=False),
                    JavaString("header"): _HeaderMap(request.headers),
                }
            )
        key = java_str(name)
        if key in request.path_params:
            return JavaString(request.path_params[key])
        if key in request.query_params:
            return JavaString(request.query_params[key])
        value = _HeaderMap(request.headers).get(key)
        return JavaString("" if value is None else value)


# ---------------------------------------------------------------------------------------------------------
# airspeed, made to behave like API Gateway's Velocity
# ---------------------------------------------------------------------------------------------------------


def _load_private_airspeed() -> ModuleType:
    """A private copy of the airspeed module, so patching it cannot affect ``import airspeed`` elsewhere."""
    spec = importlib.util.find_spec("airspeed")
    if spec is None or spec.origin is None:
        raise ImportError("airspeed is not installed")
    private = importlib.util.spec_from_file_location("sdcli.local._vtl_airspeed", spec.origin)
    assert private is not None and private.loader is not None
    module = importlib.util.module_from_spec(private)
    private.loader.exec_module(module)
    return module


_vtl = _load_private_airspeed()


def _truth(value: Any) -> bool:
    """Velocity 1.7 truthiness: only null and false are false (an empty string or 0 is true)."""
    return value is not None and value is not False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _velocity_eq(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if _is_number(left) and _is_number(right):
        return left == right
    same_kind = (
        (isinstance(left, str) and isinstance(right, str))
        or (isinstance(left, bool) and isinstance(right, bool))
        or (isinstance(left, Mapping) and isinstance(right, Mapping))
        or (isinstance(left, list) and isinstance(right, list))
    )
    if same_kind:
        return bool(left == right)
    return java_str(left) == java_str(right)  # different classes: Velocity compares toString()


def _numeric(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        return op(left, right) if _is_number(left) and _is_number(right) else None

    return apply


def _velocity_add(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return left + right
    if left is not None and right is not None and (isinstance(left, str) or isinstance(right, str)):
        return JavaString(java_str(left) + java_str(right))
    return None


def _java_div(left: Any, right: Any) -> Any:
    if right == 0:
        return None  # Velocity logs the error and yields null
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)
        return quotient if (left >= 0) == (right >= 0) else -quotient
    return left / right


def _java_mod(left: Any, right: Any) -> Any:
    if right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        return left - right * _java_div(left, right)
    return math.fmod(left, right)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        return _is_number(left) and _is_number(right) and op(left, right)

    return apply


_vtl.BinaryOperator.OPERATORS = {
    ">": _compare(lambda a, b: a > b),
    "gt": _compare(lambda a, b: a > b),
    ">=": _compare(lambda a, b: a >= b),
    "ge": _compare(lambda a, b: a >= b),
    "<": _compare(lambda a, b: a < b),
    "lt": _compare(lambda a, b: a < b),
    "<=": _compare(lambda a, b: a <= b),
    "le": _compare(lambda a, b: a <= b),
    "==": _velocity_eq,
    "eq": _velocity_eq,
    "!=": lambda a, b: not _velocity_eq(a, b),
    "ne": lambda a, b: not _velocity_eq(a, b),
    "%": _numeric(_java_mod),
    "||": lambda a, b: _truth(a) or _truth(b),
    "or": lambda a, b: _truth(a) or _truth(b),
    "&&": lambda a, b: _truth(a) and _truth(b),
    "and": lambda a, b: _truth(a) and _truth(b),
    "+": _velocity_add,
    "-": _numeric(lambda a, b: a - b),
    "*": _numeric(lambda a, b: a * b),
    "/": _numeric(_java_div),
}
_vtl.UnaryOperatorValue.OPERATORS = {"!": lambda v: not _truth(v), "not": lambda v: not _truth(v)}


def _collapse_quotes(raw: str, quote: str) -> str:
    """Velocity keeps a literal's backslashes as they are; only a doubled quote stands for one quote."""
    return re.sub(r"\\.|" + quote * 2, lambda m: quote if m.group() == quote * 2 else m.group(), raw, flags=re.S)


class _SingleQuotedString(_vtl._Element):
    """``'...'``: never interpolated, backslashes kept (Velocity), unlike airspeed's unescaping literal."""

    STRING = re.compile(r"'((?:\\.|''|[^'])*)'", re.S)

    def parse(self) -> None:
        (raw,) = self.identity_match(self.STRING)
        self.value = JavaString(_collapse_quotes(raw, "'"))

    def calculate(self, namespace: Any, loader: Any) -> JavaString:
        return self.value


class _DoubleQuotedString(_vtl._Element):
    """``"..."``: interpolated if it holds ``$`` or ``#``, backslashes kept (Velocity)."""

    STRING = re.compile(r'"((?:\\.|""|[^"])*)"', re.S)

    def parse(self) -> None:
        (raw,) = self.identity_match(self.STRING)
        self.value = JavaString(_collapse_quotes(raw, '"'))
        self.block = None
        if "$" in self.value or "#" in self.value:
            self.block = _vtl.Block(self.filename, str.__str__(self.value), 0)
            if self.block.end != len(self.value):
                raise self.syntax_error("a string literal whose content is a valid template")

    def calculate(self, namespace: Any, loader: Any) -> JavaString:
        if self.block is None:
            return self.value
        output = _vtl.StoppableStream()
        self.block.evaluate(output, namespace, loader)
        return JavaString(output.getvalue())


class _ArrayLiteral(_vtl.ArrayLiteral):
    def parse(self) -> None:
        super().parse()
        values = self.values

        def calculate(namespace: Any, loader: Any) -> JavaList:
            return JavaList(values.calculate(namespace, loader))

        self.calculate = calculate


class _DictionaryLiteral(_vtl.DictionaryLiteral):
    def calculate(self, namespace: Any, loader: Any) -> JavaMap:
        return JavaMap(super().calculate(namespace, loader))


_vtl.StringLiteral = _SingleQuotedString
_vtl.InterpolatedStringLiteral = _DoubleQuotedString
_vtl.ArrayLiteral = _ArrayLiteral
_vtl.DictionaryLiteral = _DictionaryLiteral

_BLOCKED_METHODS = frozenset({"format", "format_map"})


def _find_method(obj: Any, name: str) -> Callable[..., Any] | None:
    if name.startswith("_") or name in _BLOCKED_METHODS:
        return None
    attribute = getattr(obj, name, None)
    if callable(attribute):
        return attribute
    extra = _vtl.__additional_methods__.get(type(obj))
    if extra and name in extra:
        return functools.partial(extra[name], obj)
    return None


def _get_property(obj: Any, name: str) -> Any:
    """Velocity's ``$obj.name``: ``get("name")`` on a map, else the attribute or a ``getName()``/``isName()``."""
    if name.startswith("_"):
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    attribute = getattr(obj, name, _MISSING)
    if attribute is not _MISSING and not callable(attribute):
        return attribute
    capitalized = name[:1].upper() + name[1:]
    for prefix in ("get", "is"):
        getter = getattr(obj, prefix + capitalized, None)
        if callable(getter):
            return getter()
    return None


def _index(container: Any, index: Any) -> Any:
    """``$x[i]`` / ``$x['key']``; out of range or missing is null."""
    if container is None:
        return None
    if isinstance(container, Mapping):
        return container.get(index)
    if isinstance(container, (list, tuple, str)) and isinstance(index, int) and not isinstance(index, bool):
        return container[index] if 0 <= index < len(container) else None
    return None


_original_name_or_call = _vtl.NameOrCall.calculate


def _name_or_call_calculate(self: Any, current_object: Any, loader: Any, top_namespace: Any) -> Any:
    if isinstance(current_object, _vtl.LocalNamespace):  # a top-level $name (or a #define'd block)
        return _original_name_or_call(self, current_object, loader, top_namespace)
    if current_object is None:
        return None
    if self.parameters is not None:
        method = _find_method(current_object, self.name)
        if method is None:
            return None  # Velocity: no such method -> null
        return method(*self.parameters.calculate(top_namespace, loader))
    result = _get_property(current_object, self.name)
    if self.index is not None and result is not None:
        result = _index(result, self.index.calculate(top_namespace, loader))
    return result


def _sub_expression_calculate(self: Any, current_object: Any, loader: Any, global_namespace: Any) -> Any:
    if not isinstance(self.expression, _vtl.ArrayIndex):
        return self.expression.calculate(current_object, loader, global_namespace)
    result = _index(current_object, self.expression.calculate(global_namespace, loader))
    if self.subexpression:
        result = self.subexpression.calculate(result, loader, global_namespace)
    return result


def _formal_reference_evaluate_raw(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    if self.expression is None:  # a lone "$" that is not a reference
        stream.write(self.my_text())
        return
    value = self.expression.calculate(namespace, loader)
    if value is None and self.alternate is not None:
        value = self.alternate.calculate(namespace, loader)
    stream.write("" if value is None else java_str(value))  # API Gateway renders null as nothing


def _if_parse(self: Any) -> None:
    """As airspeed's, except that ``#if`` without a valid ``(condition)`` is a syntax error (as in Velocity)
    instead of being rendered as literal text."""
    self.identity_match(self.START)
    self.condition = self.require_next_element(_vtl.Condition, "condition")
    self.block = self.require_next_element(_vtl.Block, "block")
    self.elseifs = []
    while True:
        try:
            self.elseifs.append(self.next_element(_vtl.ElseifBlock))
        except _vtl.NoMatch:
            break
    with contextlib.suppress(_vtl.NoMatch):
        self.else_block = self.next_element(_vtl.ElseBlock)
    self.require_next_element(_vtl.End, "#else, #elseif or #end")


def _if_evaluate_raw(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    if _truth(self.condition.calculate(namespace, loader)):
        self.block.evaluate(stream, namespace, loader)
        return
    for elseif in self.elseifs:
        if _truth(elseif.calculate(namespace, loader)):
            elseif.evaluate(stream, namespace, loader)
            return
    self.else_block.evaluate(stream, namespace, loader)


def _template_scope(namespace: Any) -> Any:
    """The outermost local namespace of a render: where Velocity 1.7's single context keeps ``#set`` values."""
    while isinstance(namespace.parent, _vtl.LocalNamespace):
        namespace = namespace.parent
    return namespace


def _set_evaluate_raw(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    value = self.value.calculate(namespace, loader)
    if value is None:
        return  # Velocity 1.7: a null right-hand side leaves the left-hand side unchanged
    first, *rest = self.terms
    if not rest:
        (namespace.find_outermost(first) or _template_scope(namespace))[first] = value
        return
    try:
        target = namespace[first]
    except KeyError:
        return
    for term in rest[:-1]:
        target = _get_property(target, term)
        if target is None:
            return
    if isinstance(target, MutableMapping):
        target[rest[-1]] = value


class _ForeachScope:
    """``$foreach`` inside a loop (Velocity 1.7's ForeachScope)."""

    __slots__ = ("_count", "_length")

    def __init__(self, count: int, length: int) -> None:
        self._count, self._length = count, length

    def getCount(self) -> int:
        return self._count

    def getIndex(self) -> int:
        return self._count - 1

    def hasNext(self) -> bool:
        return self._count < self._length

    def getHasNext(self) -> bool:
        return self.hasNext()

    def isFirst(self) -> bool:
        return self._count == 1

    def isLast(self) -> bool:
        return self._count == self._length


def _foreach_evaluate_raw(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    iterable = self.value.calculate(namespace, loader)
    if isinstance(iterable, Mapping):
        items = list(iterable.values())  # Velocity iterates a map's values
    elif iterable is None or isinstance(iterable, (str, bytes)) or not isinstance(iterable, Iterable):
        return  # Velocity skips what it cannot iterate
    else:
        items = list(iterable)
    length = len(items)
    for count, item in enumerate(items, 1):
        scope = _vtl.LocalNamespace(namespace)
        scope["velocityCount"] = count
        scope["velocityHasNext"] = count < length
        scope["foreach"] = _ForeachScope(count, length)
        scope[self.loop_var_name] = item
        self.block.evaluate(stream, scope, loader)


_vtl.NameOrCall.calculate = _name_or_call_calculate
_vtl.SubExpression.calculate = _sub_expression_calculate
_vtl.FormalReference.evaluate_raw = _formal_reference_evaluate_raw
_vtl.IfDirective.parse = _if_parse
_vtl.IfDirective.evaluate_raw = _if_evaluate_raw
_vtl.SetDirective.evaluate_raw = _set_evaluate_raw
_vtl.ForeachDirective.evaluate_raw = _foreach_evaluate_raw


# ---------------------------------------------------------------------------------------------------------
# Compile and render
# ---------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _compile(template: str) -> tuple[Any, str | None]:
    """Parse a template once (the data plane renders the same few templates for every request)."""
    compiled = _vtl.Template(template, filename="<mapping template>")
    try:
        compiled.ensure_compiled()
    except RecursionError:
        return None, "mapping template is nested too deeply to parse"
    except Exception as error:
        return None, f"mapping template does not parse: {error}"
    return compiled, None


def render(template: str, request: TemplateRequest) -> str:
    """Render an API Gateway mapping template against ``request`` as API Gateway would.

    Raises :class:`TemplateError` (or its subclass :class:`BodyNotJsonError`) if the template does not parse or
    fails while rendering; the data plane answers 500 (400 for a request body that is not JSON) for those.
    """
    compiled, error = _compile(template)
    if compiled is None:
        raise TemplateError(error)
    namespace = {
        "input": _Input(request),
        "util": _UTIL,
        "context": _to_java(dict(request.context), json_arrays=False),
        "stageVariables": _to_java(dict(request.stage_variables), json_arrays=False),
    }
    try:
        return compiled.merge(namespace)
    except _vtl.TemplateExecutionError as failure:
        cause = failure.__cause__
        if isinstance(cause, TemplateError):
            raise type(cause)(str(cause)) from failure
        raise TemplateError(f"mapping template failed to render: {failure}") from failure
    except RecursionError as failure:
        raise TemplateError("mapping template recursed too deeply while rendering") from failure
    except _vtl.TemplateError as failure:
        raise TemplateError(f"mapping template failed to render: {failure}") from failure
