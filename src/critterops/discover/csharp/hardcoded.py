"""Values written in code where configuration belongs, and the change that fixes each.

A literal connection string or broker URI (credentials and host baked into the image), a broker
host name set in ``UseRabbitMq(factory => ...)``, a ``localhost`` base address or JWT authority:
each works on a laptop and fails in a cluster. A finding names the value (passwords masked) and the
configuration read to use instead. Values that read configuration first
(``config["X"] ?? "http://localhost:5231"``) are not findings: the kit supplies the key.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from tree_sitter import Node

from critterops.discover.csharp.configvocab import (
    BROKER_CALLS,
    DATABASE_CALLS,
    LOCAL_HOSTS,
    NAMED_CONNECTIONS,
    STOP,
    looks_like_connection,
    mask,
    on_services,
)
from critterops.discover.csharp.syntax import arguments, chain, line, method_name, short_type, text

Finding = tuple[int, str]  # (line, message)


def _finding(node: Node, what: str, fix: str) -> Finding:
    return line(node), f"{what}: read it from configuration: {fix}"


def call_findings(
    call: Node, called: str, args: list[Node], static_value: Callable[[Node], str | None]
) -> list[Finding]:
    """A transport connected to a literal URI or connection string, a database given a literal one."""
    if called in BROKER_CALLS:
        # the first argument is the connection (URI, connection string, bootstrap servers), except
        # for the calls that take a name to look it up by
        if called in NAMED_CONNECTIONS or called == "AddNamedRabbitMqBroker" or not args:
            return []
        value = static_value(args[0]) if args[0].type != "lambda_expression" else None
        if not value:
            return []
        transport = BROKER_CALLS[called]
        fix = f'builder.Configuration.GetConnectionString("{transport}")'
        if transport == "rabbitmq":
            fix += f' (or UseRabbitMqUsingNamedConnection("{transport}"))'
        return [_finding(call, f"{called} connects to {mask(value)!r}, written in code", fix)]
    if called in DATABASE_CALLS and args and args[0].type != "lambda_expression":
        if called == "AddNpgsqlDataSource" and not on_services(call):
            return []  # Aspire's: the argument is a connection name
        value = static_value(args[0])
        if value is not None and looks_like_connection(value):
            what = f"{called} is given the connection string {mask(value)!r}, written in code"
            return [_finding(call, what, f'builder.Configuration.GetConnectionString("{DATABASE_CALLS[called]}")')]
    return []


def url_finding(node: Node, target: str, value: str) -> Finding | None:
    """``BaseAddress``/``Authority``/``MetadataAddress`` set to a local URL."""
    if not _is_local_url(value):
        return None
    if target == "BaseAddress":
        client = _http_client_name(node)
        what, key = f"HTTP client {client}'s base address", f"ApiClients:{_client_key(client)}Url"
    else:
        scheme = _auth_scheme(node)
        what, key = f"the {scheme or 'authentication'} {target}", f"Jwt:{scheme + ':' if scheme else ''}{target}"
    return _finding(node, f"{what} is {value!r}, written in code", f'builder.Configuration["{key}"]')


def broker_property_finding(node: Node, target: str, transport: str, value: str | None) -> Finding | None:
    """``factory.HostName = "localhost"`` (or a literal password or URI) in a transport's lambda."""
    if value is None:
        return None
    shown = "***" if target == "Password" else mask(value)
    fix = (
        f'builder.Configuration["RabbitMQ:{target.lower()}"]'
        if transport == "rabbitmq"
        else f'builder.Configuration.GetConnectionString("{transport}")'
    )
    return _finding(node, f"the {transport} {target} is {shown!r}, written in code", fix)


def broker_around(node: Node) -> str | None:
    """The transport whose configuration lambda holds ``node`` (``UseRabbitMq(f => f.HostName = ...)``)."""
    cur = node.parent
    while cur is not None and cur.type not in STOP:
        if cur.type == "argument_list" and cur.parent is not None and cur.parent.type == "invocation_expression":
            called, _ = method_name(cur.parent)
            if called in BROKER_CALLS:
                return BROKER_CALLS[called]
        cur = cur.parent
    return None


def _is_local_url(value: str) -> bool:
    try:
        host = urlsplit(value.strip()).hostname
    except ValueError:
        return False
    return host is not None and host.lower() in LOCAL_HOSTS


def _http_client_name(node: Node) -> str:
    cur = node.parent
    while cur is not None and cur.type not in STOP:
        if cur.type == "invocation_expression":
            called, generics = method_name(cur)
            if called in ("AddHttpClient", "AddRefitClient", "ConfigureHttpClient"):
                for link in chain(cur):
                    link_name, link_generics = method_name(link)
                    if link_name in ("AddHttpClient", "AddRefitClient"):
                        args = arguments(link)
                        if link_generics:
                            return short_type(link_generics[-1])
                        if args and args[0].type == "string_literal":
                            return text(args[0]).strip('"')
                return short_type(generics[-1]) if generics else "HttpClient"
        cur = cur.parent
    return "HttpClient"


def _auth_scheme(node: Node) -> str | None:
    """The scheme name of the ``AddJwtBearer("Backoffice", ...)`` an option is set in."""
    cur = node.parent
    while cur is not None and cur.type not in STOP:
        if cur.type == "invocation_expression" and method_name(cur)[0] in ("AddJwtBearer", "AddOpenIdConnect"):
            args = arguments(cur)
            return text(args[0]).strip('"') if args and args[0].type == "string_literal" else None
        cur = cur.parent
    return None


def _client_key(client: str) -> str:
    """``OrdersClient`` → ``Orders``: the name for a suggested ``ApiClients:OrdersUrl`` key."""
    for suffix in ("HttpClient", "ApiClient", "Client"):
        if client.endswith(suffix) and len(client) > len(suffix):
            return client[: -len(suffix)] + ("Api" if suffix == "ApiClient" else "")
    return client
