namespace Messages.Contracts.Fulfillment;

public sealed record ShipmentDispatched(
    Guid OrderId,
    Guid ShipmentId,
    string Carrier,
    string TrackingNumber,
    DateTimeOffset DispatchedAt,
    DateOnly? EstimatedDelivery = null);

public sealed record ShipmentDelivered(
    Guid OrderId,
    Guid ShipmentId,
    DateTimeOffset DeliveredAt,
    string? SignedBy = null);
