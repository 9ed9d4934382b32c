using Marten;
using Messages.Contracts.Fulfillment;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace Fulfillment.Shipping;

public static class FulfillmentRequestedHandler
{
    public static async Task<OutgoingMessages> Handle(
        FulfillmentRequested message,
        IDocumentSession session,
        ICarrierGateway carrier,
        ILogger<Shipment> logger,
        CancellationToken ct)
    {
        var outgoing = new OutgoingMessages();

        // At-least-once delivery: one shipment per order
        var existing = await session.Query<Shipment>().FirstOrDefaultAsync(x => x.OrderId == message.OrderId, ct);
        if (existing is not null)
        {
            logger.LogInformation("Shipment for order {OrderId} already exists, ignoring duplicate", message.OrderId);
            return outgoing;
        }

        var shipment = new Shipment
        {
            Id = Guid.CreateVersion7(),
            OrderId = message.OrderId,
            Lines = message.LineItems,
            ShipTo = message.ShipTo,
            ShippingMethod = message.ContainsPerishables ? "Overnight" : message.ShippingMethod,
            Status = ShipmentStatus.Pending,
            CreatedAt = DateTimeOffset.UtcNow
        };

        var booking = await carrier.BookAsync(shipment, ct);

        shipment.Status = ShipmentStatus.Dispatched;
        shipment.Carrier = booking.Carrier;
        shipment.TrackingNumber = booking.TrackingNumber;
        shipment.DispatchedAt = DateTimeOffset.UtcNow;

        session.Store(shipment);

        outgoing.Add(new ShipmentDispatched(
            shipment.OrderId,
            shipment.Id,
            booking.Carrier,
            booking.TrackingNumber,
            shipment.DispatchedAt.Value,
            booking.EstimatedDelivery));

        outgoing.Delay(new PollCarrierForDelivery(shipment.Id, Attempt: 1), Constants.DeliveryPollInterval);

        return outgoing;
    }
}
