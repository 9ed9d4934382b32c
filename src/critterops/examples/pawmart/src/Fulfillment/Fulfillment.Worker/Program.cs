using Fulfillment.Shipping;
using JasperFx;
using JasperFx.Resources;
using Marten;
using Messages.Contracts.Fulfillment;
using Wolverine;
using Wolverine.Marten;
using Wolverine.RabbitMQ;

var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();

var connectionString = builder.Configuration.GetConnectionString("postgres")
    ?? throw new InvalidOperationException("Connection string 'postgres' is missing");

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<ICarrierGateway, SimulatedCarrierGateway>();

// Document store only: shipments are plain documents, no event store here
builder.Services.AddMarten(opts =>
    {
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = "fulfillment";
        opts.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;

        opts.Schema.For<Shipment>()
            .Index(x => x.OrderId, index => index.IsUnique = true)
            .Index(x => x.TrackingNumber);
    })
    .UseLightweightSessions()
    .IntegrateWithWolverine();

builder.Services.AddResourceSetupOnStartup();

builder.Services.AddWolverine(opts =>
{
    opts.Discovery.IncludeAssembly(typeof(Shipment).Assembly);

    opts.Policies.AutoApplyTransactions();
    opts.Policies.UseDurableInboxOnAllListeners();
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

    opts.ListenToRabbitQueue("fulfillment-requests");

    opts.PublishMessage<ShipmentDispatched>().ToRabbitQueue("orders-fulfillment-events");
    opts.PublishMessage<ShipmentDelivered>().ToRabbitQueue("orders-fulfillment-events");

    // The storefront pushes "your order is on its way" to the customer's browser
    opts.PublishMessage<ShipmentDispatched>().ToRabbitQueue("storefront-notifications");
});

var host = builder.Build();

return await host.RunJasperFxCommands(args);
