using Marten;
using Messages.Contracts.Orders;
using Wolverine.Http;

namespace Orders.Placement;

public sealed record OrderResponse(
    Guid OrderId,
    Guid CustomerId,
    string Status,
    decimal Total,
    IReadOnlyList<OrderLineItem> LineItems,
    string? TrackingNumber,
    DateTimeOffset PlacedAt,
    DateTimeOffset? DeliveredAt)
{
    public static OrderResponse From(Order order) => new(
        order.Id,
        order.CustomerId,
        order.Status.ToString(),
        order.Total,
        order.LineItems,
        order.TrackingNumber,
        order.PlacedAt,
        order.DeliveredAt);
}

public static class OrderEndpoints
{
    [WolverineGet("/api/orders/{orderId}")]
    public static async Task<OrderResponse?> GetOrder(Guid orderId, IQuerySession session, CancellationToken ct)
    {
        var order = await session.LoadAsync<Order>(orderId, ct);
        return order is null ? null : OrderResponse.From(order);
    }

    [WolverineGet("/api/customers/{customerId}/orders")]
    public static async Task<IReadOnlyList<OrderResponse>> GetCustomerOrders(
        Guid customerId,
        IQuerySession session,
        CancellationToken ct)
    {
        var orders = await session.Query<Order>()
            .Where(x => x.CustomerId == customerId)
            .OrderByDescending(x => x.PlacedAt)
            .Take(50)
            .ToListAsync(ct);

        return orders.Select(OrderResponse.From).ToList();
    }

    [WolverineGet("/api/customers/{customerId}/order-summary")]
    public static Task<OrderSummary?> GetSummary(Guid customerId, IQuerySession session, CancellationToken ct) =>
        session.LoadAsync<OrderSummary>(customerId, ct);
}
