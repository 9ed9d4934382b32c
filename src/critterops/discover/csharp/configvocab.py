"""The vocabulary of configuration in C#: the types, calls and properties that read or use it.

Sources, checked in the upstream code:

- Aspire client integrations read ``ConnectionStrings:{connectionName}`` (dotnet/aspire
  ``src/Components/Aspire.Npgsql/AspirePostgreSqlNpgsqlExtensions.cs``,
  ``Aspire.RabbitMQ.Client/AspireRabbitMQExtensions.cs``,
  ``Aspire.Npgsql.EntityFrameworkCore.PostgreSQL/AspireEFPostgreSqlExtensions.cs``,
  ``Aspire.StackExchange.Redis/AspireRedisExtensions.cs``: ``builder.Configuration
  .GetConnectionString(connectionName)``);
- Wolverine's ``UseRabbitMqUsingNamedConnection(name)`` and ``UseKafkaUsingNamedConnection(name)``
  read ``configuration.GetConnectionString(name)`` (JasperFx/wolverine V6.29.2
  ``src/Transports/RabbitMQ/Wolverine.RabbitMQ/RabbitMqTransportExtensions.cs`` line 125,
  ``src/Transports/Kafka/Wolverine.Kafka/KafkaTransportExtensions.cs`` line 36);
- Marten's ``StoreOptions.Connection(string)`` takes the connection string (JasperFx/marten
  ``src/Marten/StoreOptions.cs``);
- ``https+http://name`` base addresses resolve through Aspire service discovery, which reads
  ``services:name:http:0`` (aspire.dev, fundamentals/service-discovery and environment-variables).
"""

from __future__ import annotations

import re

from tree_sitter import Node

from critterops.discover.csharp.syntax import receiver, text
from critterops.discover.csharp.wiring import USE_TRANSPORT

# Microsoft.Extensions.Configuration types whose instances read keys; a section's own path is
# unknown when it arrives as a parameter or field.
ROOT_TYPES = frozenset({"IConfiguration", "IConfigurationRoot", "IConfigurationManager", "ConfigurationManager"})
SECTION_TYPES = frozenset({"IConfigurationSection"})
# builder.Configuration, context.Configuration, _configuration, config: configuration by name
ROOT_NAME = re.compile(r"^(?:_?config|_?cfg|_?configuration|_?[A-Za-z]*Configuration)$")

