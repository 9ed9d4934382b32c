using Microsoft.AspNetCore.SignalR;

namespace Storefront.Notifications;

public sealed record OrderUpdate(Guid OrderId, string Status, string Message, string? TrackingNumber = null);

public sealed record StockBadge(string Sku, int QuantityAvailable, bool IsLow);

/// <summary>Methods the browser implements.</summary>
public interface IStorefrontClient
{
    Task OrderUpdated(OrderUpdate update);

    Task StockChanged(StockBadge badge);
}

/// <summary>
/// Real-time channel to shoppers. Pages join the group of the order they are looking at.
/// </summary>
public sealed class StorefrontHub : Hub<IStorefrontClient>
{
    public const string Route = "/hubs/storefront";

    public const string StockWatchers = "stock-watchers";

    public static string OrderGroup(Guid orderId) => $"order:{orderId:N}";

    public static string CustomerGroup(Guid customerId) => $"customer:{customerId:N}";

    public Task WatchOrder(Guid orderId) =>
        Groups.AddToGroupAsync(Context.ConnectionId, OrderGroup(orderId));

    public Task WatchCustomer(Guid customerId) =>
        Groups.AddToGroupAsync(Context.ConnectionId, CustomerGroup(customerId));

    public Task WatchStock() =>
        Groups.AddToGroupAsync(Context.ConnectionId, StockWatchers);
}
