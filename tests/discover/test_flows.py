"""Message flows between services: explicit queues, exchanges with bindings, conventional routing."""

from __future__ import annotations

from critterops.discover import discover
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

CONTRACTS = "namespace Contracts;\npublic record QuestionCreated(Guid Id);\npublic record VoteCast(Guid Id);\n"


def test_conventional_routing_flows(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "Contracts/Contracts.csproj": LIB_CSPROJ,
            "Contracts/Messages.cs": CONTRACTS,
            "Questions/Questions.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Questions/Program.cs": """
            builder.UseWolverine(opts => {
                opts.UseRabbitMq().AutoProvision().UseConventionalRouting();
                opts.PublishMessage<QuestionCreated>().ToRabbitExchange("Contracts.QuestionCreated");
            });""",
            "Questions/VoteCastHandler.cs": (
                "public static class VoteCastHandler { public static void Handle(VoteCast v) {} }"
            ),
            "Search/Search.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Search/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq().UseConventionalRouting());",
            "Search/QuestionCreatedHandler.cs": (
                "public static class QuestionCreatedHandler { public static void Handle(QuestionCreated q) {} }"
            ),
            "Votes/Votes.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "Votes/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq().UseConventionalRouting());",
            "Votes/VotesController.cs": "class VotesController { async Task Post(IMessageBus bus) "
            "{ await bus.PublishAsync(new VoteCast(Guid.NewGuid())); } }",
        }
    )
    system = discover(root)
    flows = {(f.source, f.target, f.message, f.resolution) for f in system.flows}
    assert flows == {
        ("questions", "search", "QuestionCreated", "conventional"),
        ("votes", "questions", "VoteCast", "conventional"),
    }
    assert not any("no queue is bound" in w.message for w in system.warnings)


def test_dangling_queue_and_exchange_are_reported(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "A/A.csproj": web_csproj(),
            "A/Program.cs": """builder.Host.UseWolverine(opts => {
            opts.PublishMessage<Ping>().ToRabbitQueue("nobody-listens");
            opts.PublishMessage<Pong>().ToRabbitExchange("nobody-binds");
            opts.ListenToRabbitQueue("nobody-sends");
        });""",
        }
    )
    text = "\n".join(f"{w.file}:{w.line} {w.message}" for w in discover(root).warnings)
    assert "A/Program.cs:2 a sends Ping to rabbitmq queue 'nobody-listens', which no service" in text
    assert "A/Program.cs:3 a publishes Pong to rabbitmq exchange 'nobody-binds', but no queue is bound" in text
    assert "A/Program.cs:4 a listens to rabbitmq queue 'nobody-sends', but no service" in text
