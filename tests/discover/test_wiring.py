"""Wiring extraction from C# startup code: labelled cases, one construct each."""

from __future__ import annotations

import pytest

from critterops.discover.csharp import syntax
from critterops.discover.csharp.values import Scope
from critterops.discover.csharp.wiring import Wiring, extract


def wire(code: str, constants: dict[str, str] | None = None, config: dict[str, str] | None = None) -> Wiring:
    tree = syntax.parse(code.encode())
    return extract(tree.root_node, "Program.cs", Scope(constants or {}, config or {}))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param('opts.ListenToRabbitQueue("orders-in");', [("rabbitmq", "orders-in", (), None)], id="plain"),
        pytest.param(
            'opts.ListenToRabbitQueue("orders-in").ProcessInline();',
            [("rabbitmq", "orders-in", (), "inline")],
            id="process-inline",
        ),
        pytest.param(
            'opts.ListenToRabbitQueue("inv", q => q.BindExchange("orders-placed"));',
            [("rabbitmq", "inv", ("orders-placed",), None)],
            id="bind-exchange-in-lambda",
        ),
        pytest.param(
            'opts.ListenToRabbitQueue($"{Constants.Orders.ToLowerInvariant()}-events").UseDurableInbox();',
            [("rabbitmq", "orders-events", (), "durable")],
            id="constant-interpolated",
        ),
        pytest.param('opts.ListenToKafkaTopic("payments");', [("kafka", "payments", (), None)], id="kafka-topic"),
        pytest.param(
            'opts.ListenToAzureServiceBusQueue("billing");',
            [("azureservicebus", "billing", (), None)],
            id="azure-service-bus",
        ),
        pytest.param(
            'var q = "from-local"; opts.ListenToRabbitQueue(q);',
            [("rabbitmq", "from-local", (), None)],
            id="local-variable",
        ),
        pytest.param(
            'opts.ListenToRabbitQueue(builder.Configuration["Queues:In"] ?? "fallback");',
            [("rabbitmq", "configured", (), None)],
            id="configuration-value",
        ),
        pytest.param('// opts.ListenToRabbitQueue("commented");', [], id="commented-out"),
    ],
)
def test_listeners(code: str, expected: list[tuple[str, str, tuple[str, ...], str | None]]) -> None:
    wiring = wire(code, {"Constants.Orders": "Orders", "Orders": "Orders"}, {"Queues:In": "configured"})
    assert [(x.transport, x.queue, x.bindings, x.mode) for x in wiring.listens] == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(
            'opts.PublishMessage<Messages.Contracts.OrderPlaced>().ToRabbitQueue("placed");',
            [("OrderPlaced", "rabbitmq", "placed", "queue")],
            id="queue",
        ),
        pytest.param(
            'opts.PublishMessage<OrderPlaced>().ToRabbitExchange("orders", x => x.ExchangeType = ExchangeType.Fanout);',
            [("OrderPlaced", "rabbitmq", "orders", "exchange")],
            id="exchange",
        ),
        pytest.param(
            'opts.Publish(x => { x.Message<A>(); x.Message<B>(); x.ToRabbitQueue("ab"); });',
            [("A", "rabbitmq", "ab", "queue"), ("B", "rabbitmq", "ab", "queue")],
            id="publish-lambda-statements",
        ),
        pytest.param(
            'opts.PublishMessage<Placed>().ToLocalQueue("placement").UseDurableInbox();',
            [("Placed", "local", "placement", "local")],
            id="local-queue",
        ),
        pytest.param(
            'opts.PublishAllMessages().ToKafkaTopic("all");', [("*", "kafka", "all", "topic")], id="all-messages"
        ),
        pytest.param('context.ToRabbitQueue("x");', [], id="not-a-routing-rule"),
    ],
)
def test_publishers(code: str, expected: list[tuple[str, str, str, str]]) -> None:
    assert [(p.message, p.transport, p.to, p.kind) for p in wire(code).publishes] == expected


def test_declare_exchange_bindings() -> None:
    wiring = wire(
        'opts.UseRabbitMq().AutoProvision().DeclareExchange("x1", ex => ex.BindQueue("q1", "key"));'
        'rabbit.BindExchange("x2").ToQueue("q2");'
    )
    assert [(b.exchange, b.queue, b.routing_key) for b in wiring.bindings] == [("x1", "q1", "key"), ("x2", "q2", "")]
    assert wiring.auto_provision
    assert wiring.transports == ["rabbitmq"]


