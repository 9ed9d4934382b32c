using Inventory.Stock;
using Marten;
using Marten.Events;
using Messages.Contracts.Inventory;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace Inventory.Reservations;

public static class ReservationRequestedHandler
{
    /// <summary>
    /// All-or-nothing reservation across every SKU of the order. Either every stream gets a
    /// <see cref="StockAllocated"/> event and Orders hears <see cref="StockReserved"/>, or nothing
    /// is written and Orders hears <see cref="StockReservationFailed"/>.
    /// </summary>
    public static async Task<OutgoingMessages> Handle(
        ReservationRequested message,
        IDocumentSession session,
        ILogger<ProductInventory> logger,
        CancellationToken ct)
    {
        var outgoing = new OutgoingMessages();

        var quantities = message.LineItems
            .GroupBy(l => l.Sku)
            .ToDictionary(g => g.Key, g => g.Sum(l => l.Quantity));

        var streams = new Dictionary<string, IEventStream<ProductInventory>>();
        var unavailable = new List<string>();

        foreach (var (sku, quantity) in quantities)
        {
            var stream = await session.Events.FetchForWriting<ProductInventory>(sku, ct);
            if (stream.Aggregate is { } inventory && inventory.CanAllocate(quantity))
            {
                streams[sku] = stream;
            }
            else
            {
                unavailable.Add(sku);
            }
        }

        if (unavailable.Count > 0)
        {
            logger.LogInformation("Order {OrderId} cannot be reserved, unavailable: {Skus}",
                message.OrderId, unavailable);

            outgoing.Add(new StockReservationFailed(message.OrderId, unavailable));
            return outgoing;
        }

        var reservationId = Guid.CreateVersion7();
        var now = DateTimeOffset.UtcNow;
        var lines = new List<ReservedLine>();

        foreach (var (sku, stream) in streams)
        {
            var inventory = stream.Aggregate!;
            var quantity = quantities[sku];

            stream.AppendOne(new StockAllocated(sku, message.OrderId, reservationId, quantity, now));
            lines.Add(new ReservedLine(sku, quantity, inventory.WarehouseCode));

            var availableAfter = inventory.Available - quantity;
            if (!inventory.IsBelowReorderPoint && availableAfter < inventory.ReorderPoint)
            {
                stream.AppendOne(new ReorderPointBreached(sku, inventory.WarehouseCode, availableAfter,
                    inventory.ReorderPoint, now));

                outgoing.Add(new LowStockDetected(sku, availableAfter, inventory.ReorderPoint,
                    inventory.WarehouseCode, now));
            }
        }

        outgoing.Add(new StockReserved(message.OrderId, reservationId, lines, now));
        return outgoing;
    }
}
