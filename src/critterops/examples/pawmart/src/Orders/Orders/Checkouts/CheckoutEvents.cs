using Messages.Contracts.Orders;

namespace Orders.Checkouts;

public sealed record CheckoutStarted(Guid CheckoutId, Guid CustomerId, DateTimeOffset StartedAt);

public sealed record CheckoutItemAdded(string Sku, string ProductName, int Quantity, decimal UnitPrice);

public sealed record CheckoutItemRemoved(string Sku);

public sealed record ShippingAddressProvided(ShippingAddress Address);

public sealed record CheckoutCompleted(
    Guid OrderId,
    Guid CustomerId,
    decimal Total,
    int ItemCount,
    DateTimeOffset CompletedAt);
