"""The configuration keys each service's code reads (Service.settings), and what it hard-codes instead.

Snippet cases check one construct each; the fixture repositories (one per convention: plain
ASP.NET with GetConnectionString, Wolverine's broker connections, options binding, HTTP client base
URLs, an Aspire AppHost, hard-coded values) are checked against their full ground truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from critterops.discover import discover
from critterops.discover.csharp import syntax
from critterops.discover.csharp.configreads import ConfigFacts, read_configuration
from critterops.discover.csharp.configvocab import CONFIG_MARKERS, looks_like_configuration, mask, secret_name
from critterops.discover.csharp.values import Scope
from critterops.model import Service, System
from critterops.report.markdown import system_markdown
from critterops.report.plain import system_dict
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

# (key, kind, via, target, secret, default, file)
Row = tuple[str, str, str, str | None, bool, str | None, bool]


def read(code: str, constants: dict[str, str] | None = None) -> ConfigFacts:
    tree = syntax.parse(code.encode())
    return read_configuration(tree.root_node, "Program.cs", Scope(constants or {}, {}))


def rows(service: Service | None) -> set[Row]:
    assert service is not None
    return {(s.key, s.kind, s.via, s.target, s.secret, s.default, s.file) for s in service.settings}


def warnings(system: System) -> list[str]:
    return [f"{w.file}:{w.line} {w.message}" for w in system.warnings]


# --- one construct each --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(
            'var cs = builder.Configuration.GetConnectionString("marten");',
            [("ConnectionStrings:marten", "connection-string", "GetConnectionString")],
            id="get-connection-string",
        ),
        pytest.param(
            'var cs = builder.Configuration["ConnectionStrings:identity"];',
            [("ConnectionStrings:identity", "connection-string", "Configuration[]")],
            id="connection-string-by-indexer",
        ),
        pytest.param(
            'var flag = builder.Configuration.GetValue<bool>("Features:Beta");',
            [("Features:Beta", "key", "GetValue")],
            id="get-value",
        ),
        pytest.param(
            'var n = config.GetValue(typeof(int), "Limits:Max");',
            [("Limits:Max", "key", "GetValue")],
            id="get-value-typeof",
        ),
        pytest.param(
            'var s = builder.Configuration.GetSection("RabbitMQ"); var h = s["hostname"]; '
            'var p = s.GetValue<int>("port");',
            [("RabbitMQ:hostname", "key", "Configuration[]"), ("RabbitMQ:port", "key", "GetValue")],
            id="section-variable-keys",
        ),
        pytest.param(
            'var v = configuration.GetSection("Outer").GetSection("Inner")["Leaf"];',
            [("Outer:Inner:Leaf", "key", "Configuration[]")],
            id="nested-sections",
        ),
        pytest.param(
            'var v = builder.Configuration.GetSection("Mode").Value;',
            [("Mode", "key", "GetSection().Value")],
            id="section-value",
        ),
        pytest.param(
            "class C(IConfiguration settings) { string U() => settings[Keys.Url]; }",
            [("Api:Url", "key", "Configuration[]")],
            id="typed-primary-constructor-parameter-and-constant",
        ),
        pytest.param(
            'class C { private readonly IConfiguration _cfg; string V() => _cfg[$"Vault:{path}"]; }',
            [("Vault", "section", "Configuration[]")],
            id="dynamic-key-gives-its-section",
        ),
        pytest.param(
            'var k = Environment.GetEnvironmentVariable("PAYMENTS__API_KEY");',
            [("PAYMENTS:API_KEY", "key", "Environment.GetEnvironmentVariable")],
            id="environment-variable",
        ),
        pytest.param(
            'class V { string Name(string p) => "VAULT__" + p.ToUpperInvariant(); string Get(string p) '
            "{ var n = Name(p); return Environment.GetEnvironmentVariable(n); } }",
            [("VAULT", "section", "Environment.GetEnvironmentVariable")],
            id="environment-variable-prefix-through-helper",
        ),
        pytest.param(
            'var x = headers["Authorization"]; var y = items[0];',
            [],
            id="other-indexers-are-not-configuration",
        ),
        pytest.param(
            '// var cs = builder.Configuration.GetConnectionString("commented");',
            [],
            id="commented-out",
        ),
        pytest.param(
            "class F : IDesignTimeDbContextFactory<Db> { Db Create(string[] a) { "
            'var c = new ConfigurationBuilder().Build(); o.UseNpgsql(c.GetConnectionString("design")); '
            'o.UseNpgsql("Host=localhost;Password=x"); return null; } }',
            [],
            id="design-time-factory-never-runs-deployed",
        ),
    ],
)
def test_reads(code: str, expected: list[tuple[str, str, str]]) -> None:
    facts = read(code, {"Keys.Url": "Api:Url", "Url": "Api:Url"})
    assert [(r.key, r.kind, r.via) for r in facts.reads] == expected
    assert not facts.hard_coded


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(
            'opts.UseRabbitMq(r => { r.HostName = rabbit["hostname"] ?? "localhost"; '
            'r.Password = rabbit["password"]; });',
            [("RabbitMQ:hostname", "broker", False, "rabbitmq"), ("RabbitMQ:password", "broker", True, "rabbitmq")],
            id="factory-properties-through-a-section-variable",
        ),
        pytest.param(
            'var host = builder.Configuration["Rabbit:Host"]; opts.UseRabbitMq(r => r.HostName = host);',
            [("Rabbit:Host", "broker", False, "rabbitmq")],
            id="through-a-local-variable",
        ),
        pytest.param(
            'opts.UseRabbitMq(new Uri(builder.Configuration["RabbitMQ:Uri"]!));',
            [("RabbitMQ:Uri", "broker", True, "rabbitmq")],
            id="uri-holds-credentials",
        ),
        pytest.param(
            'opts.UseRabbitMq(builder.Configuration.GetConnectionString("rabbit")!);',
            [("ConnectionStrings:rabbit", "broker", True, "rabbitmq")],
            id="connection-string-into-the-transport",
        ),
        pytest.param(
            'opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();',
            [("ConnectionStrings:rabbitmq", "broker", True, "rabbitmq")],
            id="wolverine-named-connection",
        ),
        pytest.param(
            'opts.UseKafkaUsingNamedConnection("kafka");',
            [("ConnectionStrings:kafka", "broker", True, "kafka")],
            id="wolverine-kafka-named-connection",
        ),
    ],
)
def test_broker_settings(code: str, expected: list[tuple[str, str, bool, str]]) -> None:
    rabbit = 'var rabbit = builder.Configuration.GetSection("RabbitMQ");\n'
    facts = read(rabbit + code)
    assert [(r.key, r.kind, r.secret, r.infra) for r in facts.reads] == expected
    assert not facts.hard_coded


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        pytest.param(
            'opts.UseRabbitMq(new Uri("amqp://guest:guest@localhost:5672"));',
            "UseRabbitMq connects to 'amqp://guest:***@localhost:5672', written in code: read it from configuration: "
            'builder.Configuration.GetConnectionString("rabbitmq") (or UseRabbitMqUsingNamedConnection("rabbitmq"))',
            id="broker-uri",
        ),
        pytest.param(
            'services.AddMarten(o => o.Connection("Host=localhost;Database=app;Username=app;Password=s3cret"));',
            "Connection is given the connection string 'Host=localhost;Database=app;Username=app;Password=***'",
            id="marten-connection",
        ),
        pytest.param(
            'services.AddHttpClient<OrdersClient>(c => c.BaseAddress = new Uri("http://localhost:5231"));',
            "HTTP client OrdersClient's base address is 'http://localhost:5231', written in code: read it from "
            'configuration: builder.Configuration["ApiClients:OrdersUrl"]',
            id="http-base-address",
        ),
        pytest.param(
            'opts.UseRabbitMq(r => { r.HostName = "localhost"; });',
            "the rabbitmq HostName is 'localhost', written in code",
            id="broker-host-property",
        ),
        pytest.param(
            'services.AddAuthentication().AddJwtBearer("Backoffice", o => o.Authority = "https://localhost:5249");',
            "the Backoffice Authority is 'https://localhost:5249'",
            id="jwt-authority",
        ),
    ],
)
def test_hard_coded(code: str, fragment: str) -> None:
    messages = [message for _, message in read(code).hard_coded]
    assert len(messages) == 1
    assert fragment in messages[0]
    assert "s3cret" not in messages[0] and "guest@" not in messages[0]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            'c.BaseAddress = new Uri(builder.Configuration["Api:Url"] ?? "http://localhost:1");', id="fallback"
        ),
        pytest.param('c.BaseAddress = new Uri("https://api.stripe.com");', id="external-url"),
        pytest.param('opts.UseRabbitMqUsingNamedConnection("rabbitmq");', id="named-connection"),
        pytest.param(
            'o.Connection(builder.Configuration.GetConnectionString("marten")!);', id="connection-from-config"
        ),
        pytest.param('builder.AddNpgsqlDataSource("postgres");', id="aspire-connection-name"),
        pytest.param('opts.PersistMessagesWithPostgresql(cs, "wolverine");', id="schema-name-is-no-connection"),
    ],
)
def test_not_hard_coded(code: str) -> None:
    assert read(code).hard_coded == []


def test_secret_names_and_masking() -> None:
    assert [secret_name(k) for k in ("Jwt:SigningKey", "RabbitMQ:password", "Auth:ClientSecret", "Vault:x")] == [
        True,
        True,
        True,
        True,
    ]
    assert not any(secret_name(k) for k in ("Jwt:AccessTokenExpiryMinutes", "RabbitMQ:hostname", "Jwt:Issuer"))
    assert mask("Host=h;Password=p;Username=u") == "Host=h;Password=***;Username=u"
    assert mask("amqp://user:pw@host/") == "amqp://user:***@host/"


# --- fixture repositories, one per convention ----------------------------------------------------

LAUNCH = '{"profiles": {"http": {"commandName": "Project", "applicationUrl": "http://localhost:%d"}}}'

PLAIN: dict[str, str | bytes] = {
    "docker-compose.yml": """services:
  postgres:
    image: postgres:16
    ports: ["5433:5432"]
  identity-api:
    build: {context: ., dockerfile: src/Identity.Api/Dockerfile}
    environment:
      ConnectionStrings__marten: "Host=postgres;Database=identity;Username=app;Password=app"
