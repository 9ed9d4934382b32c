using Marten.Events.Projections;
using Orders.Checkouts;

namespace Orders.Placement;

/// <summary>
/// Per-customer rollup used by the "My orders" page. Identity is the customer id.
/// </summary>
public sealed class OrderSummary
{
    public Guid Id { get; set; }

    public int OrderCount { get; set; }

    public decimal LifetimeSpend { get; set; }

    public Guid? LastOrderId { get; set; }

    public DateTimeOffset? LastOrderedAt { get; set; }
}

public sealed class OrderSummaryProjection : MultiStreamProjection<OrderSummary, Guid>
{
    public OrderSummaryProjection()
    {
        Identity<CheckoutCompleted>(e => e.CustomerId);
    }

    public void Apply(OrderSummary summary, CheckoutCompleted e)
    {
        summary.OrderCount++;
        summary.LifetimeSpend += e.Total;
        summary.LastOrderId = e.OrderId;
        summary.LastOrderedAt = e.CompletedAt;
    }
}
