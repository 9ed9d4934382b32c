namespace Messages.Contracts.Orders;

/// <summary>
/// Published by Orders once the order saga has started. Fanned out through the
/// <c>orders-order-placed</c> exchange, so every interested context binds its own queue.
/// </summary>
public sealed record OrderPlaced(
    Guid OrderId,
    Guid CustomerId,
    IReadOnlyList<OrderLineItem> LineItems,
    decimal Total,
    DateTimeOffset PlacedAt,
    string Currency = "USD",
    string? PromoCode = null);
