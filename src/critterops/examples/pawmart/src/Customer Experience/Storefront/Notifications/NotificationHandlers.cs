using Messages.Contracts.Fulfillment;
using Messages.Contracts.Inventory;
using Messages.Contracts.Orders;
using Microsoft.AspNetCore.SignalR;

namespace Storefront.Notifications;

/// <summary>
/// Turns integration events from RabbitMQ into SignalR pushes. No persistence here:
/// a missed push only means the shopper has to refresh.
/// </summary>
public static class NotificationHandlers
{
    public static Task Handle(OrderPlaced message, IHubContext<StorefrontHub, IStorefrontClient> hub) =>
        hub.Clients.Group(StorefrontHub.CustomerGroup(message.CustomerId))
            .OrderUpdated(new OrderUpdate(
                message.OrderId,
                "Placed",
                $"Thanks! We received your order of {message.LineItems.Sum(i => i.Quantity)} item(s)."));

    public static Task Handle(ShipmentDispatched message, IHubContext<StorefrontHub, IStorefrontClient> hub) =>
        hub.Clients.Group(StorefrontHub.OrderGroup(message.OrderId))
            .OrderUpdated(new OrderUpdate(
                message.OrderId,
                "Shipped",
                message.EstimatedDelivery is { } eta
                    ? $"On its way with {message.Carrier}, expected {eta:MMM d}."
                    : $"On its way with {message.Carrier}.",
                message.TrackingNumber));

    public static Task Handle(LowStockDetected message, IHubContext<StorefrontHub, IStorefrontClient> hub) =>
        hub.Clients.Group(StorefrontHub.StockWatchers)
            .StockChanged(new StockBadge(message.Sku, message.QuantityAvailable, IsLow: true));
}
