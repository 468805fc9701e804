"""API Gateway mapping templates rendered by sdcli.local.velocity."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import airspeed
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdcli.local import velocity
from sdcli.local.velocity import (
    BodyNotJsonError,
    JavaString,
    TemplateError,
    TemplateRequest,
    escape_javascript,
    render,
)

# The catalog's request template, as in swagger/catalog_service.json.
CATALOG_TEMPLATE = (
    '{"service_name": "$util.escapeJavaScript($input.params(\'serviceName\')).replaceAll("\\\\\'","\'")", '
    '"service_version": "$util.escapeJavaScript($input.params(\'serviceVersion\')).replaceAll("\\\\\'","\'")"}'
)

CONTEXT = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "extendedRequestId": "Zx1Y2w3V4u5T6s7R=",
    "stage": "local",
    "resourcePath": "/catalog/{serviceName}/{serviceVersion}",
    "httpMethod": "GET",
    "apiId": "abc123",
    "accountId": "123456789012",
    "path": "/local/catalog/a/1",
    "protocol": "HTTP/1.1",
    "requestTime": "09/Apr/2015:12:34:56 +0000",
    "requestTimeEpoch": 1428582896000,
    "domainName": "localhost",
    "identity": {"sourceIp": "127.0.0.1", "userAgent": "sdcli-test"},
}


def make_request(
    body: str = "",
    path: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> TemplateRequest:
    return TemplateRequest(
        body=body,
        path_params=path or {},
        query_params=query or {},
        headers=headers or {},
        context=CONTEXT if context is None else context,
        stage_variables=stage_variables or {},
    )


def render_catalog(name: str, version: str = "1.0.0") -> str:
    return render(CATALOG_TEMPLATE, make_request(path={"serviceName": name, "serviceVersion": version}))


def test_catalog_template_matches_the_swagger_definition() -> None:
    spec = json.loads((Path(__file__).resolve().parent.parent / "swagger" / "catalog_service.json").read_text("utf-8"))
    integration = spec["paths"]["/catalog/{serviceName}/{serviceVersion}"]["get"]["x-amazon-apigateway-integration"]
    assert integration["requestTemplates"]["application/json"] == CATALOG_TEMPLATE


# -- the escapeJavaScript + replaceAll idiom -------------------------------------------------------------


def test_idiom_renders_exactly_what_api_gateway_sends() -> None:
    # escapeJavaScript gives a\'b\"c\\d\/\u00E9; replaceAll("\\'","'") turns \' back into '.
    assert render_catalog("a'b\"c\\d/é") == ('{"service_name": "a\'b\\"c\\\\d\\/\\u00E9", "service_version": "1.0.0"}')
    assert json.loads(render_catalog("a'b\"c\\d/é"))["service_name"] == "a'b\"c\\d/é"


@pytest.mark.parametrize(
    "name",
    [
        "plain",
        'double"quote',
        "back\\slash",
        "single'quote",
        "for/ward",
        "new\nline",
        "tab\there",
        "carriage\rreturn",
        "bell\x07form\x0cback\x08",
        "ctrl\x01\x1f",
        "del\x7f",
        "café",
        "中文服务",
        "emoji😀🚀",
        "line\u2028sep\u2029para\u0085nel",
        "\\'",
        "\\\\'",
        "''",
        "\\",
        "'",
        "a'b\"c\\d/é\n\t\x01中😀",
        "$input.params('x') #if(true)",
        "",
    ],
)
def test_idiom_round_trips_through_json(name: str) -> None:
    rendered = render_catalog(name, version=name[::-1])
    assert json.loads(rendered) == {"service_name": name, "service_version": name[::-1]}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_idiom_round_trips_any_text(name: str) -> None:
    rendered = render(
        '{"n": "$util.escapeJavaScript($input.params(\'n\')).replaceAll("\\\\\'","\'")"}',
        make_request(query={"n": name}),
    )
    assert json.loads(rendered) == {"n": name}


def test_double_quoted_literal_keeps_its_backslashes() -> None:
    # Velocity does not unescape string literals: "\\'" is three characters, a Java regex for a backslash + quote.
    assert render('#set($r = "\\\\\'")$r.length() $r', make_request()) == "3 \\\\'"
    assert render("#set($r = '\\d+')$r.length()", make_request()) == "3"
    assert render('#set($q = "say ""hi""")$q', make_request()) == 'say "hi"'
    assert render("#set($q = 'it''s')$q", make_request()) == "it's"


