"""A fixture repository written for the lab, modelled on CritterSupply's conventions (not on its code).

"Kennel": three bounded contexts in folders with spaces, a ``.slnx`` solution, central package
versions, ServiceDefaults that map ``/health`` and ``/alive`` only in Development, Marten per context
with the schema from a ``Constants`` class and Wolverine-managed event subscription distribution, a
RabbitMQ broker configured from the ``RabbitMQ`` section, a booking saga, a Blazor front end that
calls two APIs through named HTTP clients, and docker-compose for the infrastructure.

Ground truth (what discovery must find, and what the lab's policy proof asks of the kit):
- ``bookings-api`` (port 5410): Marten schema ``bookings``, saga ``Booking``; publishes
  ``BookingRequested`` to the RabbitMQ queue ``billing-booking-requested``; listens to
  ``bookings-billing-events``.
- ``billing-api`` (port 5420): Marten schema ``billing``; listens to ``billing-booking-requested``;
  publishes ``InvoicePaid`` to ``bookings-billing-events``.
- ``portal-web`` (port 5430, Blazor Server): calls ``bookings-api`` and ``billing-api`` over HTTP.
"""

from __future__ import annotations

from pathlib import Path

PACKAGES = """<Project>
  <PropertyGroup><ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally></PropertyGroup>
  <ItemGroup>
    <PackageVersion Include="WolverineFx.Http.Marten" Version="5.40.1" />
    <PackageVersion Include="WolverineFx.RabbitMQ" Version="5.40.1" />
    <PackageVersion Include="Marten" Version="8.14.0" />
    <PackageVersion Include="OpenTelemetry.Extensions.Hosting" Version="1.12.0" />
  </ItemGroup>
</Project>
"""

BUILD_PROPS = """<Project>
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
</Project>
"""

SOLUTION = """<Solution>
  <Folder Name="/Bookings/">
    <Project Path="src/Bookings/Bookings/Bookings.csproj" />
    <Project Path="src/Bookings/Bookings.Api/Bookings.Api.csproj" />
  </Folder>
  <Folder Name="/Pet Billing/">
    <Project Path="src/Pet Billing/Billing.Api/Billing.Api.csproj" />
  </Folder>
  <Folder Name="/Customer Portal/">
    <Project Path="src/Customer Portal/Portal.Web/Portal.Web.csproj" />
  </Folder>
  <Folder Name="/Staff/">
    <Project Path="src/Staff/Staff.Web/Staff.Web.csproj" />
  </Folder>
  <Project Path="src/Shared/Kennel.Contracts/Kennel.Contracts.csproj" />
  <Project Path="src/Kennel.ServiceDefaults/Kennel.ServiceDefaults.csproj" />
</Solution>
"""

LIB = """<Project Sdk="Microsoft.NET.Sdk">
  <ItemGroup>{refs}</ItemGroup>
</Project>
"""

WEB = """<Project Sdk="Microsoft.NET.Sdk.Web">
  <ItemGroup>{packages}</ItemGroup>
  <ItemGroup>{refs}</ItemGroup>
</Project>
"""

SERVICE_DEFAULTS = """using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace Microsoft.Extensions.Hosting;

public static class Extensions
{
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks();
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddAspNetCoreInstrumentation().AddMeter("Wolverine*"));
        return builder;
    }

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        if (app.Environment.IsDevelopment())
        {
            app.MapHealthChecks("/health");
            app.MapHealthChecks("/alive");
        }
        return app;
    }
}
"""

CONTRACTS = """namespace Kennel.Contracts.Bookings;

public sealed record BookingRequested(Guid BookingId, Guid PetId, decimal Amount, DateTimeOffset RequestedAt);
"""

CONTRACTS_BILLING = """namespace Kennel.Contracts.Billing;

public sealed record InvoicePaid(Guid BookingId, Guid InvoiceId, decimal Amount, DateTimeOffset PaidAt);
"""

CONSTANTS = """namespace Bookings;

public static class Constants
{
    public const string Bookings = "Bookings";
}
"""

SAGA = """using Kennel.Contracts.Billing;
using Kennel.Contracts.Bookings;
using Wolverine;

namespace Bookings.Stays;

public sealed record StartBooking(Guid BookingId, Guid PetId, decimal Amount);

public enum BookingStatus { Requested, Paid, CheckedIn, Closed }

public sealed class Booking : Saga
{
    public Guid Id { get; set; }
    public BookingStatus Status { get; set; }

    public static (Booking, BookingRequested) Start(StartBooking command) =>
        (new Booking { Id = command.BookingId, Status = BookingStatus.Requested },
         new BookingRequested(command.BookingId, command.PetId, command.Amount, DateTimeOffset.UtcNow));

    public void Handle(InvoicePaid paid)
    {
        Status = BookingStatus.Paid;
    }
}
"""