""",
    "src/Identity.Api/Identity.Api.csproj": web_csproj(references=("../Identity/Identity.csproj",)),
    "src/Identity.Api/Dockerfile": "FROM mcr.microsoft.com/dotnet/aspnet:9.0\n",
    "src/Identity.Api/Program.cs": """
var builder = WebApplication.CreateBuilder(args);
var marten = builder.Configuration.GetConnectionString("marten")
    ?? throw new InvalidOperationException("missing");
builder.Services.AddMarten(opts => opts.Connection(marten));
builder.Services.AddDbContext<IdentityDb>(o => o.UseNpgsql(builder.Configuration["ConnectionStrings:identity"]));
var apiKey = Environment.GetEnvironmentVariable("PAYMENTS__API_KEY");
builder.Build().Run();
""",
    "src/Identity.Api/appsettings.json": """{
  "ConnectionStrings": {
    "marten": "Host=localhost;Port=5433;Database=identity;Username=app;Password=app",
    "identity": "Host=localhost;Port=5433;Database=users;Username=app;Password=app"
  },
  "Features": { "Beta": true }
}""",
    "src/Identity.Api/appsettings.Development.json": '{"Features": {"Beta": false}, "Only": {"Dev": "x"}}',
    "src/Identity/Identity.csproj": LIB_CSPROJ,
    "src/Identity/Features.cs": """
