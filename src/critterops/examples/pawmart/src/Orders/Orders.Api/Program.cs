using System.Text.Json.Serialization;
using JasperFx;
using JasperFx.Core;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using JasperFx.Resources;
using Marten;
using Marten.Events.Projections;
using Messages.Contracts.Fulfillment;
using Messages.Contracts.Inventory;
using Messages.Contracts.Orders;
using Messages.Contracts.Payments;
using Orders.Checkouts;
using Orders.Placement;
using Weasel.Core;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Host.ApplyJasperFxExtensions();

var connectionString = builder.Configuration.GetConnectionString("postgres")
    ?? throw new InvalidOperationException("Connection string 'postgres' is missing");

builder.Services.AddHealthChecks()
    .AddNpgSql(connectionString, name: "orders-db", tags: ["ready"]);

builder.Services.AddMarten(opts =>
    {
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = "orders";
        opts.AutoCreateSchemaObjects = AutoCreate.All;
        opts.UseSystemTextJsonForSerialization(EnumStorage.AsString);
        opts.DisableNpgsqlLogging = true;

        // Event-sourced checkout, snapshotted in the same transaction as the events
        opts.Projections.Snapshot<Checkout>(SnapshotLifecycle.Inline);

        // Per-customer rollup
        opts.Projections.Add<OrderSummaryProjection>(ProjectionLifecycle.Inline);

        // Order saga state
        opts.Schema.For<Order>()
            .Identity(x => x.Id)
            .Index(x => x.CustomerId)
            .UseNumericRevisions(true);
    })
    .AddAsyncDaemon(DaemonMode.Solo)
    .UseLightweightSessions()
    .IntegrateWithWolverine();

builder.Services.AddResourceSetupOnStartup();

builder.Services.ConfigureSystemTextJsonForWolverineOrMinimalApi(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
    o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
});

builder.Host.UseWolverine(opts =>
{
    opts.Discovery.IncludeAssembly(typeof(Order).Assembly);

    opts.Policies.AutoApplyTransactions();
    opts.Policies.UseDurableLocalQueues();
    opts.Policies.UseDurableOutboxOnAllSendingEndpoints();

    opts.OnException<ConcurrencyException>()
        .RetryOnce()
        .Then.RetryWithCooldown(100.Milliseconds(), 500.Milliseconds())
        .Then.MoveToErrorQueue();

    var rabbit = builder.Configuration.GetSection("RabbitMQ");
    opts.UseRabbitMq(factory =>
        {
            factory.HostName = rabbit["hostname"] ?? "localhost";
            factory.VirtualHost = rabbit["virtualhost"] ?? "/";
            factory.Port = rabbit.GetValue<int?>("port") ?? 5672;
            factory.UserName = rabbit["username"] ?? "guest";
            factory.Password = rabbit["password"] ?? "guest";
        })
        .AutoProvision();

    // Checkout completion -> Order saga, through a durable local queue
    opts.PublishMessage<PlaceOrder>()
        .ToLocalQueue("order-placement")
        .UseDurableInbox();

    // Commands to other bounded contexts
    opts.PublishMessage<PaymentRequested>()
        .ToRabbitQueue("payments-requests");

    opts.PublishMessage<ReservationRequested>()
        .ToRabbitQueue("inventory-reservations");

    opts.PublishMessage<FulfillmentRequested>()
        .ToRabbitQueue("fulfillment-requests");

    // Broadcast: Inventory and the Storefront bind their own queues to this exchange
    opts.PublishMessage<OrderPlaced>()
        .ToRabbitExchange("orders-order-placed", exchange => exchange.ExchangeType = ExchangeType.Fanout);

    // Replies and events flowing back into the saga
    opts.ListenToRabbitQueue("orders-payment-events").UseDurableInbox();
    opts.ListenToRabbitQueue("orders-inventory-events").UseDurableInbox();
    opts.ListenToRabbitQueue("orders-fulfillment-events").ProcessInline();
});

builder.Services.AddWolverineHttp();
builder.Services.AddOpenApi();

var app = builder.Build();

if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
}

// /health and /alive (Development only, see PawMart.ServiceDefaults)
app.MapDefaultEndpoints();

// Probe used by the container platform in every environment
app.MapHealthChecks("/api/health");

app.MapWolverineEndpoints();

return await app.RunJasperFxCommands(args);

public partial class Program;