BOOKINGS_PROGRAM = """using Bookings;
using Bookings.Stays;
using JasperFx;
using JasperFx.Events.Daemon;
using Kennel.Contracts.Bookings;
using Marten;
using Weasel.Core;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

var connectionString = builder.Configuration.GetConnectionString("postgres")
                       ?? throw new Exception("The connection string 'postgres' was not found");

builder.Services.AddMarten(opts =>
    {
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = Constants.Bookings.ToLowerInvariant();
        opts.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        opts.Schema.For<Booking>().Identity(x => x.Id);
    })
    .AddAsyncDaemon(DaemonMode.HotCold)
    .UseLightweightSessions()
    .IntegrateWithWolverine(config => config.UseWolverineManagedEventSubscriptionDistribution = true);

builder.Host.UseWolverine(opts =>
{
    opts.Discovery.IncludeAssembly(typeof(Booking).Assembly);
    opts.Policies.AutoApplyTransactions();
    opts.Policies.UseDurableLocalQueues();
    opts.Policies.UseDurableOutboxOnAllSendingEndpoints();

    var rabbit = builder.Configuration.GetSection("RabbitMQ");
    opts.UseRabbitMq(factory =>
        {
            factory.HostName = rabbit["hostname"] ?? "localhost";
            factory.Port = rabbit.GetValue<int?>("port") ?? 5672;
        })
        .AutoProvision();

    opts.PublishMessage<BookingRequested>().ToRabbitQueue("billing-booking-requested");
    opts.ListenToRabbitQueue("bookings-billing-events").UseDurableInbox();
});

builder.Services.AddWolverineHttp();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapWolverineEndpoints();
return await app.RunJasperFxCommands(args);
"""

BILLING_HANDLER = """using Kennel.Contracts.Billing;
using Kennel.Contracts.Bookings;

namespace Billing.Api.Invoicing;

public static class BookingRequestedHandler
{
    public static InvoicePaid Handle(BookingRequested requested) =>
        new(requested.BookingId, Guid.NewGuid(), requested.Amount, DateTimeOffset.UtcNow);
}
"""

BILLING_PROGRAM = """using JasperFx;
using Kennel.Contracts.Billing;
using Marten;
using Wolverine;
using Wolverine.Marten;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

var connectionString = builder.Configuration.GetConnectionString("postgres")
                       ?? throw new Exception("The connection string 'postgres' was not found");

builder.Services.AddMarten(opts =>
    {
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = "billing";
    })
    .UseLightweightSessions()
    .IntegrateWithWolverine();

builder.Host.UseWolverine(opts =>
{
    opts.Policies.AutoApplyTransactions();
    opts.Policies.UseDurableOutboxOnAllSendingEndpoints();

    var rabbit = builder.Configuration.GetSection("RabbitMQ");
    opts.UseRabbitMq(factory => { factory.HostName = rabbit["hostname"] ?? "localhost"; }).AutoProvision();

    opts.ListenToRabbitQueue("billing-booking-requested").UseDurableInbox();
    opts.PublishMessage<InvoicePaid>().ToRabbitQueue("bookings-billing-events");
});

var app = builder.Build();
app.MapDefaultEndpoints();
return await app.RunJasperFxCommands(args);
"""

PORTAL_PROGRAM = """var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

builder.Services.AddRazorComponents().AddInteractiveServerComponents();

builder.Services.AddHttpClient("BookingsClient", client =>
{
    client.BaseAddress = new Uri(builder.Configuration["ApiClients:BookingsApiUrl"] ?? "http://localhost:5410");
});
builder.Services.AddHttpClient("BillingClient", client =>
{
    client.BaseAddress = new Uri(builder.Configuration["ApiClients:BillingApiUrl"] ?? "http://localhost:5420");
});

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseAntiforgery();
app.Run();
"""


# A Blazor WebAssembly app, as CritterSupply's VendorPortal.Web: static files, the browser calls the API
STAFF_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk.BlazorWebAssembly">
  <ItemGroup>
    <PackageReference Include="Microsoft.AspNetCore.Components.WebAssembly" />
  </ItemGroup>
