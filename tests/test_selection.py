"""Integration-response selection (sdcli.local.selection) and the Java regex translation it relies on."""

from __future__ import annotations

import pytest

from sdcli.local.javaregex import JavaRegexError, java_matches, java_regex, java_replace, java_split
from sdcli.local.selection import select_integration_response

# The catalog's integration responses, as get_resources(embed=['methods']) returns them (keyed by status code).
CATALOG_RESPONSES = {
    "200": {"statusCode": "200"},
    "404": {
        "statusCode": "404",
        "selectionPattern": "Service Not Found",
        "responseTemplates": {"application/json": '{"error_message": "Service Not Found"}'},
    },
    "400": {
        "statusCode": "400",
        "selectionPattern": "Invalid Request: [ -~]*",
        "responseTemplates": {"application/json": '{"error_message": "Invalid Request"}'},
    },
    "500": {
        "statusCode": "500",
        "selectionPattern": "(?!Service Not Found\\z|Invalid Request: [ -~]*\\z)[\\s\\S]+",
        "responseTemplates": {"application/json": '{"error_message": "Internal Server Error"}'},
    },
}


def status(selector: str, responses: dict | None = None) -> str | None:
    chosen = select_integration_response(CATALOG_RESPONSES if responses is None else responses, selector)
    return None if chosen is None else chosen["statusCode"]


def test_success_selects_the_default() -> None:
    assert status("") == "200"
    assert select_integration_response(CATALOG_RESPONSES, "") is CATALOG_RESPONSES["200"]


def test_error_messages_select_their_status() -> None:
    assert status("Service Not Found") == "404"
    assert status("Invalid Request: serviceName must not be empty") == "400"
    assert status("Invalid Request: ") == "400"
    assert status("Malformed Record") == "500"
    assert status("ProvisionedThroughputExceededException") == "500"


def test_patterns_must_match_the_whole_message() -> None:
    assert status("Service Not Found!") == "500"
    assert status("Error: Service Not Found") == "500"
    assert status("Invalid Request: caf\u00e9") == "500"  # [ -~] is printable ASCII only


def test_multi_line_messages() -> None:
    # The 500 pattern uses \z (absolute end), so a trailing newline or a traceback is not "Service Not Found".
    assert status("Service Not Found\n") == "500"
    assert status("Service Not Found\nTraceback (most recent call last):") == "500"
    responses = {
        "200": {"statusCode": "200"},
        "404": {"statusCode": "404", "selectionPattern": ".*Service Not Found.*"},
    }
    assert status("oops: Service Not Found here", responses) == "404"
    # Java's "." matches no line terminator, so a multi-line message whose first line matches does not.
    assert status("Service Not Found\nat handler line 3", responses) == "200"
    assert status("Service Not Found\r\nat handler", responses) == "200"
    assert status("Service Not Found\u2028more", responses) == "200"
    dotall = {"404": {"statusCode": "404", "selectionPattern": "(?s).*Service Not Found.*"}}
    assert status("Service Not Found\nat handler line 3", dotall) == "404"


def test_a_similar_aws_error_does_not_match_an_anchored_not_found_pattern() -> None:
    responses = {
        "200": {"statusCode": "200"},
        "404": {"statusCode": "404", "selectionPattern": "Service Not Found"},
        "502": {"statusCode": "502", "selectionPattern": "^Not Found$"},
    }
    assert status("ResourceNotFoundException: Requested resource not found", responses) == "200"
    assert status("ResourceNotFoundException: Requested resource not found", CATALOG_RESPONSES) == "500"
    assert status("Not Found", responses) == "502"


def test_no_default_and_no_match_is_none() -> None:
    responses = {k: v for k, v in CATALOG_RESPONSES.items() if k != "200"}
    assert status("", responses) is None
    assert status("Service Not Found", responses) == "404"
    assert select_integration_response({}, "anything") is None


def test_empty_selection_pattern_is_the_default() -> None:
    responses = {
        "201": {"statusCode": "201", "selectionPattern": ""},
        "409": {"statusCode": "409", "selectionPattern": "Conflict.*"},
    }
    assert status("", responses) == "201"
    assert status("Conflict: exists", responses) == "409"
    assert status("other", responses) == "201"


def test_several_matches_pick_the_lowest_status_code() -> None:
    responses = {
        "500": {"statusCode": "500", "selectionPattern": ".+"},
        "1000": {"statusCode": "1000", "selectionPattern": "Boom"},
        "404": {"statusCode": "404", "selectionPattern": "Boo.*"},
        "200": {"statusCode": "200"},
    }
    assert status("Boom", responses) == "404"
    assert status("Other", responses) == "500"
    assert status("", responses) == "200"


def test_http_status_code_selectors() -> None:
    responses = {
        "200": {"statusCode": "200"},
        "400": {"statusCode": "400", "selectionPattern": "4\\d{2}"},
        "500": {"statusCode": "500", "selectionPattern": "5\\d{2}"},
    }
    assert status("200", responses) == "200"
    assert status("404", responses) == "400"
    assert status("503", responses) == "500"
    assert status("4040", responses) == "200"


def test_invalid_pattern_raises() -> None:
    with pytest.raises(JavaRegexError):
        select_integration_response({"400": {"statusCode": "400", "selectionPattern": "Bad {"}}, "x")


