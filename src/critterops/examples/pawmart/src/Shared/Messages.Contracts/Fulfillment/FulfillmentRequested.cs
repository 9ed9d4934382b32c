using Messages.Contracts.Orders;

namespace Messages.Contracts.Fulfillment;

/// <summary>
/// Sent by the Orders saga once payment is authorized and stock is reserved.
/// Kept as a class with init-only properties because the warehouse team adds
/// optional fields here fairly often.
/// </summary>
public sealed class FulfillmentRequested
{
    public required Guid OrderId { get; init; }

    public required Guid CustomerId { get; init; }

    public required IReadOnlyList<OrderLineItem> LineItems { get; init; }

    public required ShippingAddress ShipTo { get; init; }

    public string ShippingMethod { get; init; } = "Standard";

    public string? GiftMessage { get; init; }

    public bool ContainsPerishables { get; init; }

    public DateTimeOffset RequestedAt { get; init; } = DateTimeOffset.UtcNow;
}
