using Marten.Events.Aggregation;

namespace Inventory.Stock;

/// <summary>
/// Read model behind <c>GET /api/inventory/{sku}</c> and the storefront's stock badges.
/// </summary>
public sealed class StockLevelView
{
    public string Id { get; set; } = string.Empty;

    public string WarehouseCode { get; set; } = string.Empty;

    public int OnHand { get; set; }

    public int Allocated { get; set; }

    public int Available { get; set; }

    public int ReorderPoint { get; set; }

    public int UnitsDemanded { get; set; }

    public DateTimeOffset LastUpdated { get; set; }
}

public sealed class StockLevelViewProjection : SingleStreamProjection<StockLevelView, string>
{
    public static StockLevelView Create(InventoryInitialized e) => new()
    {
        Id = e.Sku,
        WarehouseCode = e.WarehouseCode,
        OnHand = e.QuantityOnHand,
        Available = e.QuantityOnHand,
        ReorderPoint = e.ReorderPoint,
        LastUpdated = e.InitializedAt
    };

    public void Apply(StockLevelView view, StockReceived e)
    {
        view.OnHand += e.Quantity;
        view.Available = view.OnHand - view.Allocated;
        view.LastUpdated = e.ReceivedAt;
    }

    public void Apply(StockLevelView view, StockAllocated e)
    {
        view.Allocated += e.Quantity;
        view.Available = view.OnHand - view.Allocated;
        view.LastUpdated = e.AllocatedAt;
    }

    public void Apply(StockLevelView view, DemandRecorded e)
    {
        view.UnitsDemanded += e.Quantity;
    }
}