using Microsoft.Extensions.Configuration;
namespace Identity;
public sealed class Features(IConfiguration configuration)
{
    public bool Beta => configuration.GetValue<bool>("Features:Beta");
    public string? DevOnly => configuration["Only:Dev"];
}
""",
    "src/Identity/DesignTimeFactory.cs": """
public class DesignTimeFactory : IDesignTimeDbContextFactory<IdentityDb>
{
    public IdentityDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<IdentityDb>().UseNpgsql("Host=localhost;Password=dev").Options);
}
""",
}


def test_plain_aspnet_connection_strings(write_repo: WriteRepo) -> None:
    system = discover(write_repo(PLAIN))
    assert rows(system.service("identity-api")) == {
        # compose's value names the postgres service; appsettings.json (not Development) gives the default
        (
            "ConnectionStrings:marten",
            "connection-string",
            "GetConnectionString",
            "postgres",
            True,
            "Host=localhost;Port=5433;Database=identity;Username=app;Password=app",
            False,
        ),
        # no compose value: localhost:5433 is what the postgres service publishes
        (
            "ConnectionStrings:identity",
            "connection-string",
            "Configuration[]",
            "postgres",
            True,
            "Host=localhost;Port=5433;Database=users;Username=app;Password=app",
            False,
        ),
        ("Features:Beta", "key", "GetValue", None, False, "true", False),
        ("Only:Dev", "key", "Configuration[]", None, False, None, False),
        ("PAYMENTS:API_KEY", "key", "Environment.GetEnvironmentVariable", None, True, None, False),
    }
    service = system.service("identity-api")
    assert service is not None
    assert {s.env_var for s in service.settings} >= {"ConnectionStrings__marten", "PAYMENTS__API_KEY"}
    # the design-time factory only runs under `dotnet ef`: no warning for its literal connection string
    assert not [w for w in warnings(system) if "written in code" in w]


BROKERS: dict[str, str | bytes] = {
    "src/Orders/Orders.csproj": web_csproj(),
    "src/Orders/Program.cs": """
builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.PersistMessagesWithPostgresql(builder.Configuration.GetConnectionString("wolverine")!, "wolverine");
});
""",
    "src/Orders/appsettings.json": '{"ConnectionStrings": {"rabbitmq": "amqp://guest:guest@localhost:5672", '
    '"wolverine": "Host=localhost;Database=orders"}}',
    "src/Billing/Billing.csproj": web_csproj(),
    "src/Billing/Program.cs": """
builder.Host.UseWolverine(opts => opts.UseRabbitMq(new Uri(builder.Configuration["RabbitMQ:Uri"]!)));
""",
    "src/Shipping/Shipping.csproj": web_csproj(),
    "src/Shipping/Program.cs": """
builder.Host.UseWolverine(opts =>
{
    var rabbit = builder.Configuration.GetSection("RabbitMQ");
    opts.UseRabbitMq(factory =>
    {
        factory.HostName = rabbit["hostname"] ?? "localhost";
        factory.Port = rabbit.GetValue<int?>("port") ?? 5672;
        factory.UserName = rabbit["username"] ?? "guest";
        factory.Password = rabbit["password"] ?? "guest";
    });
    var host = builder.Configuration["Kafka:BootstrapServers"];
    opts.UseKafka(host!);
});
""",
    "src/Shipping/appsettings.json": '{"RabbitMQ": {"hostname": "localhost", "port": 5672}}',
    "docker-compose.yml": """services:
  broker:
    image: rabbitmq:3-management
    ports: ["5672:5672"]
  db:
    image: postgres:16
  kafka:
    image: confluentinc/cp-kafka:7.6.0