def test_escape_javascript_follows_commons_lang() -> None:
    assert escape_javascript("'\"\\/") == "\\'\\\"\\\\\\/"
    assert escape_javascript("\b\f\n\r\t") == "\\b\\f\\n\\r\\t"
    assert escape_javascript("\x00\x01\x1f") == "\\u0000\\u0001\\u001F"
    assert escape_javascript("\x7f\x80é\u00ff\u0100\u4e2d\uffff") == "\x7f\\u0080\\u00E9\\u00FF\\u0100\\u4E2D\\uFFFF"
    assert escape_javascript("😀") == "\\uD83D\\uDE00"
    assert escape_javascript("A z~<>&") == "A z~<>&"


def test_util_escape_javascript_of_non_strings_and_null() -> None:
    assert render("$util.escapeJavaScript(42) $util.escapeJavaScript(true)", make_request()) == "42 true"
    assert render("[$util.escapeJavaScript($nothing)]", make_request()) == "[]"
    assert render("[$util.escapeJavaScript($input.path('$.missing')).replaceAll('a', 'b')]", make_request()) == "[]"


# -- $input -----------------------------------------------------------------------------------------------

BODY = json.dumps(
    {
        "a": {"b": [1, 2, {"c": "deep"}]},
        "name": "svc",
        "flag": True,
        "nothing": None,
        "big": 1.5e10,
        "ratio": 0.25,
        "list": [{"name": "x"}, {"name": "y"}, {"name": "z"}],
        "get": "shadow",
        "weird key": "w",
    }
)


def test_input_path_selects_values() -> None:
    request = make_request(body=BODY)
    assert render("$input.path('$.a.b[2].c')", request) == "deep"
    assert render("$input.path('$.a.b[0]')", request) == "1"
    assert render("$input.path('$.a.b[-1].c')", request) == "deep"
    assert render("$input.path(\"$['weird key']\")", request) == "w"
    assert render("$input.path('$.flag') $input.path('$.big') $input.path('$.ratio')", request) == "true 1.5E10 0.25"
    assert render("$input.path('name')", request) == "svc"  # Jayway reads "name" as "$.name"


def test_input_path_returns_objects() -> None:
    request = make_request(body=BODY)
    assert render("$input.path('$').name", request) == "svc"
    assert render("$input.path('$').a.b.size()", request) == "3"
    assert render("#set($root = $input.path('$'))$root.a.b[2].c", request) == "deep"
    # A JSON object renders as a Java map, a JSON array as compact JSON (as API Gateway does).
    assert render("$input.path('$.a')", request) == '{b=[1,2,{"c":"deep"}]}'
    assert render("$input.path('$.a.b')", request) == '[1,2,{"c":"deep"}]'


def test_input_path_missing_renders_empty() -> None:
    request = make_request(body=BODY)
    assert render("[$input.path('$.missing')]", request) == "[]"
    assert render("[$input.path('$').missing.deeper]", request) == "[]"
    assert render("[$input.path('$.a.b[9]')]", request) == "[]"
    assert render("[$input.path('$.nothing')]", request) == "[]"
    assert render("[$input.path('$.name.x')]", request) == "[]"


def test_input_path_foreach() -> None:
    request = make_request(body=BODY)
    template = "#foreach($item in $input.path('$.list'))$item.name#if($foreach.hasNext),#end#end"
    assert render(template, request) == "x,y,z"
    template = "#foreach($item in $input.path('$.list'))$foreach.index:$velocityCount:$foreach.last #end"
    assert render(template, request) == "0:1:false 1:2:false 2:3:true "


def test_input_json() -> None:
    request = make_request(body=BODY)
    assert render("$input.json('$.a')", request) == '{"b":[1,2,{"c":"deep"}]}'
    assert render("$input.json('$.name')", request) == '"svc"'
    assert render("$input.json('$.nothing')", request) == "null"
    assert render("[$input.json('$.missing')]", request) == "[]"
    assert json.loads(render("$input.json('$')", request)) == json.loads(BODY)
    assert json.loads(render("{\"wrapped\": $input.json('$.list')}", request)) == {"wrapped": json.loads(BODY)["list"]}


def test_input_body() -> None:
    assert render("$input.body", make_request(body='{"x": 1}')) == '{"x": 1}'
    assert render("$input.body", make_request(body="not json")) == "not json"
    assert render("$input.body|$input.json('$')", make_request(body="")) == "{}|{}"  # API Gateway's empty body


def test_input_path_on_a_body_that_is_not_json() -> None:
    with pytest.raises(BodyNotJsonError, match="Could not parse request body into json"):
        render("$input.path('$.a')", make_request(body="<xml/>"))
    assert issubclass(BodyNotJsonError, TemplateError)


