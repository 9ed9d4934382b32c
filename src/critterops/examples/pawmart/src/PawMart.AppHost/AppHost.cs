var builder = DistributedApplication.CreateBuilder(args);

// Postgres and RabbitMQ come from docker compose (`--profile infrastructure`) on fixed ports,
// because the services read their connection settings from appsettings.json.
// Aspire only runs the .NET projects and gives us the dashboard.

var ordersApi = builder.AddProject<Projects.Orders_Api>("orders-api");

builder.AddProject<Projects.Payments_Api>("payments-api");

var inventoryApi = builder.AddProject<Projects.Inventory_Api>("inventory-api");

builder.AddProject<Projects.Fulfillment_Worker>("fulfillment-worker");

builder.AddProject<Projects.Storefront_Web>("storefront-web")
    .WithReference(ordersApi)
    .WithReference(inventoryApi)
    .WithExternalHttpEndpoints();

builder.Build().Run();
