using Marten;
using Messages.Contracts.Fulfillment;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace Fulfillment.Shipping;

/// <summary>
/// Local, scheduled message: ask the carrier whether the parcel has arrived.
/// </summary>
public sealed record PollCarrierForDelivery(Guid ShipmentId, int Attempt);

public static class PollCarrierForDeliveryHandler
{
    public static async Task<OutgoingMessages> Handle(
        PollCarrierForDelivery message,
        IDocumentSession session,
        ICarrierGateway carrier,
        ILogger<Shipment> logger,
        CancellationToken ct)
    {
        var outgoing = new OutgoingMessages();

        var shipment = await session.LoadAsync<Shipment>(message.ShipmentId, ct);
        if (shipment is not { Status: ShipmentStatus.Dispatched }) return outgoing;

        var status = await carrier.GetStatusAsync(shipment.Carrier!, shipment.TrackingNumber!, ct);

        if (status.Delivered)
        {
            shipment.Status = ShipmentStatus.Delivered;
            shipment.DeliveredAt = status.DeliveredAt ?? DateTimeOffset.UtcNow;
            shipment.SignedBy = status.SignedBy;
            session.Store(shipment);

            outgoing.Add(new ShipmentDelivered(shipment.OrderId, shipment.Id, shipment.DeliveredAt.Value, shipment.SignedBy));
        }
        else if (message.Attempt >= Constants.MaxDeliveryPolls)
        {
            logger.LogWarning("Shipment {ShipmentId} ({TrackingNumber}) not delivered after {Attempts} polls, marking lost",
                shipment.Id, shipment.TrackingNumber, message.Attempt);

            shipment.Status = ShipmentStatus.Lost;
            session.Store(shipment);
        }
        else
        {
            outgoing.Delay(message with { Attempt = message.Attempt + 1 }, Constants.DeliveryPollInterval);
        }

        return outgoing;
    }
}