def test_unsupported_jsonpath_is_a_template_error() -> None:
    for expression in ("$..a", "$.list[*].name", "$.a.*", "$.list[0:1]"):
        with pytest.raises(TemplateError, match="unsupported JSONPath"):
            render(f"$input.path('{expression}')", make_request(body=BODY))


def test_input_params() -> None:
    request = make_request(
        path={"id": "p-id", "shared": "from-path"},
        query={"q": "query value", "shared": "from-query", "onlyq": "qq"},
        headers={"Content-Type": "application/json", "X-Shared": "h", "shared": "from-header"},
    )
    assert render("$input.params('id')", request) == "p-id"
    assert render("$input.params('shared')", request) == "from-path"  # path, then querystring, then header
    assert render("$input.params('onlyq')", request) == "qq"
    assert render("$input.params('content-type') $input.params('X-SHARED')", request) == "application/json h"
    assert render("[$input.params('absent')]", request) == "[]"
    assert render("$input.params('absent').isEmpty()", request) == "true"
    assert render("$input.params().path.id $input.params().querystring.get('q')", request) == "p-id query value"
    assert render("$input.params().header.get('CONTENT-TYPE')", request) == "application/json"
    assert render("$input.params().header.keySet()", request) == "[Content-Type, X-Shared, shared]"
    assert render("$input.params().path", request) == "{id=p-id, shared=from-path}"


def test_input_params_all_parameters_example() -> None:
    # The "pass all parameters" template from the API Gateway developer guide.
    template = """#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  }
}"""
    request = make_request(path={"id": "1"}, query={"q": 'a"b'}, headers={"Accept": "*/*"})
    assert json.loads(render(template, request)) == {
        "params": {"path": {"id": "1"}, "querystring": {"q": 'a"b'}, "header": {"Accept": "*/*"}}
    }


# -- $context, $stageVariables ------------------------------------------------------------------------------


def test_context_and_stage_variables() -> None:
    request = make_request(stage_variables={"backend": "dynamo"})
    assert render("$context.requestId", request) == CONTEXT["requestId"]
    assert render("$context.identity.sourceIp $context.identity.userAgent", request) == "127.0.0.1 sdcli-test"
    assert render("$context.httpMethod $context.stage $context.resourcePath", request) == (
        "GET local /catalog/{serviceName}/{serviceVersion}"
    )
    assert render("$context.requestTimeEpoch", request) == "1428582896000"
    assert render("$stageVariables.backend [$stageVariables.missing]", request) == "dynamo []"
    assert render("$context.requestId.toUpperCase()", request) == CONTEXT["requestId"].upper()
    assert render("[$context.authorizer.principalId]", request) == "[]"


def test_response_template_over_lambda_output() -> None:
    lambda_result = json.dumps({"endpoint_url": "https://svc.example/é", "ttl": 300, "status": "healthy"})
    template = (
        "#set($r = $input.path('$'))"
        '{"url": "$util.escapeJavaScript($r.endpoint_url).replaceAll("\\\\\'","\'")", "ttl": $r.ttl, '
        '"status": "$r.status", "request": "$context.requestId"}'
    )
    rendered = json.loads(render(template, make_request(body=lambda_result)))
    assert rendered == {
        "url": "https://svc.example/é",
        "ttl": 300,
        "status": "healthy",
        "request": CONTEXT["requestId"],
    }


# -- $util -------------------------------------------------------------------------------------------------


def test_util_functions() -> None:
    request = make_request()
    assert render("$util.urlEncode('a b&c=d/é~*')", request) == "a+b%26c%3Dd%2F%C3%A9%7E*"
    assert render("$util.urlDecode('a+b%26c%3Dd%2F%C3%A9')", request) == "a b&c=d/é"
    assert render("$util.base64Encode('héllo')", request) == "aMOpbGxv"
    assert render("$util.base64Decode('aMOpbGxv')", request) == "héllo"
    assert render("$util.base64Decode('aMOpbA')", request) == "hél"  # padding is optional
    assert render('$util.parseJson(\'{"a": [1, {"b": "x"}]}\').a[1].b', request) == "x"
    assert render("$util.parseJson('{\"a\": 1}')", request) == "{a=1}"
    assert render("$util.parseJson('\"s\"').length()", request) == "1"
    with pytest.raises(TemplateError):
        render("$util.urlDecode('%zz')", request)
    with pytest.raises(TemplateError):
        render("$util.base64Decode('a')", request)
    with pytest.raises(TemplateError):
        render("$util.parseJson('{nope')", request)


# -- Java strings ---------------------------------------------------------------------------------------


