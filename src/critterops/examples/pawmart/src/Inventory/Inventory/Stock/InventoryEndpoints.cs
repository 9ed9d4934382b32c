using Marten;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;
using Wolverine.Http.Marten;
using Wolverine.Marten;

namespace Inventory.Stock;

public sealed record InitializeInventory(
    string Sku,
    int QuantityOnHand,
    int ReorderPoint = Constants.DefaultReorderPoint,
    string WarehouseCode = Constants.DefaultWarehouse);

public sealed record ReceiveStock(int Quantity, string? PurchaseOrderNumber = null);

public static class InventoryEndpoints
{
    [WolverinePost("/api/inventory")]
    public static async Task<IResult> Initialize(
        InitializeInventory command,
        IDocumentSession session,
        CancellationToken ct)
    {
        var existing = await session.Events.FetchStreamStateAsync(command.Sku, ct);
        if (existing is not null)
        {
            return Results.Conflict($"Inventory for {command.Sku} already exists");
        }

        session.Events.StartStream<ProductInventory>(
            command.Sku,
            new InventoryInitialized(command.Sku, command.WarehouseCode, command.QuantityOnHand,
                command.ReorderPoint, DateTimeOffset.UtcNow));

        return Results.Created($"/api/inventory/{command.Sku}", new { command.Sku });
    }

    [WolverinePost("/api/inventory/{sku}/receipts")]
    [EmptyResponse]
    public static Events Receive(ReceiveStock command, [WriteAggregate("sku")] ProductInventory inventory)
    {
        var now = DateTimeOffset.UtcNow;
        var events = new Events { new StockReceived(inventory.Id, command.Quantity, command.PurchaseOrderNumber, now) };

        var availableAfter = inventory.Available + command.Quantity;
        if (inventory.IsBelowReorderPoint && availableAfter >= inventory.ReorderPoint)
        {
            events.Add(new ReorderPointRestored(inventory.Id, availableAfter, now));
        }

        return events;
    }

    [WolverineGet("/api/inventory/{sku}")]
    public static Task<StockLevelView?> Get(string sku, IQuerySession session, CancellationToken ct) =>
        session.LoadAsync<StockLevelView>(sku, ct);

    [WolverineGet("/api/inventory/alerts")]
    public static Task<IReadOnlyList<LowStockAlert>> GetAlerts(IQuerySession session, CancellationToken ct) =>
        session.Query<LowStockAlert>()
            .OrderBy(x => x.DetectedAt)
            .ToListAsync(ct);
}