""",
}


def test_wolverine_broker_connections(write_repo: WriteRepo) -> None:
    system = discover(write_repo(BROKERS))
    assert rows(system.service("orders")) == {
        # UseRabbitMqUsingNamedConnection reads configuration.GetConnectionString(name)
        (
            "ConnectionStrings:rabbitmq",
            "broker",
            "UseRabbitMqUsingNamedConnection",
            "broker",
            True,
            "amqp://guest:guest@localhost:5672",
            False,
        ),
        (
            "ConnectionStrings:wolverine",
            "connection-string",
            "GetConnectionString",
            "db",
            True,
            "Host=localhost;Database=orders",
            False,
        ),
    }
    assert rows(system.service("billing")) == {
        ("RabbitMQ:Uri", "broker", "Configuration[]", "broker", True, None, False)
    }
    assert rows(system.service("shipping")) == {
        ("RabbitMQ:hostname", "broker", "Configuration[]", "broker", False, "localhost", False),
        ("RabbitMQ:port", "broker", "GetValue", "broker", False, "5672", False),
        ("RabbitMQ:username", "broker", "Configuration[]", "broker", False, None, False),
        ("RabbitMQ:password", "broker", "Configuration[]", "broker", True, None, False),
        ("Kafka:BootstrapServers", "broker", "Configuration[]", "kafka", False, None, False),
    }
    assert not [w for w in warnings(system) if "written in code" in w or "UseRabbitMq" in w]


OPTIONS: dict[str, str | bytes] = {
    "src/Mailer/Mailer.csproj": web_csproj(),
    "src/Mailer/Program.cs": """
using System.Security.Cryptography.X509Certificates;
builder.Services.Configure<SmtpOptions>(builder.Configuration.GetSection(SmtpOptions.SectionName));
builder.Services.AddOptions<RetryOptions>().BindConfiguration("Retry");
var origins = builder.Configuration.GetSection("Cors:Origins").Get<string[]>();
var signingKey = File.ReadAllText(builder.Configuration["Signing:KeyPath"]!);
var certPath = builder.Configuration["Tls:CertificatePath"];
var certificate = new X509Certificate2(certPath!, builder.Configuration["Tls:CertificatePassword"]);
""",
    "src/Mailer/SmtpOptions.cs": """
namespace Mailer;
public sealed class SmtpOptions
{
    public const string SectionName = "Smtp";
    public string Host { get; set; } = "localhost";
    public int Port { get; set; } = 25;
    public string? Password { get; set; }
    public TlsOptions Tls { get; set; } = new();
    private string Hidden { get; set; } = "";
}
public sealed class TlsOptions
{
    public bool Enabled { get; set; }
}
public record RetryOptions(int Attempts, TimeSpan Delay);
""",
    "src/Mailer/appsettings.json": '{"Smtp": {"Host": "mail", "Port": 2525}, "Retry": {"Attempts": 3}}',
}


def test_options_binding_and_files(write_repo: WriteRepo) -> None:
    system = discover(write_repo(OPTIONS))
    assert rows(system.service("mailer")) == {
        ("Smtp", "section", "Configure<SmtpOptions>", None, False, None, False),
        ("Smtp:Host", "key", "SmtpOptions.Host", None, False, "mail", False),
        ("Smtp:Port", "key", "SmtpOptions.Port", None, False, "2525", False),
        ("Smtp:Password", "key", "SmtpOptions.Password", None, True, None, False),
        ("Smtp:Tls:Enabled", "key", "TlsOptions.Enabled", None, False, None, False),
        ("Retry", "section", "AddOptions<RetryOptions>().BindConfiguration", None, False, None, False),
        ("Retry:Attempts", "key", "RetryOptions.Attempts", None, False, "3", False),
        ("Retry:Delay", "key", "RetryOptions.Delay", None, False, None, False),
        ("Cors:Origins", "section", "Get<string[]>", None, False, None, False),
        ("Signing:KeyPath", "key", "Configuration[]", None, False, None, True),
        ("Tls:CertificatePath", "key", "Configuration[]", None, False, None, True),
        ("Tls:CertificatePassword", "key", "Configuration[]", None, True, None, True),
    }


HTTP: dict[str, str | bytes] = {
    "src/Orders.Api/Orders.Api.csproj": web_csproj(),
    "src/Orders.Api/Program.cs": "var app = WebApplication.CreateBuilder(args).Build();",
    "src/Orders.Api/Properties/launchSettings.json": LAUNCH % 5101,
    "src/Catalog.Api/Catalog.Api.csproj": web_csproj(),
    "src/Catalog.Api/Program.cs": "var app = WebApplication.CreateBuilder(args).Build();",
    "src/Catalog.Api/Properties/launchSettings.json": LAUNCH % 5102,
    "src/Stock.Api/Stock.Api.csproj": web_csproj(),
    "src/Stock.Api/Program.cs": "var app = WebApplication.CreateBuilder(args).Build();",
    "src/Web/Web.csproj": web_csproj(),
    "src/Web/Program.cs": """
