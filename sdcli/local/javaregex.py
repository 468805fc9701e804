"""Java regular expressions (``java.util.regex``) run on Python's ``re``.

API Gateway is written in Java: an integration response's ``selectionPattern`` and every regex a mapping
template hands to ``String.replaceAll``/``split``/``matches`` is a *Java* pattern. Python's ``re`` reads most
of the syntax the same way but differs where it matters for error messages and user input:

* ``.`` excludes every Java line terminator (``\\n``, ``\\r``, U+0085, U+2028, U+2029), not just ``\\n``;
* ``$``, ``^`` (with and without ``(?m)``) and ``\\Z`` treat those terminators (and ``\\r\\n``) as Java does;
  Java's ``\\z`` is Python's ``\\Z``;
* ``\\d``, ``\\w``, ``\\s``, ``\\b`` and case-insensitivity are ASCII-only, as in Java without ``(?U)``/``(?u)``;
* inline flags such as ``(?i)`` may appear anywhere and last to the end of the enclosing group;
* ``\\Q...\\E``, ``\\h``, ``\\v``, ``\\R``, ``\\x{...}``, ``\\0nn``, ``\\cX``, ``\\e``, ``\\k<name>``,
  ``(?<name>...)`` and the POSIX classes ``\\p{Alpha}`` etc. are translated;
* a ``{`` that does not start a quantifier is an error, as in Java.

Possessive quantifiers and atomic groups pass straight through (Python 3.11 has them). Constructs with no
faithful translation (nested classes ``[a[b]]``, intersections ``&&``, Unicode properties such as ``\\p{L}``,
``(?u)``/``(?U)``, ``\\G``, ``\\X``) raise :class:`JavaRegexError` rather than matching something else.

Replacement strings (``$1``, ``${name}``, ``\\$``) and ``String.split`` follow ``java.util.regex.Matcher`` and
``java.lang.String`` rules, not Python's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "JavaRegexError",
    "java_matches",
    "java_regex",
    "java_replace",
    "java_split",
    "translate",
]


class JavaRegexError(ValueError):
    """A Java regex (or replacement string) that Java would reject, or that has no faithful Python form."""


# Java's line terminators (java.util.regex.Pattern, without UNIX_LINES).
_TERMINATOR_CLASS = "\\n\\r\\u0085\\u2028\\u2029"
_DOT = f"[^{_TERMINATOR_CLASS}]"
_DOT_UNIX = "[^\\n]"
_DOT_ALL = "(?s:.)"

# POSIX character classes (US-ASCII only, as Java has them without UNICODE_CHARACTER_CLASS), as class content.
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_HORIZONTAL_SPACE = " \\t\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000"
_VERTICAL_SPACE = "\\n\\x0b\\f\\r\\x85\\u2028\\u2029"
_JAVA_SPACE = " \t\n\x0b\f\r"  # what COMMENTS mode skips
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "a": "\a", "e": "\x1b"}
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_GROUP_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]*")
_FLAG_GROUP = re.compile(r"\(\?([idmsuxU]*)(?:-([idmsuxU]*))?([:)])")


@dataclass
class _Frame:
    """One open group: the Java flags in force in it and the scoped-flag groups we opened inside it."""

    flags: frozenset[str]
    pending: list[str] = field(default_factory=list)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.frames = [_Frame(frozenset())]
        self.groups = 0

    # -- helpers -------------------------------------------------------------------------------------
    def error(self, message: str) -> JavaRegexError:
        return JavaRegexError(f"{message} at index {self.i} in Java regex {self.p!r}")

    @property
    def flags(self) -> frozenset[str]:
        return self.frames[-1].flags

    def skip_comments(self) -> None:
        """In COMMENTS mode ``(?x)`` Java ignores whitespace and ``#`` comments, inside classes too."""
        if "x" not in self.flags:
            return
        p = self.p
        while self.i < len(p):
            if p[self.i] in _JAVA_SPACE:
                self.i += 1
            elif p[self.i] == "#":
                while self.i < len(p) and p[self.i] not in "\n\r\u0085\u2028\u2029":
                    self.i += 1
            else:
                return

    # -- top level -----------------------------------------------------------------------------------
    def run(self) -> str:
        p = self.p
        while True:
            self.skip_comments()
            if self.i >= len(p):
                break
            ch = p[self.i]
            if ch == "\\":
                self.out.append(self.escape(in_class=False))
            elif ch == "[":
                self.out.append(self.char_class())
            elif ch == "(":
                self.open_group()
            elif ch == ")":
                self.close_group()
            elif ch == "|":
                frame = self.frames[-1]
                self.out.append(")" * len(frame.pending) + "|" + "".join(frame.pending))
                self.i += 1
            elif ch == ".":
                self.out.append(_DOT_ALL if "s" in self.flags else _DOT_UNIX if "d" in self.flags else _DOT)
                self.i += 1
            elif ch == "^":
                self.out.append(self.caret())
                self.i += 1
            elif ch == "$":
                self.out.append(self.dollar())
                self.i += 1
            elif ch in "*+?":
                self.out.append(ch)
                self.i += 1
                self.quantifier_suffix()
            elif ch == "{":
                m = _QUANTIFIER.match(p, self.i)
                if m is None:
                    raise self.error("Illegal repetition")
                if m.group(3) and int(m.group(3)) < int(m.group(1)):
                    raise self.error("Illegal repetition range")
                self.out.append(m.group(0))
                self.i = m.end()
                self.quantifier_suffix()
            else:
                self.out.append(re.escape(ch))
                self.i += 1
        if len(self.frames) != 1:
            raise self.error("Unclosed group")
        self.out.append(")" * len(self.frames[0].pending))
        return "".join(self.out)

    def quantifier_suffix(self) -> None:
        if self.i < len(self.p) and self.p[self.i] in "?+":
            self.out.append(self.p[self.i])
            self.i += 1

    def caret(self) -> str:
        if "m" not in self.flags:
            return "\\A"
        if "d" in self.flags:
            return "(?:\\A|(?<=\\n)(?!\\Z))"
        return "(?:\\A|(?<=[\\n\\u0085\\u2028\\u2029])(?!\\Z)|(?<=\\r)(?!\\n|\\Z))"

    def dollar(self) -> str:
        unix, multi = "d" in self.flags, "m" in self.flags
        if unix:
            return "(?=\\n|\\Z)" if multi else "(?=\\n?\\Z)"
        if multi:
            return f"(?:(?=[{_TERMINATOR_CLASS}]|\\Z)(?!(?<=\\r)\\n))"
        return f"(?:(?=(?:\\r\\n|[{_TERMINATOR_CLASS}])?\\Z)(?!(?<=\\r)\\n))"

    # -- groups --------------------------------------------------------------------------------------
    def open_group(self) -> None:
        p, i = self.p, self.i
        flags = self.flags
        if p.startswith("(?", i):
            rest = p[i + 2 : i + 3]
            if rest in (":", "=", "!", ">"):
                self.push(p[i : i + 3], flags, 3)
                return
            if p.startswith("(?<=", i) or p.startswith("(?<!", i):
                self.push(p[i : i + 4], flags, 4)
                return
            if rest == "<":
                m = _GROUP_NAME.match(p, i + 3)
                if m is None or not p.startswith(">", m.end()):
                    raise self.error("Bad named capturing group")
                self.groups += 1
                self.push(f"(?P<{m.group(0)}>", flags, m.end() + 1 - i)
                return
            m = _FLAG_GROUP.match(p, i)
            if m is None:
                raise self.error("Unknown inline modifier or group construct")
            on, off, end = m.group(1), m.group(2) or "", m.group(3)
            if set(on + off) & {"u", "U"}:
                raise self.error("Unicode case/character-class flags (?u)/(?U) are not supported")
            new_flags = (flags | set(on)) - set(off)
            py_on = "".join(sorted(set(on) & {"i"}))
            py_off = "".join(sorted(set(off) & {"i"}))
            opener = f"(?{py_on}{'-' + py_off if py_off else ''}:" if (py_on or py_off) else ""
            self.i = m.end()
            if end == ":":
                self.out.append(opener or "(?:")
                self.frames.append(_Frame(frozenset(new_flags)))
            else:
                # (?i) in mid-pattern: applies to the rest of the enclosing group, across its alternatives.
                frame = self.frames[-1]
                frame.flags = frozenset(new_flags)
                if opener:
                    self.out.append(opener)
                    frame.pending.append(opener)
            return
        self.groups += 1
        self.push("(", flags, 1)

    def push(self, opener: str, flags: frozenset[str], width: int) -> None:
        self.out.append(opener)
        self.frames.append(_Frame(flags))
        self.i += width

    def close_group(self) -> None:
        if len(self.frames) == 1:
            raise self.error("Unmatched closing ')'")
        frame = self.frames.pop()
        self.out.append(")" * len(frame.pending) + ")")
        self.i += 1

    # -- escapes -------------------------------------------------------------------------------------
    def escape(self, in_class: bool) -> str:
        """Translate the escape at ``self.i`` (a backslash); returns Python regex text (class content if in_class)."""
        p = self.p
        if self.i + 1 >= len(p):
            raise self.error("Unexpected internal error: trailing backslash")
        c = p[self.i + 1]
        self.i += 2
        if c in "dDsSwW":
            return "\\" + c
        if c in _SIMPLE_ESCAPES:
            return self.literal(_SIMPLE_ESCAPES[c])
        if c == "0":
            m = re.compile(r"[0-3][0-7]{2}|[0-7]{1,2}").match(p, self.i)
            if m is None:
                raise self.error("Illegal octal escape sequence")
            self.i = m.end()
            return self.literal(chr(int(m.group(0), 8)))
        if c == "x":
            if p.startswith("{", self.i):
                end = p.find("}", self.i)
                digits = p[self.i + 1 : end] if end != -1 else ""
                if not re.fullmatch(r"[0-9a-fA-F]+", digits) or int(digits, 16) > 0x10FFFF:
                    raise self.error("Illegal hexadecimal escape sequence")
                self.i = end + 1
                return self.literal(chr(int(digits, 16)))
            digits = p[self.i : self.i + 2]
            if not re.fullmatch(r"[0-9a-fA-F]{2}", digits):
                raise self.error("Illegal hexadecimal escape sequence")
            self.i += 2
            return self.literal(chr(int(digits, 16)))
        if c == "u":
            code = self.hex4()
            if 0xD800 <= code <= 0xDBFF and p.startswith("\\u", self.i):
                save = self.i
                self.i += 2
                low = self.hex4()
                if 0xDC00 <= low <= 0xDFFF:
                    return self.literal(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                self.i = save
            return self.literal(chr(code))
        if c == "c":
            if self.i >= len(p):
                raise self.error("Illegal control escape sequence")
            self.i += 1
            return self.literal(chr(ord(p[self.i - 1]) ^ 64))
        if c == "Q":
            end = p.find("\\E", self.i)
            text = p[self.i :] if end == -1 else p[self.i : end]
            self.i = len(p) if end == -1 else end + 2
            return "".join(self.literal(ch) for ch in text)
        if c == "E":
            return ""
        if c in "pP":
            return self.property_class(c == "P", in_class)
        if c == "h":
            return _HORIZONTAL_SPACE if in_class else f"[{_HORIZONTAL_SPACE}]"
        if c == "v":
            return _VERTICAL_SPACE if in_class else f"[{_VERTICAL_SPACE}]"
        if c in "HV":
            if in_class:
                raise self.error(f"\\{c} inside a character class is not supported")
            return f"[^{_HORIZONTAL_SPACE if c == 'H' else _VERTICAL_SPACE}]"
        if c == "N" and p.startswith("{", self.i):
            end = p.find("}", self.i)
            if end == -1:
                raise self.error("Unclosed character name escape")
            name = p[self.i + 1 : end]
            self.i = end + 1
            return f"\\N{{{name}}}"
        if in_class:
            if c.isascii() and c.isalnum():
                raise self.error(f"Illegal/unsupported escape sequence \\{c} in a character class")
            return self.literal(c)
        # Outside a class only.
        if c in "123456789":
            ref = int(c)
            while self.i < len(p) and p[self.i].isdigit() and ref * 10 + int(p[self.i]) <= self.groups:
                ref = ref * 10 + int(p[self.i])
                self.i += 1
            if ref > self.groups:
                raise self.error(f"Back reference \\{ref} to a group that does not exist yet")
            return f"(?:\\{ref})"
        if c == "k":
            m = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)>").match(p, self.i)
            if m is None:
                raise self.error("\\k is not followed by '<' for named capturing group")
            self.i = m.end()
            return f"(?P={m.group(1)})"
        if c in "bB":
            if p.startswith("{", self.i):
                raise self.error("\\b{...} boundaries are not supported")
            return "\\" + c
        if c == "A":
            return "\\A"
        if c == "z":
            return "\\Z"
        if c == "Z":
            return "(?=\\n?\\Z)" if "d" in self.flags else f"(?=(?:\\r\\n|[{_TERMINATOR_CLASS}])?\\Z)"
        if c == "R":
            return f"(?>\\r\\n|[{_VERTICAL_SPACE}])"
        if c.isascii() and c.isalnum():
            raise self.error(f"Illegal/unsupported escape sequence \\{c}")
        return self.literal(c)

    def hex4(self) -> int:
        digits = self.p[self.i : self.i + 4]
        if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
            raise self.error("Illegal Unicode escape sequence")
        self.i += 4
        return int(digits, 16)

    @staticmethod
    def literal(ch: str) -> str:
        """A literal character, escaped so it means itself inside or outside a class."""
        return re.escape(ch)

    def property_class(self, negated: bool, in_class: bool) -> str:
        p = self.p
        if p.startswith("{", self.i):
            end = p.find("}", self.i)
            if end == -1:
                raise self.error("Unclosed character family")
            name = p[self.i + 1 : end]
            self.i = end + 1
        elif self.i < len(p):
            name = p[self.i]
            self.i += 1
        else:
            raise self.error("Illegal character family")
        posix = name[2:] if name.startswith("Is") and name[2:] in _POSIX else name
        if posix not in _POSIX:
            raise self.error(
                f"Character property \\p{{{name}}} is not supported (only the POSIX classes "
                f"{', '.join(sorted(_POSIX))})"
            )
        content = _POSIX[posix]
        if in_class:
            if negated:
                raise self.error(f"\\P{{{name}}} inside a character class is not supported")
            return content
        return f"[{'^' if negated else ''}{content}]"

    # -- character classes ---------------------------------------------------------------------------
    def char_class(self) -> str:
        p = self.p
        self.i += 1
        parts = ["["]
        if p.startswith("^", self.i):
            parts.append("^")
            self.i += 1
        first = True
        while True:
            self.skip_comments()
            if self.i >= len(p):
                raise self.error("Unclosed character class")
            ch = p[self.i]
            if ch == "]" and not first:
                self.i += 1
                break
            if ch == "[":
                raise self.error("Nested character classes (unions) are not supported")
            if ch == "&" and p.startswith("&&", self.i):
                raise self.error("Character class intersections (&&) are not supported")
            if ch == "\\":
                parts.append(self.escape(in_class=True))
            elif ch == "-":
                parts.append("-")
                self.i += 1
            else:
                parts.append(self.literal(ch))
                self.i += 1
            first = False
        parts.append("]")
        return "".join(parts)


