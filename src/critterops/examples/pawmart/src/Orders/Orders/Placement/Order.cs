using Messages.Contracts.Fulfillment;
using Messages.Contracts.Inventory;
using Messages.Contracts.Orders;
using Messages.Contracts.Payments;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace Orders.Placement;

public enum OrderStatus
{
    Placed,
    PaymentAuthorized,
    StockReserved,
    ReadyForFulfillment,
    Shipped,
    Delivered,
    PaymentFailed,
    OutOfStock,
    Cancelled
}

/// <summary>
/// Process manager for a single order: waits for a payment decision and a stock
/// reservation (in any order), then hands the order to Fulfillment and follows it
/// until delivery. Persisted by Marten as a document; correlated on <c>OrderId</c>.
/// </summary>
public sealed class Order : Saga
{
    public Guid Id { get; set; }

    public Guid CheckoutId { get; set; }

    public Guid CustomerId { get; set; }

    public IReadOnlyList<OrderLineItem> LineItems { get; set; } = [];

    public ShippingAddress ShipTo { get; set; } = null!;

    public decimal Total { get; set; }

    public OrderStatus Status { get; set; }

    public bool IsPaymentAuthorized { get; set; }

    public bool IsStockReserved { get; set; }

    public Guid? PaymentId { get; set; }

    public Guid? ReservationId { get; set; }

    public Guid? ShipmentId { get; set; }

    public string? TrackingNumber { get; set; }

    public DateTimeOffset PlacedAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public string? FailureReason { get; set; }

    public static (Order, PaymentRequested, ReservationRequested, OrderPlaced, OrderPaymentTimeout) Start(
        PlaceOrder command,
        ILogger<Order> logger)
    {
        var order = new Order
        {
            Id = command.OrderId,
            CheckoutId = command.CheckoutId,
            CustomerId = command.CustomerId,
            LineItems = command.LineItems,
            ShipTo = command.ShipTo,
            Total = command.Total,
            Status = OrderStatus.Placed,
            PlacedAt = command.PlacedAt
        };

        logger.LogInformation("Order {OrderId} placed for customer {CustomerId} ({Total:C})",
            order.Id, order.CustomerId, order.Total);

        return (
            order,
            new PaymentRequested(order.Id, order.CustomerId, order.Total, command.PaymentMethodToken),
            new ReservationRequested(order.Id, order.LineItems),
            new OrderPlaced(order.Id, order.CustomerId, order.LineItems, order.Total, order.PlacedAt),
            new OrderPaymentTimeout(order.Id));
    }

    public OutgoingMessages Handle(PaymentAuthorized message)
    {
        if (IsTerminal) return [];

        IsPaymentAuthorized = true;
        PaymentId = message.PaymentId;
        Status = IsStockReserved ? OrderStatus.ReadyForFulfillment : OrderStatus.PaymentAuthorized;

        return RequestFulfillmentIfReady();
    }

    public void Handle(PaymentFailed message, ILogger<Order> logger)
    {
        if (IsTerminal) return;

        PaymentId = message.PaymentId;
        Status = OrderStatus.PaymentFailed;
        FailureReason = message.Reason;

        // TODO: release the stock reservation once Inventory exposes a release command
        logger.LogWarning("Payment for order {OrderId} failed: {Reason}", Id, message.Reason);
        MarkCompleted();
    }

    public OutgoingMessages Handle(StockReserved message)
    {
        if (IsTerminal) return [];

        IsStockReserved = true;
        ReservationId = message.ReservationId;
        Status = IsPaymentAuthorized ? OrderStatus.ReadyForFulfillment : OrderStatus.StockReserved;

        return RequestFulfillmentIfReady();
    }

    public void Handle(StockReservationFailed message)
    {
        if (IsTerminal) return;

        Status = OrderStatus.OutOfStock;
        FailureReason = $"Out of stock: {string.Join(", ", message.UnavailableSkus)}";
        MarkCompleted();
    }

    public void Handle(ShipmentDispatched message)
    {
        ShipmentId = message.ShipmentId;
        TrackingNumber = message.TrackingNumber;
        Status = OrderStatus.Shipped;
    }

    public void Handle(ShipmentDelivered message)
    {
        DeliveredAt = message.DeliveredAt;
        Status = OrderStatus.Delivered;
        MarkCompleted();
    }

    public void Handle(OrderPaymentTimeout timeout, ILogger<Order> logger)
    {
        if (IsPaymentAuthorized || IsTerminal) return;

        logger.LogInformation("Order {OrderId} cancelled: no payment decision within {Timeout}",
            Id, Constants.PaymentTimeout);

        Status = OrderStatus.Cancelled;
        FailureReason = "Payment timed out";
        MarkCompleted();
    }

    // Messages that arrive after the saga has completed (or for an unknown order)

    public static void NotFound(OrderPaymentTimeout timeout)
    {
        // The order was already finished; nothing to time out.
    }

    public static void NotFound(ShipmentDelivered message, ILogger<Order> logger)
    {
        logger.LogWarning("Delivery reported for unknown or closed order {OrderId}", message.OrderId);
    }

    private bool IsTerminal => Status is OrderStatus.PaymentFailed or OrderStatus.OutOfStock or OrderStatus.Cancelled;

    private OutgoingMessages RequestFulfillmentIfReady()
    {
        var outgoing = new OutgoingMessages();

        if (IsPaymentAuthorized && IsStockReserved)
        {
            outgoing.Add(new FulfillmentRequested
            {
                OrderId = Id,
                CustomerId = CustomerId,
                LineItems = LineItems,
                ShipTo = ShipTo,
                ContainsPerishables = LineItems.Any(i => i.Sku.StartsWith("FOOD-", StringComparison.Ordinal))
            });
        }

        return outgoing;
    }
}
