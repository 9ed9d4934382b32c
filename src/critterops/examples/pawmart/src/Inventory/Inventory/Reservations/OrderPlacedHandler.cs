using Inventory.Stock;
using Marten;
using Messages.Contracts.Orders;

namespace Inventory.Reservations;

/// <summary>
/// Listens to the orders fan-out exchange and records demand per SKU. This feeds the
/// replenishment numbers on <see cref="StockLevelView"/>; it does not reserve anything.
/// </summary>
public static class OrderPlacedHandler
{
    public static async Task Handle(OrderPlaced message, IDocumentSession session, CancellationToken ct)
    {
        foreach (var line in message.LineItems)
        {
            var state = await session.Events.FetchStreamStateAsync(line.Sku, ct);
            if (state is null)
            {
                // Unknown SKU: the reservation will fail and Orders will deal with it
                continue;
            }

            session.Events.Append(line.Sku, new DemandRecorded(line.Sku, message.OrderId, line.Quantity, message.PlacedAt));
        }
    }
}
