using Messages.Contracts.Orders;
using Wolverine;

namespace Orders.Placement;

/// <summary>
/// Internal command published by checkout completion and handled on the local
/// "order-placement" queue. Starts the <see cref="Order"/> saga.
/// </summary>
public sealed record PlaceOrder(
    Guid OrderId,
    Guid CheckoutId,
    Guid CustomerId,
    IReadOnlyList<OrderLineItem> LineItems,
    ShippingAddress ShipTo,
    string PaymentMethodToken,
    decimal Total,
    DateTimeOffset PlacedAt);

/// <summary>
/// Scheduled when the saga starts. If payment has not been authorized by then the order is cancelled.
/// </summary>
public sealed record OrderPaymentTimeout(Guid OrderId) : TimeoutMessage(Constants.PaymentTimeout);