def translate(pattern: str) -> str:
    """The Python ``re`` source (to compile with ``re.ASCII``) equivalent to Java regex ``pattern``."""
    return _Translator(pattern).run()


@functools.lru_cache(maxsize=1024)
def java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regular expression to an equivalent ``re.Pattern`` (cached: patterns repeat per request).

    Use ``.fullmatch`` for Java's ``String.matches``/``Pattern.matches`` and ``.search``/``.finditer`` for
    ``Matcher.find``. Raises :class:`JavaRegexError` for syntax Java rejects or that has no faithful translation.
    """
    source = translate(pattern)
    try:
        return re.compile(source, re.ASCII)
    except re.error as error:
        raise JavaRegexError(f"Invalid Java regex {pattern!r}: {error}") from error


def java_matches(pattern: str, subject: str) -> bool:
    """Java's ``subject.matches(pattern)``: the pattern must match the whole subject."""
    return java_regex(pattern).fullmatch(subject) is not None


@functools.lru_cache(maxsize=1024)
def _replacement(pattern: str, replacement: str) -> Callable[[re.Match[str]], str]:
    """Parse a Java replacement string (``$n``, ``${name}``, ``\\x``) once into a function for ``re.sub``."""
    compiled = java_regex(pattern)
    group_count = compiled.groups
    parts: list[str | int] = []
    literal: list[str] = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\":
            i += 1
            if i >= len(replacement):
                raise JavaRegexError("character to be escaped is missing")
            literal.append(replacement[i])
            i += 1
        elif c == "$":
            i += 1
            if i >= len(replacement):
                raise JavaRegexError("Illegal group reference: group index is missing")
            if replacement[i] == "{":
                start = i = i + 1
                while i < len(replacement) and replacement[i].isascii() and replacement[i].isalnum():
                    i += 1
                name = replacement[start:i]
                if not name:
                    raise JavaRegexError("named capturing group has 0 length name")
                if i >= len(replacement) or replacement[i] != "}":
                    raise JavaRegexError("named capturing group is missing trailing '}'")
                i += 1
                if name[0].isdigit():
                    raise JavaRegexError(f"capturing group name {{{name}}} starts with digit character")
                if name not in compiled.groupindex:
                    raise JavaRegexError(f"No group with name {{{name}}}")
                ref = compiled.groupindex[name]
            else:
                if not replacement[i].isdigit() or not replacement[i].isascii():
                    raise JavaRegexError("Illegal group reference")
                ref = int(replacement[i])
                i += 1
                while i < len(replacement) and replacement[i].isascii() and replacement[i].isdigit():
                    candidate = ref * 10 + int(replacement[i])
                    if candidate > group_count:
                        break
                    ref = candidate
                    i += 1
                if ref > group_count:
                    raise JavaRegexError(f"No group {ref}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(ref)
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append("".join(literal))

    def expand(match: re.Match[str]) -> str:
        return "".join(part if isinstance(part, str) else (match.group(part) or "") for part in parts)

    return expand


def java_replace(pattern: str, subject: str, replacement: str, count: int = 0) -> str:
    """Java's ``replaceAll`` (``count=0``) / ``replaceFirst`` (``count=1``) with Java replacement syntax."""
    return java_regex(pattern).sub(_replacement(pattern, replacement), subject, count=count)


def java_split(pattern: str, subject: str, limit: int = 0) -> list[str]:
    """Java's ``String.split(regex, limit)``.

    Unlike ``re.split``: groups are not returned, a zero-width match at the very start yields no leading empty
    string, a limit > 0 caps the number of pieces, and ``limit == 0`` drops trailing empty strings.
    """
    pieces: list[str] = []
    index = 0
    limited = limit > 0
    for match in java_regex(pattern).finditer(subject):
        if limited and len(pieces) >= limit - 1:
            break
        if index == 0 and match.start() == 0 and match.end() == 0:
            continue
        pieces.append(subject[index : match.start()])
        index = match.end()
    if index == 0 and not pieces:
        return [subject]
    pieces.append(subject[index:])
    if limit == 0:
        while pieces and pieces[-1] == "":
            pieces.pop()
    return pieces