# -- Java regex translation ---------------------------------------------------------------------------


def test_java_regex_is_cached() -> None:
    assert java_regex("Service Not Found") is java_regex("Service Not Found")


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        (".", "\n", False),
        (".", "\r", False),
        (".", "\u0085", False),
        (".", "\u2029", False),
        (".", "é", True),
        ("(?s).", "\n", True),
        ("(?d).", "\r", True),  # UNIX_LINES: only \n ends a line
        ("a\\z", "a", True),
        ("a\\Z\n", "a\n", True),  # \Z holds before a final line terminator
        ("a\\Z\r\n", "a\r\n", True),
        ("a\\z\n", "a\n", False),
        ("a$\n", "a\n", True),
        ("a$\\s*", "a\r\n", True),
        ("(?m)a$\\s^b", "a\nb", True),
        ("\\d+", "123", True),
        ("\\d+", "\u0661\u0662", False),  # Java \d is ASCII only
        ("\\w+", "é", False),
        ("\\s", "\u00a0", False),
        ("\\h", "\u00a0", True),
        ("\\R", "\r\n", True),
        ("(?i)abc", "ABC", True),
        ("(?i)é", "É", False),  # without (?u) Java folds ASCII only
        ("a(?i)b|c", "C", True),  # an inline flag lasts to the end of the group, across alternatives
        ("a(?i)b|c", "AB", False),
        ("(a(?i)b)c", "aBc", True),
        ("(a(?i)b)c", "aBC", False),
        ("(?i:a)b", "Ab", True),
        ("(?i:a)b", "AB", False),
        ("\\p{Alpha}+\\p{Digit}", "abC1", True),
        ("\\p{Punct}+", "!/:@[`{~", True),
        ("\\P{Alpha}", "1", True),
        ("[\\p{Upper}\\d]+", "AB12", True),
        ("\\p{IsDigit}", "7", True),
        ("\\Q.*+?\\E", ".*+?", True),
        ("\\Q.*", "abc", False),
        ("(?<word>ab)\\k<word>", "abab", True),
        ("(a)\\1", "aa", True),
        ("\\x41\\x{1F600}\\u00e9\\uD83D\\uDE00\\0101\\t\\cA\\e", "A😀é😀A\t\x01\x1b", True),
        ("a++a", "aaa", False),  # possessive
        ("(?>ab|a)b", "ab", False),  # atomic group
        ("a{2,3}+", "aaa", True),
        ("[]a]+", "]a]", True),
        ("[^\\]]+", "abc", True),
        ("[a-c-]+", "a-c", True),
        ("(?x) a b \\  c # comment", "ab c", True),
        ("\\$\\^\\.", "$^.", True),
        ("#a b", "#a b", True),
        ("Invalid Request: [ -~]*", "Invalid Request: ok", True),
    ],
)
def test_java_regex_semantics(pattern: str, subject: str, expected: bool) -> None:
    assert java_matches(pattern, subject) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "a{",
        "a{2,1}",
        "a{,3}",
        "(",
        ")",
        "[abc",
        "\\",
        "\\y",
        "[a[b]]",
        "[a-z&&[^e]]",
        "\\p{L}",
        "\\p{InGreek}",
        "(?u)a",
        "(?U)\\w",
        "\\G",
        "\\1(a)",
        "(?P<n>a)",
        "a**",
    ],
)
def test_java_regex_rejects(pattern: str) -> None:
    with pytest.raises(JavaRegexError):
        java_regex(pattern)


def test_java_replacement_syntax() -> None:
    assert java_replace("(\\w+)@(\\w+)", "me@host", "$2 at $1") == "host at me"
    assert java_replace("(?<user>\\w+)@", "me@host", "${user}#") == "me#host"
    assert java_replace("o", "foo", "\\$") == "f$$"
    assert java_replace("o", "foo", "\\\\") == "f\\\\"
    assert java_replace("(a)(b)?", "a", "[$2]") == "[]"  # a group that did not take part is empty
    assert java_replace("(a)", "a", "$10") == "a0"  # $10 is group 1 then "0" when there is no group 10
    assert java_replace("o", "foo", "0", count=1) == "f0o"
    assert java_replace("\\\\'", "a\\'b", "'") == "a'b"
    assert java_replace("x*", "abxd", "-") == "-a-b--d-"
    for bad in ("$", "\\", "$x", "${nope}", "$2"):
        with pytest.raises(JavaRegexError):
            java_replace("(a)", "a", bad)


def test_java_split() -> None:
    assert java_split(",", "a,b,,c,,") == ["a", "b", "", "c"]
    assert java_split(",", "a,b,,c,,", -1) == ["a", "b", "", "c", "", ""]
    assert java_split(",", "a,b,c", 2) == ["a", "b,c"]
    assert java_split(",", "") == [""]
    assert java_split(",", ",,,") == []
    assert java_split(",", ",a") == ["", "a"]
    assert java_split("", "abc") == ["a", "b", "c"]  # no leading empty string for a zero-width match at 0
    assert java_split("(,)", "a,b") == ["a", "b"]  # groups are not returned
    assert java_split("\\s+", "  lead and trail  ") == ["", "lead", "and", "trail"]
