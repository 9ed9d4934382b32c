using Messages.Contracts.Orders;

namespace Fulfillment.Shipping;

public enum ShipmentStatus
{
    Pending,
    Dispatched,
    Delivered,
    Lost
}

/// <summary>
/// A parcel leaving the warehouse. Plain Marten document (no event sourcing in Fulfillment).
/// </summary>
public sealed class Shipment
{
    public Guid Id { get; set; }

    public Guid OrderId { get; set; }

    public IReadOnlyList<OrderLineItem> Lines { get; set; } = [];

    public ShippingAddress ShipTo { get; set; } = null!;

    public string ShippingMethod { get; set; } = "Standard";

    public ShipmentStatus Status { get; set; }

    public string? Carrier { get; set; }

    public string? TrackingNumber { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DispatchedAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public string? SignedBy { get; set; }
}
