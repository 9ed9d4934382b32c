using Messages.Contracts.Orders;

namespace Orders.Checkouts;

/// <summary>
/// Event-sourced checkout. Stored as an inline snapshot so the HTTP endpoints can
/// load it as a plain document.
/// </summary>
public sealed record Checkout(
    Guid Id,
    Guid CustomerId,
    IReadOnlyList<OrderLineItem> Items,
    ShippingAddress? ShipTo,
    Guid? OrderId,
    DateTimeOffset StartedAt)
{
    public bool IsCompleted => OrderId.HasValue;

    public decimal Subtotal => Items.Sum(i => i.LineTotal);

    public decimal ShippingFee =>
        Items.Count == 0 || Subtotal >= Constants.FreeShippingThreshold ? 0m : Constants.FlatShippingFee;

    public decimal Total => Subtotal + ShippingFee;

    public static Checkout Create(CheckoutStarted e) =>
        new(e.CheckoutId, e.CustomerId, [], null, null, e.StartedAt);

    public Checkout Apply(CheckoutItemAdded e)
    {
        var existing = Items.FirstOrDefault(i => i.Sku == e.Sku);
        var quantity = (existing?.Quantity ?? 0) + e.Quantity;

        return this with
        {
            Items = [.. Items.Where(i => i.Sku != e.Sku), new OrderLineItem(e.Sku, e.ProductName, quantity, e.UnitPrice)]
        };
    }

    public Checkout Apply(CheckoutItemRemoved e) =>
        this with { Items = [.. Items.Where(i => i.Sku != e.Sku)] };

    public Checkout Apply(ShippingAddressProvided e) =>
        this with { ShipTo = e.Address };

    public Checkout Apply(CheckoutCompleted e) =>
        this with { OrderId = e.OrderId };
}