# Aspire client integrations (IHostApplicationBuilder extensions): connection name → ConnectionStrings:{name}
ASPIRE_CLIENTS = {
    "AddNpgsqlDataSource": "postgres",
    "AddKeyedNpgsqlDataSource": "postgres",
    "AddAzureNpgsqlDataSource": "postgres",
    "AddNpgsqlDbContext": "postgres",
    "AddRabbitMQClient": "rabbitmq",
    "AddKeyedRabbitMQClient": "rabbitmq",
    "AddRedisClient": "redis",
    "AddKeyedRedisClient": "redis",
    "AddRedisClientBuilder": "redis",
    "AddRedisDistributedCache": "redis",
    "AddRedisOutputCache": "redis",
    "AddSqlServerClient": "sqlserver",
    "AddKeyedSqlServerClient": "sqlserver",
    "AddSqlServerDbContext": "sqlserver",
    "AddKafkaProducer": "kafka",
    "AddKafkaConsumer": "kafka",
    "AddAzureServiceBusClient": "azureservicebus",
    "AddMongoDBClient": "mongodb",
    "AddNatsClient": "nats",
}
# Wolverine transports that read a named connection string (see the module docstring)
NAMED_CONNECTIONS = {"UseRabbitMqUsingNamedConnection": "rabbitmq", "UseKafkaUsingNamedConnection": "kafka"}
# calls that connect a Wolverine transport: what flows into them is a broker setting
BROKER_CALLS = {**USE_TRANSPORT, "AddNamedRabbitMqBroker": "rabbitmq"}
# calls that take a database connection string as their first argument: Marten's
# StoreOptions.Connection(string) and AddMarten(string), EF Core's UseNpgsql/UseSqlServer, Wolverine's
# message persistence, Npgsql.DependencyInjection's AddNpgsqlDataSource on IServiceCollection, and the
# AspNetCore.HealthChecks.NpgSql check
DATABASE_CALLS = {
    "Connection": "postgres",
    "AddMarten": "postgres",
    "UseNpgsql": "postgres",
    "UseSqlServer": "sqlserver",
    "PersistMessagesWithPostgresql": "postgres",
    "PersistMessagesWithSqlServer": "sqlserver",
    "UsePostgresqlPersistenceAndTransport": "postgres",
    "UseSqlServerPersistenceAndTransport": "sqlserver",
    "AddNpgsqlDataSource": "postgres",
    "AddNpgSql": "postgres",
}
# RabbitMQ.Client ConnectionFactory properties set in a UseRabbitMq(factory => ...) lambda
SECRET_BROKER_PROPERTIES = frozenset({"Password", "Uri"})
HARD_CODED_BROKER_PROPERTIES = frozenset({"HostName", "Uri", "Password"})
# calls and constructors that open the file at the path they are given
FILE_CALLS = frozenset(
    {
        "ReadAllText",
        "ReadAllTextAsync",
        "ReadAllBytes",
        "ReadAllBytesAsync",
        "ReadAllLines",
        "OpenRead",
        "OpenText",
        "CreateFromPemFile",
        "CreateFromEncryptedPemFile",
        "CreateFromCertFile",
        "LoadCertificateFromFile",
        "LoadPkcs12FromFile",
        "AddJsonFile",
    }
)
FILE_TYPES = frozenset({"X509Certificate2", "X509Certificate", "FileStream", "StreamReader"})
# URL-valued properties that must point at a reachable host in every environment
URL_PROPERTIES = frozenset({"BaseAddress", "Authority", "MetadataAddress"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0", "host.docker.internal"})
SERVICE_DISCOVERY = re.compile(
    r"^(?:https\+http|http\+https|https|http)://(?:_(?P<endpoint>[\w-]+)\.)?(?P<name>[\w-]+)/?$"
)
# where walking up from an expression stops: the code around it is no longer its caller
STOP = frozenset(
    {
        "method_declaration",
        "constructor_declaration",
        "local_function_statement",
        "class_declaration",
        "record_declaration",
        "struct_declaration",
        "compilation_unit",
    }
)
# the end of a key's last segment that marks a credential: SigningKey, ClientSecret, RefreshToken, ...
SECRET_ENDINGS = ("password", "passwd", "pwd", "secret", "token", "credential", "connectionstring", "key")


def join(prefix: str, key: str) -> str:
    return f"{prefix}:{key}" if prefix else key


def on_services(call: Node) -> bool:
    """``builder.Services.AddX(...)``/``services.AddX(...)``: an IServiceCollection extension, where
    ``AddNpgsqlDataSource`` takes a connection string (Npgsql.DependencyInjection), not Aspire's name."""
    rec = receiver(call)
    return rec is not None and text(rec).rsplit(".", 1)[-1] in ("Services", "services", "serviceCollection")


def looks_like_connection(value: str) -> bool:
    """A connection string or URL, not a name to look one up by."""
    return "://" in value or bool(re.search(r"(?i)\b(host|server|data source|endpoint|database)\s*=", value))


def secret_name(key: str) -> bool:
    """A key whose name says it holds a credential (``Jwt:SigningKey``, ``RabbitMQ:password``)."""
    last = key.rsplit(":", 1)[-1].lower().replace("-", "").replace("_", "")
    return last.removesuffix("s").endswith(SECRET_ENDINGS) or key.lower().startswith("vault")


def mask(value: str) -> str:
    """``Password=secret`` and ``user:secret@`` with the secret replaced by ``***``."""
    value = re.sub(r"(?i)\b(password|pwd)\s*=\s*[^;]*", r"\1=***", value)
    return re.sub(r"(://[^/:@]+):[^@/]*@", r"\1:***@", value)


# Bytes a file must contain to be worth reading for configuration (a cheap filter before parsing).
CONFIG_MARKERS = (
    b"IConfiguration",
    b"ConfigurationManager",
    b".Configuration",  # builder.Configuration, context.Configuration
    b"onfiguration[",
    b"onfig[",
    b"GetConnectionString",
    b"GetSection",
    b".GetValue<",
    b".GetValue(",
    b"GetEnvironmentVariable",
    b"BindConfiguration",
    b"BaseAddress",
    b"Authority",
    b"MetadataAddress",
    b"UseRabbitMq",
    b"NamedConnection",
    b"Connection(",
    b"AddMarten(",
    b"UseNpgsql",
    b"UseSqlServer",
    b"PersistMessagesWith",
    b"PersistenceAndTransport",
    b"AddNpgsql",
    b"AddRabbitMQ",
    b"AddRedis",
    b"AddSqlServer",
    b"AddKafka",
    b"AddAzureServiceBus",
    b"AddMongoDB",
    b"AddNats",
    b"AddNamedRabbitMqBroker",
    b"UseKafka",
    b"UseAzureServiceBus",
    b"UseAmazonSqs",
    b"UsePulsar",
    b"UseNats",
    b"UseMqtt",
    b"UsePubsub",
    b"UseRedisTransport",
)


def _trie(words: list[bytes]) -> bytes:
    """One alternation with common prefixes factored out (``Add(?:Kafka|Marten)``): Python's regex
    engine then tries far fewer alternatives per position, about twice as fast as a flat ``a|b|c``."""
    groups: dict[bytes, list[bytes]] = {}
    ends = False
    for word in sorted(set(words)):
        if word:
            groups.setdefault(word[:1], []).append(word[1:])
        else:
            ends = True
    parts = [
        re.escape(first) + (b"(?:" + _trie(rest) + b")" if len(rest) > 1 else re.escape(rest[0]))
        for first, rest in groups.items()
    ]
    alternation = b"|".join(parts)
    return b"(?:" + alternation + b")?" if ends else alternation


_CONFIG_RE = re.compile(_trie(list(CONFIG_MARKERS)))


def looks_like_configuration(data: bytes) -> bool:
    return _CONFIG_RE.search(data) is not None