@pytest.mark.parametrize(
    ("code", "daemon", "auto_create"),
    [
        pytest.param(
            "services.AddMarten(o => { o.AutoCreateSchemaObjects = AutoCreate.All; }).AddAsyncDaemon(DaemonMode.Solo);",
            "Solo",
            [("all", "All")],
            id="solo-all",
        ),
        pytest.param("services.AddMarten(o => {}).AddAsyncDaemon(DaemonMode.HotCold);", "HotCold", [], id="hotcold"),
        pytest.param(
            "o.AutoCreateSchemaObjects = env.IsDevelopment() ? AutoCreate.All : AutoCreate.None;",
            None,
            [("Development", "All"), ("!Development", "None")],
            id="auto-create-by-environment",
        ),
        pytest.param(
            "if (builder.Environment.IsProduction()) { o.AutoCreateSchemaObjects = AutoCreate.None; }",
            None,
            [("Production", "None")],
            id="auto-create-in-if",
        ),
    ],
)
def test_marten_settings(code: str, daemon: str | None, auto_create: list[tuple[str, str]]) -> None:
    wiring = wire(code)
    assert wiring.daemon_mode == daemon
    assert wiring.auto_create == auto_create


def test_projections_and_schema() -> None:
    wiring = wire(
        """
        services.AddMarten(opts => {
            opts.DatabaseSchemaName = Constants.Inventory.ToLowerInvariant();
            opts.Projections.Snapshot<ProductInventory>(SnapshotLifecycle.Inline);
            opts.Projections.Add<StockView>(ProjectionLifecycle.Async);
            opts.Projections.Add(new LowStock(), ProjectionLifecycle.Async);
            opts.Projections.LiveStreamAggregation<Cart>();
            opts.Schema.For<Order>().Identity(x => x.Id);
        }).IntegrateWithWolverine(c => { c.UseWolverineManagedEventSubscriptionDistribution = true; });
        """,
        {"Constants.Inventory": "Inventory"},
    )
    assert wiring.schema == "inventory"
    assert [(p.name, p.lifecycle, p.registration) for p in wiring.projections] == [
        ("ProductInventory", "Inline", "snapshot"),
        ("StockView", "Async", "projection"),
        ("LowStock", "Async", "projection"),
        ("Cart", "Live", "live-aggregation"),
    ]
    assert wiring.document_types == ["Order"]
    assert wiring.event_sourcing
    assert wiring.managed_distribution
    assert wiring.message_storage == "marten"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param('app.MapHealthChecks("/health");', [("/health", "all")], id="unconditional"),
        pytest.param(
            'if (app.Environment.IsDevelopment()) { app.MapHealthChecks("/health"); }',
            [("/health", "Development")],
            id="development-only",
        ),
        pytest.param(
            'if (!app.Environment.IsDevelopment()) { app.MapHealthChecks("/ready"); }',
            [("/ready", "!Development")],
            id="negated",
        ),
        pytest.param(
            'if (app.Environment.IsDevelopment()) { x(); } else { app.MapHealthChecks("/h"); }',
            [("/h", "!Development")],
            id="else-branch",
        ),
        pytest.param('app.MapGet("/healthz", () => "ok");', [("/healthz", "all")], id="map-get-health"),
        pytest.param('app.MapGet("/orders", () => "ok");', [], id="map-get-not-health"),
    ],
)
def test_health_endpoints(code: str, expected: list[tuple[str, str]]) -> None:
    assert [(h.path, h.environments) for h in wire(code).health] == expected


def test_http_client_base_address_from_config_and_literal() -> None:
    wiring = wire(
        """
        builder.Services.AddHttpClient("OrdersApi", c =>
            c.BaseAddress = new Uri(builder.Configuration["ApiClients:OrdersApiUrl"] ?? "http://localhost:5301"));
        builder.Services.AddHttpClient<CatalogClient>(c => c.BaseAddress = new Uri("http://catalog-api"));
        """,
        config={},
    )
    calls = [(c.client, c.url, c.config_key) for c in wiring.http_calls]
    assert calls == [
        ("OrdersApi", "http://localhost:5301", "ApiClients:OrdersApiUrl"),
        ("CatalogClient", "http://catalog-api", None),
    ]


def test_unresolvable_names_are_reported_not_guessed() -> None:
    wiring = wire("opts.ListenToRabbitQueue(QueueNameFor(typeof(T)));")
    assert wiring.listens[0].queue.startswith("<unresolved:")
    assert wiring.unresolved and "cannot be resolved statically" in wiring.unresolved[0][1]


def test_conventional_routing_and_durability() -> None:
    wiring = wire(
        """
        opts.UseRabbitMq(r => {}).AutoProvision().UseConventionalRouting();
        opts.Policies.UseDurableLocalQueues();
        opts.Policies.UseDurableOutboxOnAllSendingEndpoints();
        opts.PersistMessagesWithPostgresql(cs, "wolverine");
        """
    )
    assert wiring.conventional_routing and wiring.durable_local_queues and wiring.durable_outbox_all
    assert (wiring.message_storage, wiring.message_schema) == ("postgresql", "wolverine")


def test_chained_declarations_keep_source_order() -> None:
    wiring = wire(
        'rabbit.DeclareExchange("first", e => e.BindQueue("q1", ""))'
        '.DeclareExchange("second", e => e.BindQueue("q2", ""));'
    )
    assert [(b.exchange, b.queue) for b in wiring.bindings] == [("first", "q1"), ("second", "q2")]
