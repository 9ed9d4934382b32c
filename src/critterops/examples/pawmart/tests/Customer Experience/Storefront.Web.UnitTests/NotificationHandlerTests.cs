using Messages.Contracts.Fulfillment;
using Messages.Contracts.Inventory;
using Microsoft.AspNetCore.SignalR;
using NSubstitute;
using Storefront.Notifications;

namespace Storefront.Web.UnitTests;

public class NotificationHandlerTests
{
    private readonly IHubContext<StorefrontHub, IStorefrontClient> _hub =
        Substitute.For<IHubContext<StorefrontHub, IStorefrontClient>>();

    private readonly IStorefrontClient _group = Substitute.For<IStorefrontClient>();

    [Fact]
    public async Task dispatch_is_pushed_to_watchers_of_that_order()
    {
        var orderId = Guid.NewGuid();
        _hub.Clients.Group(StorefrontHub.OrderGroup(orderId)).Returns(_group);

        await NotificationHandlers.Handle(
            new ShipmentDispatched(orderId, Guid.NewGuid(), "USPS", "USP1234567890", DateTimeOffset.UtcNow,
                new DateOnly(2026, 3, 14)),
            _hub);

        await _group.Received(1).OrderUpdated(Arg.Is<OrderUpdate>(u =>
            u.OrderId == orderId &&
            u.Status == "Shipped" &&
            u.TrackingNumber == "USP1234567890" &&
            u.Message.Contains("Mar 14")));
    }

    [Fact]
    public async Task low_stock_is_broadcast_to_stock_watchers()
    {
        _hub.Clients.Group(StorefrontHub.StockWatchers).Returns(_group);

        await NotificationHandlers.Handle(
            new LowStockDetected("FOOD-DOG-12KG", 3, 10, "PDX-1", DateTimeOffset.UtcNow),
            _hub);

        await _group.Received(1).StockChanged(new StockBadge("FOOD-DOG-12KG", 3, IsLow: true));
    }
}