</Project>
"""

STAFF_PROGRAM = """using Microsoft.AspNetCore.Components.WebAssembly.Hosting;

var builder = WebAssemblyHostBuilder.CreateDefault(args);

// In Blazor WASM the base address defaults to the app's own URL: the billing API's comes from configuration
var billingApiUrl = builder.Configuration["ApiClients:BillingApiUrl"] ?? "http://localhost:5420";
builder.Services.AddHttpClient("BillingApi", client =>
{
    client.BaseAddress = new Uri(billingApiUrl);
});

await builder.Build().RunAsync();
"""


def _launch(port: int, name: str) -> str:
    return f"""{{
  "profiles": {{
    "{name}": {{
      "commandName": "Project",
      "applicationUrl": "http://localhost:{port}",
      "environmentVariables": {{ "ASPNETCORE_ENVIRONMENT": "Development" }}
    }}
  }}
}}
"""


COMPOSE = """name: kennel
services:
  postgres:
    image: postgres:17
    ports: ["5432:5432"]
    environment:
      POSTGRES_USER: postgres
      POSTGRES_PASSWORD: postgres
    profiles: [infrastructure]
  rabbitmq:
    image: rabbitmq:4-management
    ports: ["5672:5672", "15672:15672"]
    profiles: [infrastructure]
"""


def critter_conventions_repo(root: Path) -> Path:
    """Write the Kennel repository under ``root`` and return ``root``."""
    contracts_ref = '<ProjectReference Include="..\\..\\Shared\\Kennel.Contracts\\Kennel.Contracts.csproj" />'
    defaults_ref = '<ProjectReference Include="..\\..\\Kennel.ServiceDefaults\\Kennel.ServiceDefaults.csproj" />'
    pkgs = '<PackageReference Include="WolverineFx.Http.Marten" /><PackageReference Include="WolverineFx.RabbitMQ" />'
    files = {
        "Kennel.slnx": SOLUTION,
        "Directory.Packages.props": PACKAGES,
        "Directory.Build.props": BUILD_PROPS,
        "docker-compose.yml": COMPOSE,
        "src/Shared/Kennel.Contracts/Kennel.Contracts.csproj": LIB.format(refs=""),
        "src/Shared/Kennel.Contracts/Bookings/BookingRequested.cs": CONTRACTS,
        "src/Shared/Kennel.Contracts/Billing/InvoicePaid.cs": CONTRACTS_BILLING,
        "src/Kennel.ServiceDefaults/Kennel.ServiceDefaults.csproj": LIB.format(refs=""),
        "src/Kennel.ServiceDefaults/Extensions.cs": SERVICE_DEFAULTS,
        "src/Bookings/Bookings/Bookings.csproj": LIB.format(refs=contracts_ref),
        "src/Bookings/Bookings/Constants.cs": CONSTANTS,
        "src/Bookings/Bookings/Stays/Booking.cs": SAGA,
        "src/Bookings/Bookings.Api/Bookings.Api.csproj": WEB.format(
            packages=pkgs, refs='<ProjectReference Include="..\\Bookings\\Bookings.csproj" />' + defaults_ref
        ),
        "src/Bookings/Bookings.Api/Program.cs": BOOKINGS_PROGRAM,
        "src/Bookings/Bookings.Api/Properties/launchSettings.json": _launch(5410, "Bookings.Api"),
        "src/Pet Billing/Billing.Api/Billing.Api.csproj": WEB.format(packages=pkgs, refs=contracts_ref + defaults_ref),
        "src/Pet Billing/Billing.Api/Program.cs": BILLING_PROGRAM,
        "src/Pet Billing/Billing.Api/Invoicing/BookingRequestedHandler.cs": BILLING_HANDLER,
        "src/Pet Billing/Billing.Api/Properties/launchSettings.json": _launch(5420, "Billing.Api"),
        "src/Customer Portal/Portal.Web/Portal.Web.csproj": WEB.format(packages="", refs=defaults_ref),
        "src/Customer Portal/Portal.Web/Program.cs": PORTAL_PROGRAM,
        "src/Customer Portal/Portal.Web/Properties/launchSettings.json": _launch(5430, "Portal.Web"),
        "src/Staff/Staff.Web/Staff.Web.csproj": STAFF_CSPROJ,
        "src/Staff/Staff.Web/Program.cs": STAFF_PROGRAM,
        "src/Staff/Staff.Web/Properties/launchSettings.json": _launch(5440, "Staff.Web"),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