builder.Services.AddHttpClient<OrdersClient>(c =>
    c.BaseAddress = new Uri(builder.Configuration["ApiClients:OrdersApiUrl"]!));
builder.Services.AddHttpClient("catalog", c =>
{
    var url = builder.Configuration.GetValue<string>("Catalog:BaseUrl") ?? "http://localhost:5102";
    c.BaseAddress = new Uri(url);
});
builder.Services.AddHttpClient("stock", c =>
{
    var url = builder.Configuration["ApiClients:Stock"];
    c.BaseAddress = new Uri(url!);
});
builder.Services.AddHttpClient<StockClient>(c => c.BaseAddress = new("https+http://stock-api"));
""",
    "src/Web/appsettings.json": '{"ApiClients": {"OrdersApiUrl": "http://localhost:5101"}}',
}


def test_http_client_base_urls(write_repo: WriteRepo) -> None:
    system = discover(write_repo(HTTP))
    assert rows(system.service("web")) == {
        (
            "ApiClients:OrdersApiUrl",
            "http-base-url",
            "Configuration[]",
            "orders-api",
            False,
            "http://localhost:5101",
            False,
        ),
        # each lambda's own `url` local: the code's fallback port names catalog-api
        ("Catalog:BaseUrl", "http-base-url", "GetValue", "catalog-api", False, None, False),
        # no value anywhere: the key names stock-api
        ("ApiClients:Stock", "http-base-url", "Configuration[]", "stock-api", False, None, False),
        # Aspire service discovery resolves https+http://stock-api from services:stock-api:http:0
        (
            "services:stock-api:http:0",
            "http-base-url",
            "service discovery (https+http://stock-api)",
            "stock-api",
            False,
            None,
            False,
        ),
    }
    web = system.service("web")
    assert web is not None
    assert {(c.client, c.target) for c in web.http_calls} >= {("catalog", "catalog-api"), ("stock", "stock-api")}


ASPIRE: dict[str, str | bytes] = {
    "src/Shop.AppHost/Shop.AppHost.csproj": '<Project Sdk="Aspire.AppHost.Sdk/9.0.0"><PropertyGroup>'
    "<OutputType>Exe</OutputType></PropertyGroup></Project>",
    "src/Shop.AppHost/AppHost.cs": """
var builder = DistributedApplication.CreateBuilder(args);
var db = builder.AddPostgres("pg").AddDatabase("ordersdb");
var messaging = builder.AddRabbitMQ("messaging");
var orders = builder.AddProject<Projects.Orders_Api>("orders")
    .WithReference(db)
    .WithReference(messaging);
builder.AddProject<Projects.Web>("web").WithReference(orders);
builder.Build().Run();
""",
    "src/Orders.Api/Orders.Api.csproj": web_csproj(),
    "src/Orders.Api/Program.cs": """
var builder = WebApplication.CreateBuilder(args);
builder.AddNpgsqlDataSource("ordersdb");
builder.AddRabbitMQClient("messaging");
builder.Host.UseWolverine(opts => opts.UseRabbitMq().AutoProvision());
""",
    "src/Web/Web.csproj": web_csproj(),
    "src/Web/Program.cs": "var builder = WebApplication.CreateBuilder(args);",
}


def test_aspire_apphost(write_repo: WriteRepo) -> None:
    system = discover(write_repo(ASPIRE))
    # the AppHost names Orders.Api "orders": that is the service's name
    assert rows(system.service("orders")) == {
        # Aspire client integrations read ConnectionStrings:{connection name}, the AppHost supplies it
        ("ConnectionStrings:ordersdb", "connection-string", "AddNpgsqlDataSource", "ordersdb", True, None, False),
        ("ConnectionStrings:messaging", "connection-string", "AddRabbitMQClient", "messaging", True, None, False),
    }
    assert rows(system.service("web")) == {
        ("services:orders:http:0", "aspire-reference", "WithReference", "orders", False, None, False),
    }
    # AddRabbitMQClient registers the IConnectionFactory a bare UseRabbitMq() uses
    assert not [w for w in warnings(system) if "UseRabbitMq" in w]


HARD_CODED: dict[str, str | bytes] = {
    "src/Legacy/Legacy.csproj": web_csproj(),
    "src/Legacy/Program.cs": """