def test_every_string_a_template_reaches_is_a_java_string() -> None:
    # concat() exists only on JavaString: a plain str would resolve it to null and render nothing.
    sources = [
        "$input.params('x')",
        "$input.params().querystring.keySet().get(0)",
        "$input.body.substring(0, 1)",
        "$input.path('$.name')",
        "$input.json('$.name')",
        "$util.escapeJavaScript('a')",
        "$util.urlEncode('a b')",
        "$util.parseJson('[\"p\"]').get(0)",
        "$context.requestId.substring(0, 4)",
        "$context.identity.sourceIp",
        "$stageVariables.s",
        "$lit",
        "$interp",
        "$lit.toUpperCase().trim()",
        "$lit.split('i').get(0)",
        "$lit.replaceAll('l', 'L')",
        "$m.keySet().get(0)",
    ]
    template = "#set($lit = 'lit')#set($interp = \"i-$context.stage\")#set($m = {'k': 1})" + "|".join(
        f"{source}.concat('!')" for source in sources
    )
    request = make_request(body=BODY, query={"x": "1"}, stage_variables={"s": "v"})
    assert render(template, request).split("|") == [
        "1!",
        "x!",
        "{!",
        "svc!",
        '"svc"!',
        "a!",
        "a+b!",
        "p!",
        "c6af!",
        "127.0.0.1!",
        "v!",
        "lit!",
        "i-local!",
        "LIT!",
        "l!",
        "Lit!",
        "k!",
    ]
    assert type(velocity._UTIL.escapeJavaScript("x")) is JavaString


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$s.length()", "11"),
        ("$s.isEmpty() $e.isEmpty()", "false true"),
        ("[$s.toLowerCase()|$s.toUpperCase()]", "[ hello, w! | HELLO, W! ]"),
        ("[$s.trim()]", "[Hello, W!]"),
        ("$s.contains('lo,') $s.contains('xyz')", "true false"),
        ("$s.startsWith(' He') $s.startsWith('He', 1) $s.endsWith('! ') $s.endsWith('!')", "true true true false"),
        ("$s.equals(' Hello, W! ') $s.equalsIgnoreCase(' HELLO, w! ') $s.equals('x')", "true true false"),
        ("$s.indexOf('l') $s.indexOf('l', 4) $s.lastIndexOf('l') $s.indexOf('zz')", "3 4 4 -1"),
        ("$s.substring(1, 6) $s.substring(8)", "Hello W! "),
        ("$s.charAt(1)", "H"),
        ("$s.replace('l', 'L') $s.replace('.', '?')", " HeLLo, W!   Hello, W! "),
        ("$s.replaceAll('l+', '_') $s.replaceFirst('l', '_')", " He_o, W!   He_lo, W! "),
        ("$s.replaceAll('(\\w+), (\\w)', '$2-$1')", " W-Hello! "),
        ("$s.replaceAll('(?<first>H)', '${first}${first}')", " HHello, W! "),
        ("$s.replaceAll('\\s', '') $s.replaceAll('o', '\\$')", "Hello,W!  Hell$, W! "),
        ("$s.matches('.*W.*') $s.matches('Hello') $s.matches('\\s\\w+, W! ')", "true false true"),
        ("$c.split(',').size() $c.split(',') $c.split(',', -1).size() $c.split(',', 2)", "4 [a, b, , c] 6 [a, b,,c,,]"),
        ("$s.concat('?') $s.compareTo(' Hello') $s.toString()", " Hello, W! ? 5  Hello, W! "),
        ("$s.trim().toLowerCase().replaceAll('[^a-z]', '').length()", "6"),
        ("$emoji.length() $emoji.substring(0, 2) $emoji.indexOf('b')", "3 😀 2"),
        ("$s.empty $e.empty", "false true"),
    ],
)
def test_java_string_methods(expression: str, expected: str) -> None:
    template = "#set($s = ' Hello, W! ')#set($e = '')#set($c = 'a,b,,c,,')#set($emoji = '😀b')" + expression
    assert render(template, make_request()) == expected


def test_java_string_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError):
        render("#set($s = 'abc')$s.substring(2, 9)", make_request())
    with pytest.raises(TemplateError):
        render("#set($s = 'abc')$s.charAt(3)", make_request())
    with pytest.raises(TemplateError):
        render("#set($s = 'abc')$s.replaceAll('(', 'x')", make_request())  # invalid Java regex
    with pytest.raises(TemplateError):
        render("#set($s = 'abc')$s.replaceAll('a', '$1')", make_request())  # no group 1


# -- Velocity semantics -----------------------------------------------------------------------------------


