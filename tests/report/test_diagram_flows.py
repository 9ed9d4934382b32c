"""Every flow of the model is an edge of the diagram; inferred ones are dashed (issue 13, item 5)."""

from __future__ import annotations

import re
from pathlib import Path

from critterops.discover import discover
from critterops.model import Flow, System
from critterops.report.markdown import system_markdown
from critterops.report.mermaid import mermaid
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

# a -- "label" --> b | a --> b | a -. "label" .-> b | a -.-> b | a == "label" ==> b
EDGE = re.compile(
    r'^\s+(?P<a>\w+) (?:(?P<solid>--(?: "[^"]*" --)?>)|(?P<dashed>-\.(?: "[^"]*" \.)?->)'
    r'|(?P<thick>==(?: "[^"]*" ==)?>)) (?P<b>\w+)$'
)


def _edges(diagram: str) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for line in diagram.splitlines():
        m = EDGE.match(line)
        if m:
            style = "solid" if m["solid"] else "dashed" if m["dashed"] else "thick"
            out[(m["a"], m["b"])] = style
    return out


def _node(prefix: str, name: str) -> str:
    return prefix + "_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _expected(flow: Flow) -> list[tuple[str, str, str]]:
    """The hops a reader follows from publisher to consumer, with the style each must have."""
    src, dst = _node("svc", flow.source), _node("svc", flow.target)
    if flow.resolution == "conventional":
        return [(src, dst, "dashed")]
    if " -> " in flow.via:
        exchange, queue = flow.via.split(" -> ")
        return [
            (src, _node("x", exchange), "solid"),
            (_node("x", exchange), _node("q", queue), "dashed"),
            (_node("q", queue), dst, "solid"),
        ]
    return [(src, _node("q", flow.via), "solid"), (_node("q", flow.via), dst, "solid")]


def _assert_every_flow_drawn(system: System) -> None:
    assert system.flows
    for diagram in (mermaid(system), system_markdown(system)):
        edges = _edges(diagram)
        for flow in system.flows:
            for a, b, style in _expected(flow):
                assert edges.get((a, b)) == style, f"{flow}: expected {a} {style} {b} in the diagram"


def _conventional_system(write_repo: WriteRepo) -> System:
    contracts = "namespace Contracts;\npublic record QuestionCreated(Guid Id);\npublic record VoteCast(Guid Id);\n"
    root = write_repo(
        {
            "Contracts/Contracts.csproj": LIB_CSPROJ,
            "Contracts/Messages.cs": contracts,
            "Questions/Questions.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Questions/Program.cs": """
            builder.UseWolverine(opts => {
                opts.UseRabbitMq().AutoProvision().UseConventionalRouting();
                opts.PublishMessage<QuestionCreated>().ToRabbitExchange("Contracts.QuestionCreated");
                opts.PublishMessage<QuestionCreated>().ToRabbitQueue("audit");
            });""",
            "Questions/VoteCastHandler.cs": (
                "public static class VoteCastHandler { public static void Handle(VoteCast v) {} }"
            ),
            "Search/Search.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Search/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq().UseConventionalRouting());",
            "Search/QuestionCreatedHandler.cs": (
                "public static class QuestionCreatedHandler { public static void Handle(QuestionCreated q) {} }"
            ),
            "Audit/Audit.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Audit/Program.cs": 'builder.UseWolverine(o => { o.UseRabbitMq(); o.ListenToRabbitQueue("audit"); });',
            "Votes/Votes.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Votes/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq().UseConventionalRouting());",
            "Votes/VotesController.cs": "class VotesController { async Task Post(IMessageBus bus) "
            "{ await bus.PublishAsync(new VoteCast(Guid.NewGuid())); } }",
        }
    )
    return discover(root)


def test_every_flow_of_the_example_is_an_edge(pawmart: Path) -> None:
    system = discover(pawmart)
    assert {f.resolution for f in system.flows} == {"explicit", "binding"}
    _assert_every_flow_drawn(system)


def test_conventional_flows_are_dashed_edges_between_services(write_repo: WriteRepo) -> None:
    system = _conventional_system(write_repo)
    resolutions = {(f.source, f.target, f.resolution) for f in system.flows}
    assert ("votes", "questions", "conventional") in resolutions
    assert ("questions", "audit", "explicit") in resolutions
    _assert_every_flow_drawn(system)
    edges = _edges(mermaid(system))
    assert edges[("svc_votes", "svc_questions")] == "dashed"
    assert edges[("svc_questions", "q_audit")] == "solid"
    assert 'svc_votes -. "VoteCast" .-> svc_questions' in mermaid(system)


def test_the_diagram_has_a_legend(pawmart: Path) -> None:
    system = discover(pawmart)
    diagram = mermaid(system)
    assert 'subgraph legend["Legend"]' in diagram
    assert "declared in code" in diagram and "inferred" in diagram
    assert "Dashed arrows are inferred" in system_markdown(system)