builder.Services.AddMarten(opts =>
{
    opts.Connection("Host=localhost;Database=legacy;Username=app;Password=s3cret");
});
builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMq(new Uri("amqp://guest:guest@localhost"));
});
builder.Services.AddHttpClient<OrdersClient>(c => c.BaseAddress = new Uri("http://localhost:5231"));
""",
    "src/Worker/Worker.csproj": web_csproj(),
    "src/Worker/Program.cs": """
builder.Host.UseWolverine(opts => opts.UseRabbitMq().AutoProvision());
""",
    "src/Stock/Stock.csproj": web_csproj(),
    "src/Stock/Program.cs": """
builder.Host.UseWolverine(opts =>
{
    opts.ListenToRabbitQueue("stock-requests");
});
""",
    "src/Audit/Audit.csproj": web_csproj(),
    "src/Audit/Program.cs": """
builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMq(factory => factory.HostName = Hosts.Broker());
    opts.ListenToRabbitQueue("audit");
});
""",
}


def test_hard_coded_values_are_reported(write_repo: WriteRepo) -> None:
    system = discover(write_repo(HARD_CODED))
    found = [w for w in warnings(system) if "written in code" in w or "UseRabbitMq" in w]
    assert found == [
        "src/Legacy/Program.cs:4 Connection is given the connection string "
        "'Host=localhost;Database=legacy;Username=app;Password=***', written in code: read it from "
        'configuration: builder.Configuration.GetConnectionString("postgres")',
        "src/Legacy/Program.cs:8 UseRabbitMq connects to 'amqp://guest:***@localhost', written in code: read it "
        'from configuration: builder.Configuration.GetConnectionString("rabbitmq") '
        '(or UseRabbitMqUsingNamedConnection("rabbitmq"))',
        "src/Legacy/Program.cs:10 HTTP client OrdersClient's base address is 'http://localhost:5231', written in "
        'code: read it from configuration: builder.Configuration["ApiClients:OrdersUrl"]',
        # the transport exists as soon as a queue is listened to: RabbitMqTransport.ConnectAsync defaults to localhost
        "src/Stock/Program.cs:4 listens to or sends on RabbitMQ but never says where the broker is (no "
        "UseRabbitMq...): Wolverine then connects to localhost:5672: read it from configuration: "
        'UseRabbitMqUsingNamedConnection("rabbitmq"), which reads ConnectionStrings:rabbitmq',
        "src/Worker/Program.cs:2 UseRabbitMq() names no broker: Wolverine then connects to localhost:5672 (no "
        'IConnectionFactory is registered): read it from configuration: UseRabbitMqUsingNamedConnection("rabbitmq"), '
        "which reads ConnectionStrings:rabbitmq",
    ]
    assert rows(system.service("legacy")) == set()


def test_example_system_settings(pawmart: Path) -> None:
    """The bundled example: every key its code reads (hand-checked against its Program.cs files)."""
    system = discover(pawmart)
    rabbit = {
        ("RabbitMQ:hostname", "broker", "Configuration[]", "rabbitmq", False, "localhost", False),
        ("RabbitMQ:virtualhost", "broker", "Configuration[]", "rabbitmq", False, "/", False),
        ("RabbitMQ:port", "broker", "GetValue", "rabbitmq", False, "5672", False),
        ("RabbitMQ:username", "broker", "Configuration[]", "rabbitmq", False, "guest", False),
        ("RabbitMQ:password", "broker", "Configuration[]", "rabbitmq", True, "guest", False),
    }
    otel = ("OTEL_EXPORTER_OTLP_ENDPOINT", "key", "Configuration[]", None, False, None, False)
    for name in ("orders-api", "payments-api", "inventory-api", "fulfillment-worker"):
        service = system.service(name)
        assert service is not None
        postgres = next(s for s in service.settings if s.key == "ConnectionStrings:postgres")
        assert (postgres.kind, postgres.target, postgres.secret) == ("connection-string", "postgres", True)
        assert {r for r in rows(service) if r[0] != "ConnectionStrings:postgres"} == rabbit | {otel}
    storefront = rows(system.service("storefront-web"))
    assert storefront == rabbit | {
        otel,
        (
            "ApiClients:OrdersApiUrl",
            "http-base-url",
            "Configuration[]",
            "orders-api",
            False,
            "http://localhost:5301",
            False,
        ),
        (
            "ApiClients:InventoryApiUrl",
            "http-base-url",
            "Configuration[]",
            "inventory-api",
            False,
            "http://localhost:5303",
            False,
        ),
        ("services:orders-api:http:0", "aspire-reference", "WithReference", "orders-api", False, None, False),
        ("services:inventory-api:http:0", "aspire-reference", "WithReference", "inventory-api", False, None, False),
    }


def test_reports_show_the_settings(write_repo: WriteRepo) -> None:
    """JSON keeps the file flag apart from the location and names the variable; Markdown hides secrets."""
    system = discover(write_repo(OPTIONS | PLAIN))
    data = system_dict(system)
    mailer = next(s for s in data["services"] if s["name"] == "mailer")
    key_path = next(s for s in mailer["settings"] if s["key"] == "Signing:KeyPath")
    assert (key_path["file"], key_path["env_var"], key_path["location"]) == (
        True,
        "Signing__KeyPath",
        {"file": "src/Mailer/Program.cs", "line": 6},
    )
    markdown = system_markdown(system)
    assert (
        "| identity-api | ConnectionStrings:marten | ConnectionStrings__marten | connection-string, secret | postgres "
        "| (secret) | src/Identity.Api/Program.cs:3 |" in markdown
    )
    assert "Password=app" not in markdown


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        *[pytest.param(b"x " + marker + b" y", True, id=marker.decode()) for marker in CONFIG_MARKERS],
        pytest.param(b"if (dict.TryGetValue(key, out var v)) {}", False, id="try-get-value"),
        pytest.param(b"modelBuilder.ApplyConfigurationsFromAssembly(typeof(Db).Assembly);", False, id="ef-configs"),
        pytest.param(b"class OrderConfiguration : IEntityTypeConfiguration<Order> {}", False, id="ef-entity-config"),
    ],
)
def test_marker_filter(source: bytes, expected: bool) -> None:
    """Files are parsed for configuration only when they hold a marker (the filter is a factored regex)."""
    assert looks_like_configuration(source) is expected


def test_blazor_webassembly_reads_wwwroot_appsettings(write_repo: WriteRepo) -> None:
    """A Blazor WebAssembly app's configuration comes from wwwroot/appsettings.json (read by the browser)."""
    root = write_repo(
        {
            "src/Orders.Api/Orders.Api.csproj": web_csproj(),
            "src/Orders.Api/Program.cs": "var app = WebApplication.CreateBuilder(args).Build();",
            "src/Admin/Admin.csproj": '<Project Sdk="Microsoft.NET.Sdk.BlazorWebAssembly"></Project>',
            "src/Admin/Program.cs": """
var builder = WebAssemblyHostBuilder.CreateDefault(args);
var ordersUrl = builder.Configuration["ApiClients:OrdersApiUrl"] ?? "http://localhost:5101";
builder.Services.AddHttpClient("OrdersApi", client => client.BaseAddress = new Uri(ordersUrl));
""",
            "src/Admin/wwwroot/appsettings.json": '{"ApiClients": {"OrdersApiUrl": "https://orders.example.com"}}',
        }
    )
    assert rows(discover(root).service("admin")) == {
        (
            "ApiClients:OrdersApiUrl",
            "http-base-url",
            "Configuration[]",
            "orders-api",
            False,
            "https://orders.example.com",
            False,
        )
    }
