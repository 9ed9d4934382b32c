using Messages.Contracts.Orders;

namespace Messages.Contracts.Inventory;

/// <summary>
/// Command from the Orders saga asking Inventory to hold stock for every line of an order.
/// Reservation is all-or-nothing.
/// </summary>
public sealed record ReservationRequested(
    Guid OrderId,
    IReadOnlyList<OrderLineItem> LineItems,
    string? PreferredWarehouse = null);
