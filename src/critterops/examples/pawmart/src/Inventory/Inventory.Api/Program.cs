using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using JasperFx.Resources;
using Inventory.Stock;
using Marten;
using Marten.Events.Projections;
using Messages.Contracts.Inventory;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Weasel.Core;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Host.ApplyJasperFxExtensions();

var connectionString = builder.Configuration.GetConnectionString("postgres")
    ?? throw new InvalidOperationException("Connection string 'postgres' is missing");

builder.Services.AddHealthChecks()
    .AddNpgSql(connectionString, name: "inventory-db", tags: ["ready"]);

builder.Services.AddMarten(opts =>
    {
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = "inventory";

        // Schema changes are applied by `dotnet run -- resources setup` in the deploy pipeline
        opts.AutoCreateSchemaObjects = builder.Environment.IsDevelopment()
            ? AutoCreate.All
            : AutoCreate.None;

        opts.UseSystemTextJsonForSerialization(EnumStorage.AsString);

        // One stream per SKU
        opts.Events.StreamIdentity = StreamIdentity.AsString;

        opts.Projections.Snapshot<ProductInventory>(SnapshotLifecycle.Inline);
        opts.Projections.Add<StockLevelViewProjection>(ProjectionLifecycle.Async);
        opts.Projections.Add<LowStockAlertProjection>(ProjectionLifecycle.Async);
    })
    .AddAsyncDaemon(DaemonMode.HotCold)
    .UseLightweightSessions()
    .IntegrateWithWolverine();

builder.Services.AddResourceSetupOnStartup();

builder.Host.UseWolverine(opts =>
{
    opts.Discovery.IncludeAssembly(typeof(ProductInventory).Assembly);

    opts.Policies.AutoApplyTransactions();
    opts.Policies.UseDurableLocalQueues();
    opts.Policies.UseDurableOutboxOnAllSendingEndpoints();

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

    // Reservation commands from the Orders saga
    opts.ListenToRabbitQueue("inventory-reservations").UseDurableInbox();

    // Our own copy of every OrderPlaced broadcast (demand tracking)
    opts.ListenToRabbitQueue("inventory-order-placed", q => q.BindExchange("orders-order-placed"));

    opts.PublishMessage<StockReserved>().ToRabbitQueue("orders-inventory-events");
    opts.PublishMessage<StockReservationFailed>().ToRabbitQueue("orders-inventory-events");
    opts.PublishMessage<LowStockDetected>().ToRabbitQueue("storefront-notifications");
});

builder.Services.AddWolverineHttp();
builder.Services.AddOpenApi();

var app = builder.Build();

if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
}

app.MapDefaultEndpoints();

// Readiness probe for Kubernetes: database reachable, in every environment
app.MapHealthChecks("/health/ready", new HealthCheckOptions
{
    Predicate = check => check.Tags.Contains("ready")
});

app.MapWolverineEndpoints();

return await app.RunJasperFxCommands(args);

public partial class Program;
