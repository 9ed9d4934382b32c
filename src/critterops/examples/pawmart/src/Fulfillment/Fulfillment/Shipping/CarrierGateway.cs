namespace Fulfillment.Shipping;

public sealed record CarrierBooking(string Carrier, string TrackingNumber, DateOnly EstimatedDelivery);

public sealed record DeliveryStatus(bool Delivered, DateTimeOffset? DeliveredAt, string? SignedBy);

public interface ICarrierGateway
{
    Task<CarrierBooking> BookAsync(Shipment shipment, CancellationToken ct);

    Task<DeliveryStatus> GetStatusAsync(string carrier, string trackingNumber, CancellationToken ct);
}

/// <summary>
/// Stand-in for the carrier integrations. Perishables go overnight with ColdChain Express.
/// </summary>
public sealed class SimulatedCarrierGateway(TimeProvider clock) : ICarrierGateway
{
    public Task<CarrierBooking> BookAsync(Shipment shipment, CancellationToken ct)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var (carrier, days) = shipment.ShippingMethod switch
        {
            "Overnight" => ("ColdChain Express", 1),
            "Express" => ("UPS", 2),
            _ => ("USPS", 5)
        };

        var tracking = $"{carrier[..3].ToUpperInvariant()}{Random.Shared.NextInt64(1_000_000_000, 9_999_999_999)}";
        return Task.FromResult(new CarrierBooking(carrier, tracking, today.AddDays(days)));
    }

    public Task<DeliveryStatus> GetStatusAsync(string carrier, string trackingNumber, CancellationToken ct)
    {
        var delivered = Random.Shared.NextDouble() < 0.25;
        return Task.FromResult(delivered
            ? new DeliveryStatus(true, clock.GetUtcNow(), "Front desk")
            : new DeliveryStatus(false, null, null));
    }
}
