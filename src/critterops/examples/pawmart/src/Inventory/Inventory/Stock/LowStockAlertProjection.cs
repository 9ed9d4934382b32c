using JasperFx.Events;
using Marten;
using Marten.Events.Projections;

namespace Inventory.Stock;

public sealed class LowStockAlert
{
    /// <summary>The SKU.</summary>
    public string Id { get; set; } = string.Empty;

    public string WarehouseCode { get; set; } = string.Empty;

    public int Available { get; set; }

    public int ReorderPoint { get; set; }

    public DateTimeOffset DetectedAt { get; set; }
}

/// <summary>
/// Open low-stock alerts for the merchandising dashboard.
/// </summary>
public sealed class LowStockAlertProjection : EventProjection
{
    public LowStockAlertProjection()
    {
        // v2 keeps one alert per SKU (v1 wrote one document per breach event).
        // Bumping the version makes the daemon build it side by side from the first event.
        ProjectionVersion = 2;
    }

    public LowStockAlert Create(IEvent<ReorderPointBreached> e) => new()
    {
        Id = e.Data.Sku,
        WarehouseCode = e.Data.WarehouseCode,
        Available = e.Data.Available,
        ReorderPoint = e.Data.ReorderPoint,
        DetectedAt = e.Data.DetectedAt
    };

    public void Project(IEvent<ReorderPointRestored> e, IDocumentOperations ops)
    {
        ops.Delete<LowStockAlert>(e.Data.Sku);
    }
}
