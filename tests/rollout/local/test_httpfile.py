"""``.http`` files: the .NET template, variables, comments, bodies, and errors that name file:line."""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path

import pytest

from critterops.errors import UserError
from critterops.rollout.local.httpfile import Request, parse_http_file, parse_http_text

DOTNET_TEMPLATE = """\
@OrdersApi_HostAddress = http://localhost:5114

GET {{OrdersApi_HostAddress}}/weatherforecast/
Accept: application/json

###
"""

ORDERS = """\
# Requests for the orders API
@host = http://localhost:5114
@api = {{host}}/api
@customer = 42

### Create an order
POST {{api}}/orders HTTP/1.1
Content-Type: application/json
// a comment between headers
X-Customer: {{customer}}

{
  "customerId": {{customer}},
  "lines": [{"sku": "KIBBLE-5KG", "quantity": 2}]
}


###
# @name getOrder
GET {{api}}/orders/7
    ?include=lines
    &format=full

###
{{host}}/health
"""


def test_dotnet_template() -> None:
    (request,) = parse_http_text(DOTNET_TEMPLATE, "OrdersApi.http")
    assert request == Request("GET", "/weatherforecast/", (("Accept", "application/json"),), None, "OrdersApi.http:3")


def test_variables_names_comments_bodies_and_continued_queries() -> None:
    create, get, health = parse_http_text(ORDERS, "orders.http")
    assert create.method == "POST" and create.path == "/api/orders" and create.name == "Create an order"
    assert create.headers == (("Content-Type", "application/json"), ("X-Customer", "42"))
    assert create.body is not None and create.body.endswith("}") and '"customerId": 42' in create.body
    assert create.source == "orders.http:7"
    assert (get.method, get.path, get.name, get.body) == (
        "GET",
        "/api/orders/7?include=lines&format=full",
        "getOrder",
        None,
    )
    assert (health.method, health.path) == ("GET", "/health")
    assert not create.dynamic and create.render() is create


def test_passed_variables_override_the_file() -> None:
    (request,) = parse_http_text("@id = 1\nGET /api/orders/{{id}}\n", variables={"id": "99"})
    assert request.path == "/api/orders/99"


def test_dynamic_values_are_drawn_per_send() -> None:
    text = 'POST /api/orders/{{$randomInt 10 20}}\nX-Request-Id: {{$guid}}\n\n{"at": {{$timestamp}}}\n'
    (request,) = parse_http_text(text)
    assert request.dynamic
    rng = random.Random(1)
    first, second = request.render(rng), request.render(rng)
    for rendered in (first, second):
        assert 10 <= int(rendered.path.rsplit("/", 1)[1]) < 20
        uuid.UUID(dict(rendered.headers)["X-Request-Id"])
        assert rendered.body is not None and re.fullmatch(r'\{"at": \d+\}', rendered.body)
    assert dict(first.headers)["X-Request-Id"] != dict(second.headers)["X-Request-Id"]


def test_process_env_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "s3cret")
    (request,) = parse_http_text("GET /api/orders\nAuthorization: Bearer {{$processEnv ORDERS_TOKEN}}\n")
    assert request.headers == (("Authorization", "Bearer s3cret"),) and not request.dynamic


def test_body_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "order.json").write_text('{"sku": "LEASH"}')
    http = tmp_path / "orders.http"
    http.write_text("POST http://localhost/api/orders\nContent-Type: application/json\n\n< ./order.json\n")
    (request,) = parse_http_file(http)
    assert request.body == '{"sku": "LEASH"}'
    assert request.source == f"{http}:1"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("GET /api/orders/{{id}}\n", 1, "undefined variable {{id}}"),
        ("@id 5\nGET /\n", 1, "malformed variable definition"),
        ("\n\nFETCH /api/orders\n", 3, "unknown HTTP method 'FETCH'"),
        ("get /api/orders\n", 1, "upper case"),
        ("GET /api/orders\nnot a header\n", 2, "expected a header"),
        ("GET /api/orders\n\nGET /api/orders/1\n", 3, "separate requests with ###"),
        ("GET api/orders\n", 1, "must be absolute"),
        ("GET /api/orders/{{$randomUuid}}\n", 1, "unsupported dynamic variable"),
        ("GET /api/orders/{{$randomInt 5}}\n", 1, "takes two integers"),
        ("GET /api/orders\nX-Id: {{id\n", 2, "without a closing"),
        ("GET /api/orders\nAuthorization: {{login.response.body.$.token}}\n", 2, "request variables"),
        ("GET /a HTTP/1.1 extra\n", 1, "expected a request line"),
        ("GET http:///nohost\n", 1, "has no host"),
        ("POST /api/orders\n\n< ./missing.json\n", 3, "cannot read the request body file"),
    ],
)
def test_malformed_input_names_file_and_line(text: str, line: int, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.http"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        parse_http_file(path)
    assert f"{path}:{line}:" in str(caught.value)
    assert message in str(caught.value)


def test_no_requests_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no requests found"):
        parse_http_text("# only a comment\n@x = 1\n###\n", "empty.http")
    with pytest.raises(UserError, match=r"no such \.http file"):
        parse_http_file(tmp_path / "nope.http")
