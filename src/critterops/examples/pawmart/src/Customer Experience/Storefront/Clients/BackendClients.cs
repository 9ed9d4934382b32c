using System.Net;
using System.Net.Http.Json;

namespace Storefront.Clients;

public sealed record OrderLineDto(string Sku, string ProductName, int Quantity, decimal UnitPrice);

public sealed record OrderDto(
    Guid OrderId,
    Guid CustomerId,
    string Status,
    decimal Total,
    IReadOnlyList<OrderLineDto> LineItems,
    string? TrackingNumber,
    DateTimeOffset PlacedAt,
    DateTimeOffset? DeliveredAt);

public sealed record StockLevelDto(string Id, string WarehouseCode, int Available, int ReorderPoint);

/// <summary>Typed wrapper over the named "OrdersApi" HttpClient.</summary>
public sealed class OrdersApiClient(IHttpClientFactory factory)
{
    public const string ClientName = "OrdersApi";

    public async Task<OrderDto?> GetOrderAsync(Guid orderId, CancellationToken ct = default)
    {
        var http = factory.CreateClient(ClientName);
        using var response = await http.GetAsync($"/api/orders/{orderId}", ct);

        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();

        return await response.Content.ReadFromJsonAsync<OrderDto>(ct);
    }

    public async Task<IReadOnlyList<OrderDto>> GetCustomerOrdersAsync(Guid customerId, CancellationToken ct = default)
    {
        var http = factory.CreateClient(ClientName);
        return await http.GetFromJsonAsync<List<OrderDto>>($"/api/customers/{customerId}/orders", ct) ?? [];
    }
}

/// <summary>Typed wrapper over the named "InventoryApi" HttpClient.</summary>
public sealed class InventoryApiClient(IHttpClientFactory factory)
{
    public const string ClientName = "InventoryApi";

    public async Task<StockLevelDto?> GetStockAsync(string sku, CancellationToken ct = default)
    {
        var http = factory.CreateClient(ClientName);
        using var response = await http.GetAsync($"/api/inventory/{Uri.EscapeDataString(sku)}", ct);

        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();

        return await response.Content.ReadFromJsonAsync<StockLevelDto>(ct);
    }
}
