using JasperFx;
using JasperFx.Resources;
using Messages.Contracts.Payments;
using Microsoft.EntityFrameworkCore;
using Payments;
using Payments.Processing;
using Wolverine;
using Wolverine.EntityFrameworkCore;
using Wolverine.Http;
using Wolverine.Postgresql;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Host.ApplyJasperFxExtensions();

var connectionString = builder.Configuration.GetConnectionString("postgres")
    ?? throw new InvalidOperationException("Connection string 'postgres' is missing");

// Singleton options lifetime lets Wolverine build DbContexts without a service-locator hop
builder.Services.AddDbContext<PaymentsDbContext>(
    o => o.UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable("__EFMigrationsHistory", "payments")),
    optionsLifetime: ServiceLifetime.Singleton);

builder.Services.AddSingleton<IPaymentGateway, SandboxPaymentGateway>();

builder.Host.UseWolverine(opts =>
{
    opts.Discovery.IncludeAssembly(typeof(PaymentsDbContext).Assembly);

    // Inbox/outbox tables live next to the EF Core tables in the "payments" schema
    opts.PersistMessagesWithPostgresql(connectionString, "payments");
    opts.UseEntityFrameworkCoreTransactions();

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

    opts.ListenToRabbitQueue("payments-requests")
        .UseDurableInbox()
        .MaximumParallelMessages(4);

    opts.PublishMessage<PaymentAuthorized>().ToRabbitQueue("orders-payment-events");
    opts.PublishMessage<PaymentFailed>().ToRabbitQueue("orders-payment-events");
});

builder.Services.AddResourceSetupOnStartup();
builder.Services.AddWolverineHttp();
builder.Services.AddOpenApi();

var app = builder.Build();

if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();

    await using var scope = app.Services.CreateAsyncScope();
    await scope.ServiceProvider.GetRequiredService<PaymentsDbContext>().Database.MigrateAsync();
}

app.MapDefaultEndpoints();
app.MapWolverineEndpoints();

return await app.RunJasperFxCommands(args);

public partial class Program;
