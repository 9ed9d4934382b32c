"""The .NET Aspire AppHost: which projects it runs, under which names, and what they reference."""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from critterops.discover.csharp.syntax import argument_nodes, arguments, chain, chain_up, invocations, method_name, text
from critterops.discover.csharp.values import Scope

_RESOURCES = {
    "AddPostgres": "postgres",
    "AddRabbitMQ": "rabbitmq",
    "AddRedis": "redis",
    "AddKafka": "kafka",
    "AddSqlServer": "sqlserver",
    "AddMongoDB": "mongodb",
    "AddNats": "nats",
    "AddKeycloak": "keycloak",
    "AddSeq": "seq",
    "AddAzureServiceBus": "azureservicebus",
}


@dataclass
class AppHostInfo:
    projects: dict[str, str] = field(default_factory=dict)  # Projects.X_Y type name → resource name
    references: dict[str, list[str]] = field(default_factory=dict)  # resource → referenced resources
    resources: dict[str, str] = field(default_factory=dict)  # resource name → kind
    databases: dict[str, str] = field(default_factory=dict)  # database resource → server resource
    http_ports: dict[str, int] = field(default_factory=dict)


def _declared_variable(call: Node) -> str | None:
    top = call
    for up in chain_up(call):
        top = up
    parent = top.parent
    if parent is not None and parent.type == "variable_declarator":
        name = parent.child_by_field_name("name")
        return text(name) if name is not None else None
    return None


def _root_variable(call: Node) -> str | None:
    links = list(chain(call))
    bottom = links[-1]
    rec = bottom.child_by_field_name("function")
    rec = rec.child_by_field_name("expression") if rec is not None and rec.type == "member_access_expression" else None
    return text(rec) if rec is not None and rec.type == "identifier" else None


def read_apphost(root: Node, scope: Scope) -> AppHostInfo:
    info = AppHostInfo()
    var_to_resource: dict[str, str] = {}
    for call in invocations(root):
        name, generics = method_name(call)
        args = arguments(call)
        resource = scope.evaluate(args[0]) if args else None
        if name == "AddProject" and generics and resource:
            info.projects[generics[0].rsplit(".", 1)[-1]] = resource
        elif name in _RESOURCES and resource:
            info.resources[resource] = _RESOURCES[name]
        elif name == "AddDatabase" and resource:
            server = _root_variable(call)
            info.databases[resource] = var_to_resource.get(server or "", server or "")
            info.resources.setdefault(resource, "database")
        else:
            continue
        variable = _declared_variable(call)
        if variable:
            var_to_resource[variable] = resource
    for call in invocations(root):
        name, _ = method_name(call)
        if name not in ("WithReference", "WaitFor"):
            continue
        owner: str | None = None
        for link in chain(call):
            link_name, generics = method_name(link)
            if link_name == "AddProject":
                link_args = arguments(link)
                owner = scope.evaluate(link_args[0]) if link_args else None
                break
        if owner is None:
            variable = _root_variable(call)
            owner = var_to_resource.get(variable or "")
        args = arguments(call)
        target = var_to_resource.get(text(args[0])) if args else None
        if owner and target and name == "WithReference":
            info.references.setdefault(owner, [])
            if target not in info.references[owner]:
                info.references[owner].append(target)
    for call in invocations(root):
        name, _ = method_name(call)
        if name in ("WithHttpEndpoint", "WithEndpoint"):
            for arg in argument_nodes(call):
                label = arg.child_by_field_name("name")
                if label is not None and text(label) == "port":
                    value = text(arg.named_children[-1])
                    for link in chain(call):
                        link_name, _ = method_name(link)
                        if link_name == "AddProject" and value.isdigit():
                            link_args = arguments(link)
                            owner = scope.evaluate(link_args[0]) if link_args else None
                            if owner:
                                info.http_ports[owner] = int(value)
    return info


def project_type_name(project_name: str) -> str:
    """Aspire's generated ``Projects.*`` class name for a project: dots and dashes become ``_``."""
    return project_name.replace(".", "_").replace("-", "_").replace(" ", "_")