def test_null_references_render_as_nothing() -> None:
    request = make_request()
    assert render("[$nothing][$!nothing][${nothing}][$nothing.foo()][$input.nosuch]", request) == "[][][][][]"
    assert render("[$input.params]", request) == "[]"  # a method used as a property is null
    assert render("cost: $5 and $", request) == "cost: $5 and $"


def test_velocity_conditions_and_operators() -> None:
    request = make_request(body=BODY)
    assert render("#if('')yes#end #if(0)yes#end #if($nothing)no#{else}null-is-false#end", request) == (
        "yes yes null-is-false"
    )
    assert render("#if($input.path('$.flag'))on#end #if(!$input.path('$.flag'))off#end", request) == "on "
    assert render("#if('5' == 5)eq#end #if(5 == 5.0)num#end #if('a' != 'b')ne#end", request) == "eq num ne"
    assert render("#if($nothing && $nothing.foo())x#{else}short#end", request) == "short"
    assert render("#set($n = 7 / 2)$n #set($n = -7 / 2)$n #set($n = -7 % 3)$n #set($n = 7.0 / 2)$n", request) == (
        "3 -3 -1 3.5"
    )
    assert render("#set($x = 'n=' + 3)$x #set($y = 1 + 2)$y", request) == "n=3 3"
    assert render("#if($input.path('$.list').size() > 2)big#end", request) == "big"
    assert render("#set($b = true)$b #set($m = {'k': false})$m", request) == "true {k=false}"


def test_set_semantics() -> None:
    request = make_request(body=BODY)
    # Velocity 1.7: a null right-hand side leaves the variable unchanged.
    assert render("#set($v = 'kept')#set($v = $input.path('$.missing'))$v", request) == "kept"
    # A #set inside #foreach is visible after the loop.
    assert render("#foreach($i in [1, 2, 3])#set($last = $i)#end$last", request) == "3"
    assert render("#set($m = {})#set($m.key = 'v')$m.key", request) == "v"
    assert render("#set($l = [])#set($ok = $l.add('a'))$l $ok $l.size()", request) == "[a] true 1"


def test_foreach_over_a_map_iterates_values() -> None:
    assert render("#foreach($v in {'a': 1, 'b': 2})$v#end", make_request()) == "12"
    assert render("#set($m = {'a': 1, 'b': 2})#foreach($k in $m.keySet())$k#end", make_request()) == "ab"
    assert render("#foreach($e in $context.identity.entrySet())$e.key=$e.value;#end", make_request()) == (
        "sourceIp=127.0.0.1;userAgent=sdcli-test;"
    )


def test_method_call_is_not_shadowed_by_a_map_key() -> None:
    request = make_request(body=BODY)
    assert render("$input.path('$').get('name') $input.path('$').get", request) == "svc shadow"


def test_macros_and_comments() -> None:
    template = "## a comment\n#macro(greet $who)hi $who#end#greet('there') #* block *#done"
    assert render(template, make_request()) == "hi there done"


# -- errors, caching, threads ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "#if($a)unclosed",
        "#if(",
        "#foreach($x in [1])no end",
        "#foreach($x in)#end",
        "$input.path('$'",
        "#set($x = )",
        "#end",
        '"$util.escapeJavaScript("unterminated)"',
    ],
)
def test_template_that_does_not_parse_raises(template: str) -> None:
    with pytest.raises(TemplateError, match="does not parse"):
        render(template, make_request())


def test_include_and_parse_are_not_available() -> None:
    with pytest.raises(TemplateError):
        render("#include('x.vm')", make_request())


def test_templates_are_compiled_once() -> None:
    template = "cached $context.requestId"
    velocity._compile.cache_clear()
    render(template, make_request())
    render(template, make_request())
    info = velocity._compile.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert velocity._compile(template)[0] is velocity._compile(template)[0]


def test_rendering_is_thread_safe() -> None:
    names = [f"svc-{i}-'\"\\/é😀" for i in range(400)]

    def one(name: str) -> tuple[str, Any]:
        rendered = render_catalog(name, version=str(len(name)))
        return name, json.loads(rendered)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, names))
    assert all(out == {"service_name": name, "service_version": str(len(name))} for name, out in results)


def test_stock_airspeed_is_not_patched() -> None:
    # Our Velocity rules live in a private copy of the airspeed module.
    assert airspeed.Template("$nothing").merge({}) == "$nothing"
    literal = '#set($r = "\\\\\'")$r'  # "\\'" in the template
    assert airspeed.Template(literal).merge({}) == "\\'"  # stock airspeed unescapes the literal
    assert render(literal, make_request()) == "\\\\'"  # Velocity (and we) keep it as written
    assert velocity._vtl is not airspeed
