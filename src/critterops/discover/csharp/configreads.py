"""The configuration keys C# code reads, what it uses each one for, and values hard-coded instead.

The deployment kit must supply exactly the keys a service reads (as environment variables:
``ConnectionStrings__postgres`` for ``ConnectionStrings:postgres``), so this module reads them out
of the syntax tree, never out of raw text:

- ``IConfiguration`` reads: ``config["A:B"]``, ``GetValue<T>("A:B")``, ``GetConnectionString("x")``
  (``ConnectionStrings:x``), sections through ``GetSection("S")`` kept in variables
  (``rabbit["hostname"]`` is ``S:hostname``), whole sections bound to options classes
  (``GetSection("S").Get<T>()``, ``Configure<T>(GetSection("S"))``, ``BindConfiguration("S")``);
- names that libraries turn into keys: Aspire client integrations and Wolverine's named connections
  read ``ConnectionStrings:{name}``; ``https+http://name`` base addresses read ``services:name:http:0``
  (sources in :mod:`critterops.discover.csharp.configvocab`).

What a value is used for comes from where it flows, directly or through a local variable: into a
Wolverine transport call (``UseRabbitMq``) it is a broker setting, into ``BaseAddress`` an HTTP
client's base URL, into ``File.ReadAllText`` or a certificate constructor a file path.

Values written in code where configuration belongs become findings
(:mod:`critterops.discover.csharp.hardcoded`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Node

from critterops.discover.csharp import hardcoded
from critterops.discover.csharp.configvocab import (
    ASPIRE_CLIENTS,
    BROKER_CALLS,
    DATABASE_CALLS,
    FILE_CALLS,
    FILE_TYPES,
    HARD_CODED_BROKER_PROPERTIES,
    NAMED_CONNECTIONS,
    ROOT_NAME,
    ROOT_TYPES,
    SECRET_BROKER_PROPERTIES,
    SECTION_TYPES,
    SERVICE_DISCOVERY,
    STOP,
    URL_PROPERTIES,
    join,
    looks_like_connection,
    on_services,
    secret_name,
)
from critterops.discover.csharp.syntax import (
    arguments,
    base_types,
    captures,
    chain,
    line,
    method_name,
    receiver,
    short_type,
    text,
)
from critterops.discover.csharp.values import Scope, declaring_block, interpolated_prefix

_UNKNOWN = "\0"  # a section whose path cannot be known statically
_VALUE = "\0value"  # section.Value: the section's own key is read, not the section


@dataclass(frozen=True, slots=True)
class ConfigRead:
    """One configuration key read at one place, with what the value is used for."""

    key: str
    kind: str  # connection-string | broker | http-base-url | section | key
    via: str
    line: int
    secret: bool = False
    file: bool = False
    infra: str | None = None  # the kind of infrastructure the value connects to: postgres, rabbitmq, ...
    options_type: str | None = None  # the class a whole section is bound to


@dataclass
class ConfigFacts:
    """What one piece of code reads from configuration, and what it hard-codes instead."""

    file: str
    reads: list[ConfigRead] = field(default_factory=list)
    hard_coded: list[tuple[int, str]] = field(default_factory=list)
    unresolved: list[tuple[int, str]] = field(default_factory=list)
    bare_rabbit: list[int] = field(default_factory=list)  # UseRabbitMq() with no connection settings
    connection_factory: bool = False  # an IConnectionFactory is registered (Aspire's RabbitMQ client, DI)
    rabbit_connection: bool = False  # UseRabbitMq(...) or AddNamedRabbitMqBroker(...) says where the broker is
    invoked: set[str] = field(default_factory=set)


@dataclass
class _Use:
    """Where a value flows: the strongest consumer found wins."""

    kind: str | None = None  # broker | http-base-url
    infra: str | None = None
    secret: bool = False
    file: bool = False

    def merge(self, other: _Use) -> None:
        if other.kind == "broker" or (other.kind and not self.kind):
            self.kind = other.kind
        self.infra = self.infra or other.infra
        self.secret = self.secret or other.secret
        self.file = self.file or other.file


class _Reader:
    def __init__(self, root: Node, file: str, scope: Scope) -> None:
        self.root = root
        self.scope = scope.with_locals(root)
        self.facts = ConfigFacts(file)
        self.typed = _typed_names(root)
        self._source: bytes | None = None

    # --- where configuration comes from ---------------------------------------------------

    def path(self, node: Node | None, depth: int = 0) -> str | None:
        """The configuration path an expression stands for: ``""`` for the root, ``S`` for a
        section, :data:`_UNKNOWN` for a section of unknown path, None when it is not configuration."""
        if node is None or depth > 8:
            return None
        kind = node.type
        if kind in ("parenthesized_expression", "postfix_unary_expression") and node.named_children:
            return self.path(node.named_children[0], depth + 1)
        if kind == "identifier":
            init = self.scope.local_initializer(node)
            if init is not None:
                found = self.path(init, depth + 1)
                if found is not None:
                    return found
            name = text(node)
            if name in self.typed:
                return self.typed[name]
            return "" if ROOT_NAME.match(name) else None
        if kind == "member_access_expression":
            name = text(node.child_by_field_name("name"))
            if name in self.typed and text(node.child_by_field_name("expression")) == "this":
                return self.typed[name]
            return "" if ROOT_NAME.match(name) else None
        if kind == "invocation_expression":
            called, _ = method_name(node)
            if called in ("GetSection", "GetRequiredSection"):
                base = self.path(receiver(node), depth + 1)
                if base is None:
                    return None
                args = arguments(node)
                key = self.scope.evaluate(args[0]) if args else None
                return _UNKNOWN if key is None or base == _UNKNOWN else join(base, key)
        return None

    def uses_of(self, declarator: Node, value: Node) -> Iterator[Node]:
        """The identifiers that read the local variable ``declarator`` declares (initialized to ``value``).

        The rest of the declaring block is searched for the name's bytes and each hit is mapped back
        to its syntax node (an identifier, not a word in a string or a comment): far cheaper than a
        query over every identifier of a ``Program.cs``."""
        name_node = declarator.child_by_field_name("name")
        block = declaring_block(value)
        name = name_node.text if name_node is not None else None
        if not name or block is None:
            return
        if self._source is None:
            self._source = self.root.text or b""
        base = self.root.start_byte
        for hit in _word(name).finditer(self._source, value.end_byte - base, block.end_byte - base):
            ident = self.root.descendant_for_byte_range(base + hit.start(), base + hit.end())
            if ident is None or ident.type != "identifier":
                continue
            parent = ident.parent
            if (
                parent is not None
                and parent.type == "member_access_expression"
                and parent.child_by_field_name("name") == ident
            ):
                continue  # x.Name is a member, not the variable Name
            if self.scope.local_initializer(ident) == value:
                yield ident

    # --- where a value goes ---------------------------------------------------------------

    def use(self, node: Node, depth: int = 0) -> _Use:
        """What the value of ``node`` is used for, following it through local variables."""
        found = _Use()
        child, cur = node, node.parent
        broker_property: str | None = None
        while cur is not None and cur.type not in STOP:
            kind = cur.type
            if kind == "assignment_expression" and cur.child_by_field_name("right") == child:
                target = text(cur.child_by_field_name("left")).rsplit(".", 1)[-1]
                if target == "BaseAddress" and found.kind is None:
                    found.kind = "http-base-url"
                broker_property = broker_property or target
            elif kind == "argument_list" and cur.parent is not None:
                owner = cur.parent
                if owner.type == "invocation_expression":
                    called, _ = method_name(owner)
                    if called in BROKER_CALLS:
                        found.kind = "broker"
                        found.infra = BROKER_CALLS[called]
                        # a URI or connection string carries credentials; Kafka's bootstrap servers do not
                        direct = broker_property is None and found.infra != "kafka"
                        found.secret = found.secret or direct or broker_property in SECRET_BROKER_PROPERTIES
                    elif called in DATABASE_CALLS and found.infra is None:
                        found.infra = DATABASE_CALLS[called]
                    elif called in FILE_CALLS:
                        found.file = True
                elif (
                    owner.type == "object_creation_expression"
                    and short_type(text(owner.child_by_field_name("type"))) in FILE_TYPES
                ):
                    found.file = True
            elif kind == "variable_declarator" and cur.child_by_field_name("name") != child and depth < 3:
                for ident in self.uses_of(cur, child):
                    found.merge(self.use(ident, depth + 1))
            child, cur = cur, cur.parent
        return found

    # --- recording ------------------------------------------------------------------------

    def record(self, node: Node, key: str, kind: str, via: str, infra: str | None = None) -> None:
        use = self.use(node)
        if use.kind is not None and kind in ("key", "connection-string"):
            kind = use.kind
        secret = kind == "connection-string" or use.secret or secret_name(key)
        if kind == "broker" and key.lower().startswith("connectionstrings:"):
            secret = True
        self.facts.reads.append(ConfigRead(key, kind, via, line(node), secret, use.file, infra or use.infra, None))

    def record_section(self, node: Node, path: str, via: str, options_type: str | None) -> None:
        if path == _UNKNOWN:
            self.unresolved(node, "a configuration section")
            return
        self.facts.reads.append(
            ConfigRead(path, "section", via, line(node), secret_name(path), False, None, options_type)
        )

    def unresolved(self, node: Node, what: str) -> None:
        self.facts.unresolved.append(
            (line(node), f"reads {what} `{text(node)[:80]}` whose key cannot be resolved statically: supply it by hand")
        )

    def read_key(self, node: Node, base: str, key_node: Node | None, via: str) -> None:
        """A single key under ``base``: a constant, or a dynamic key with a constant section prefix."""
        if base == _UNKNOWN:
            self.unresolved(node, "a key of a configuration section")
            return
        key = self.scope.evaluate(key_node) if key_node is not None else None
        if key is not None:
            full = join(base, key)
            kind = "connection-string" if full.lower().startswith("connectionstrings:") else "key"
            self.record(node, full, kind, via)
            return
        prefix = self.static_prefix(key_node)
        if ":" in prefix:  # $"Vault:{path}": the whole Vault section
            self.record_section(node, join(base, prefix.rsplit(":", 1)[0]), via, None)
        else:
            self.unresolved(node, "configuration")

    def static_prefix(self, node: Node | None, depth: int = 0) -> str:
        """The constant start of a string expression (``$"Vault:{path}"`` gives ``Vault:``)."""
        if node is None or depth > 6:
            return ""
        value = self.scope.evaluate(node)
        if value is not None:
            return value
        if node.type == "identifier":
            init = self.scope.local_initializer(node)
            return self.static_prefix(init, depth + 1) if init is not None else ""
        if node.type == "interpolated_string_expression":
            return interpolated_prefix(node, self.scope.evaluate)[0]
        if node.type == "invocation_expression":  # a helper of this class: string Name(string p) => "A:" + p;
            called, _ = method_name(node)
            rec = receiver(node)
            body = self.method_body(called) if rec is None or text(rec) == "this" else None
            return self.static_prefix(body, depth + 1) if body is not None else ""
        if node.type == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
            left = node.child_by_field_name("left")
            fixed = self.scope.evaluate(left)
            return fixed + self.static_prefix(node.child_by_field_name("right"), depth + 1) if fixed else ""
        return ""

    def method_body(self, name: str) -> Node | None:
        """The returned expression of an expression-bodied method declared under the root."""
        for method in captures("(method_declaration) @m", self.root, "m"):
            if text(method.child_by_field_name("name")) != name:
                continue
            for child in method.named_children:
                if child.type == "arrow_expression_clause" and child.named_children:
                    return child.named_children[0]
        return None

    def read_environment(self, call: Node, name_node: Node) -> None:
        """``Environment.GetEnvironmentVariable("A__B")``: the key ``A:B``, set by the same variable."""
        name = self.scope.evaluate(name_node)
        if name is not None:
            key = name.replace("__", ":")
            kind = "connection-string" if key.lower().startswith("connectionstrings:") else "key"
            self.record(call, key, kind, "Environment.GetEnvironmentVariable")
            return
        prefix = self.static_prefix(name_node)
        if "__" in prefix:  # "VAULT__" + path: every variable under VAULT__
            self.record_section(
                call, prefix.rsplit("__", 1)[0].replace("__", ":"), "Environment.GetEnvironmentVariable", None
            )
        else:
            self.unresolved(call, "the environment variable")

    # --- whole sections -------------------------------------------------------------------

    def whole_uses(self, expr: Node, depth: int = 0) -> list[tuple[str, str | None]]:
        """How a section expression is used as a whole: ``[(via, options type)]``; ``[]`` when
        only its keys are read (those are recorded where they are read)."""
        parent = expr.parent
        while parent is not None and parent.type in ("parenthesized_expression", "postfix_unary_expression"):
            expr, parent = parent, parent.parent
        if parent is None:
            return []
        if parent.type == "member_access_expression" and parent.child_by_field_name("expression") == expr:
            member = parent.child_by_field_name("name")
            call = parent.parent
            if call is not None and call.type == "invocation_expression":
                called, generics = method_name(call)
                if called in ("GetSection", "GetRequiredSection", "GetValue", "GetConnectionString", "Exists"):
                    return []
                if called in ("Get", "GetRequired") and generics:
                    return [(f"{called}<{generics[0]}>", generics[0])]
                if called == "Bind":
                    args = arguments(call)
                    bound = args[-1] if args else None
                    kind = text(bound.child_by_field_name("type")) if bound is not None else ""
                    return [("Bind", short_type(kind) if bound is not None and kind else None)]
                return [(called or "GetSection", None)]
            name = text(member)
            if name in ("Key", "Path"):
                return []
            return [(name, _VALUE if name == "Value" else None)]
        if parent.type == "element_access_expression" and parent.child_by_field_name("expression") == expr:
            return []
        if parent.type == "argument" and parent.parent is not None and parent.parent.parent is not None:
            call = parent.parent.parent
            called, generics = method_name(call) if call.type == "invocation_expression" else ("", ())
            if called == "Configure" and generics:
                return [(f"Configure<{generics[-1]}>", generics[-1])]
            if called == "Bind":
                for link in chain(call):
                    link_name, link_generics = method_name(link)
                    if link_name.startswith("AddOptions") and link_generics:
                        return [(f"AddOptions<{link_generics[0]}>().Bind", link_generics[0])]
            return [(called or "GetSection", None)]
        if parent.type == "variable_declarator" and depth < 3:
            out: list[tuple[str, str | None]] = []
            for ident in self.uses_of(parent, expr):
                out += self.whole_uses(ident, depth + 1)
            return out
        return [("GetSection", None)]

    # --- the visit ------------------------------------------------------------------------

    def visit_element_access(self, node: Node) -> None:
        base = self.path(node.child_by_field_name("expression"))
        if base is None:
            return
        subscript = node.child_by_field_name("subscript")
        items = [
            c.named_children[-1] if c.type == "argument" and c.named_children else c
            for c in (subscript.named_children if subscript is not None else [])
        ]
        self.read_key(node, base, items[0] if items else None, "Configuration[]")

    def visit_invocation(self, call: Node) -> None:
        called, generics = method_name(call)
        if not called:
            return
        self.facts.invoked.add(called)
        if called not in _CALLS and "IConnectionFactory" not in generics:
            return
        args = arguments(call)
        rec = receiver(call)
        if called == "GetConnectionString" and args:
            base = self.path(rec)
            name = self.scope.evaluate(args[0])
            if name is None:
                self.unresolved(call, "a connection string")
            elif base != _UNKNOWN:
                self.record(call, join(base or "", f"ConnectionStrings:{name}"), "connection-string", called)
        elif called in ("GetValue", "GetRequiredValue") and args:
            base = self.path(rec)
            if base is not None:
                # GetValue<T>("key"), GetValue(typeof(T), "key")
                key_node = (
                    args[1] if not generics and args[0].type == "typeof_expression" and len(args) > 1 else args[0]
                )
                self.read_key(call, base, key_node, called)
        elif called in ("GetSection", "GetRequiredSection"):
            path = self.path(call)
            if path is not None:
                for via, options in self.whole_uses(call):
                    if options != _VALUE:
                        self.record_section(call, path, via, options)
                    elif path == _UNKNOWN:
                        self.unresolved(call, "a configuration value")
                    else:
                        self.record(call, path, "key", "GetSection().Value")
        elif called == "BindConfiguration" and args:
            options = next((g[0] for n, g in map(method_name, chain(call)) if n.startswith("AddOptions") and g), None)
            section = self.scope.evaluate(args[0])
            if section is None:
                self.unresolved(call, "a configuration section")
            else:
                self.record_section(
                    call, section, f"AddOptions<{options}>().BindConfiguration" if options else called, options
                )
        elif called == "Configure" and generics and args and self.path(args[-1]) == "":
            self.record_section(call, "", f"Configure<{generics[-1]}>", generics[-1])
        elif called == "Get" and generics and not args and self.path(rec) == "":
            self.record_section(call, "", f"Get<{generics[0]}>", generics[0])
        elif called == "Bind" and len(args) == 2 and self.path(rec) == "":
            section = self.scope.evaluate(args[0])
            if section is not None:
                self.record_section(call, section, "Bind", None)
        elif called == "GetEnvironmentVariable" and args and text(rec) in ("Environment", "System.Environment"):
            self.read_environment(call, args[0])
        if called in NAMED_CONNECTIONS and args:
            name = self.scope.evaluate(args[0])
            if name is None:
                self.unresolved(call, "a named connection")
            else:
                self.facts.reads.append(
                    ConfigRead(
                        f"ConnectionStrings:{name}",
                        "broker",
                        called,
                        line(call),
                        True,
                        False,
                        NAMED_CONNECTIONS[called],
                    )
                )
                self.facts.connection_factory = self.facts.connection_factory or called.startswith("UseRabbitMq")
        elif called in ASPIRE_CLIENTS and args and not on_services(call):
            name = self.scope.evaluate(args[0])
            if name is None:
                self.unresolved(call, "an Aspire connection name")
            elif not looks_like_connection(name):
                self.record(call, f"ConnectionStrings:{name}", "connection-string", called, ASPIRE_CLIENTS[called])
            if ASPIRE_CLIENTS[called] == "rabbitmq":
                self.facts.connection_factory = True
        if "IConnectionFactory" in generics:
            self.facts.connection_factory = True
        if called == "UseRabbitMq" and not args:
            self.facts.bare_rabbit.append(line(call))
        else:
            if BROKER_CALLS.get(called) == "rabbitmq":
                self.facts.rabbit_connection = True
            self.facts.hard_coded += hardcoded.call_findings(call, called, args, self.static_value)

    # --- hard-coded values ----------------------------------------------------------------

    def static_value(self, node: Node) -> str | None:
        """The value of an expression that reads no configuration at all, else None.

        ``rabbit["hostname"] ?? "localhost"`` reads configuration first: not hard-coded."""
        self.scope.config_keys.clear()
        value = self.scope.evaluate(node)
        if value is None or self.scope.config_keys or self.reads_configuration(node):
            return None
        return value

    def reads_configuration(self, node: Node, depth: int = 0) -> bool:
        """Whether an expression reads configuration, directly or through local variables."""
        if depth > 4:
            return False
        pending = [node]  # a value expression is a handful of nodes: walked, not queried
        while pending:
            sub = pending.pop()
            pending += sub.named_children
            kind = sub.type
            if kind == "element_access_expression" and self.path(sub.child_by_field_name("expression")) is not None:
                return True
            if kind == "invocation_expression":
                called, _ = method_name(sub)
                if called in ("GetConnectionString", "GetValue", "GetRequiredValue", "GetSection"):
                    return True
            if kind == "identifier":
                init = self.scope.local_initializer(sub)
                if init is not None and self.reads_configuration(init, depth + 1):
                    return True
        return False

    def check_assignment(self, node: Node) -> None:
        """URL and broker properties: a service-discovery address is a read, a literal one a finding."""
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or left.text is None:
            return
        target = left.text.rsplit(b".", 1)[-1].decode("utf-8", errors="replace")
        if target in URL_PROPERTIES:
            value = self.static_value(right)
            found = SERVICE_DISCOVERY.match(value) if value is not None and target == "BaseAddress" else None
            if value is not None and found and ("+" in value.split("://")[0] or found["endpoint"]):
                # https+http://orders: Aspire service discovery resolves it from services:orders:http:0
                key = f"services:{found['name']}:{found['endpoint'] or 'http'}:0"
                self.facts.reads.append(ConfigRead(key, "http-base-url", f"service discovery ({value})", line(node)))
                return
            finding = hardcoded.url_finding(node, target, value) if value is not None else None
        elif target in HARD_CODED_BROKER_PROPERTIES:
            transport = hardcoded.broker_around(node)
            value = self.static_value(right) if transport is not None else None
            finding = hardcoded.broker_property_finding(node, target, transport, value) if transport else None
        else:
            return
        if finding is not None:
            self.facts.hard_coded.append(finding)


# every call visit_invocation looks at beyond recording its name
_CALLS = frozenset(
    {
        "GetConnectionString",
        "GetValue",
        "GetRequiredValue",
        "GetSection",
        "GetRequiredSection",
        "BindConfiguration",
        "Configure",
        "Get",
        "Bind",
        "GetEnvironmentVariable",
        *NAMED_CONNECTIONS,
        *ASPIRE_CLIENTS,
        *BROKER_CALLS,
        *DATABASE_CALLS,
    }
)


@cache
def _word(name: bytes) -> re.Pattern[bytes]:
    """The name as a whole word (``url`` in ``new Uri(url)``, not in ``urls``)."""
    return re.compile(rb"(?<![\w@])" + re.escape(name) + rb"(?!\w)")


def _typed_names(root: Node) -> dict[str, str]:
    """Parameters, fields, properties and locals declared with a configuration type: name → path."""
    out: dict[str, str] = {}
    data = root.text or b""
    if b"IConfiguration" not in data and b"ConfigurationManager" not in data:
        return out
    for param in captures("[(parameter) (property_declaration)] @p", root, "p"):
        kind = text(param.child_by_field_name("type")).rstrip("?").rsplit(".", 1)[-1]
        name = text(param.child_by_field_name("name"))
        if kind in ROOT_TYPES:
            out[name] = ""
        elif kind in SECTION_TYPES:
            out[name] = _UNKNOWN
    for decl in captures("(variable_declaration) @v", root, "v"):
        kind = text(decl.child_by_field_name("type")).rstrip("?").rsplit(".", 1)[-1]
        if kind not in ROOT_TYPES and kind not in SECTION_TYPES:
            continue
        for var in decl.named_children:
            if var.type == "variable_declarator":
                out[text(var.child_by_field_name("name"))] = "" if kind in ROOT_TYPES else _UNKNOWN
    return out


def _design_time(root: Node) -> list[tuple[int, int]]:
    """Byte ranges of the classes that implement EF Core's IDesignTimeDbContextFactory<T>."""
    if b"IDesignTimeDbContextFactory" not in (root.text or b""):
        return []
    return [
        (decl.start_byte, decl.end_byte)
        for decl in captures("(class_declaration) @c", root, "c")
        if any(b.split("<", 1)[0].rsplit(".", 1)[-1] == "IDesignTimeDbContextFactory" for b in base_types(decl))
    ]


def read_configuration(root: Node, file: str, scope: Scope) -> ConfigFacts:
    """Every configuration read and hard-coded connection value under ``root``.

    Code that never runs in the deployed service is left out: EF Core's design-time factories
    (``IDesignTimeDbContextFactory``) only run under ``dotnet ef``."""
    reader = _Reader(root, file, scope)
    skipped = _design_time(root)
    nodes = captures("[(invocation_expression) (element_access_expression) (assignment_expression)] @n", root, "n")
    for node in nodes:
        if skipped and any(start <= node.start_byte < end for start, end in skipped):
            continue
        if node.type == "invocation_expression":
            reader.visit_invocation(node)
        elif node.type == "element_access_expression":
            reader.visit_element_access(node)
        else:
            reader.check_assignment(node)
    return reader.facts
