using JasperFx;
using Storefront.Clients;
using Storefront.Notifications;
using Storefront.Web.Components;
using Wolverine;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();

builder.Services.AddRazorComponents()
    .AddInteractiveServerComponents();

builder.Services.AddSignalR();

// Backend APIs. Under Aspire the values come from service discovery; in compose from ApiClients__*.
builder.Services.AddHttpClient("OrdersApi", c =>
    c.BaseAddress = new Uri(builder.Configuration["ApiClients:OrdersApiUrl"] ?? "http://localhost:5301"));

builder.Services.AddHttpClient("InventoryApi", c =>
    c.BaseAddress = new Uri(builder.Configuration["ApiClients:InventoryApiUrl"] ?? "http://localhost:5303"));

builder.Services.AddScoped<OrdersApiClient>();
builder.Services.AddScoped<InventoryApiClient>();

// No database here, so no durable inbox/outbox: notifications are fire-and-forget
builder.Host.UseWolverine(opts =>
{
    opts.Discovery.IncludeAssembly(typeof(StorefrontHub).Assembly);

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

    // LowStockDetected (Inventory) and ShipmentDispatched (Fulfillment)
    opts.ListenToRabbitQueue("storefront-notifications");

    // Our own copy of the OrderPlaced broadcast
    opts.ListenToRabbitQueue("storefront-order-placed", q => q.BindExchange("orders-order-placed"));
});

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error", createScopeForErrors: true);
    app.UseHsts();
}

app.UseAntiforgery();

app.MapDefaultEndpoints();
app.MapStaticAssets();
app.MapHub<StorefrontHub>(StorefrontHub.Route);

app.MapRazorComponents<App>()
    .AddInteractiveServerRenderMode();

return await app.RunJasperFxCommands(args);

public partial class Program;
