namespace Messages.Contracts.Inventory;

/// <summary>
/// Raised when a reservation drops a SKU's available quantity below its reorder point.
/// The storefront uses it to show "only a few left" badges.
/// </summary>
public sealed record LowStockDetected(
    string Sku,
    int QuantityAvailable,
    int ReorderPoint,
    string WarehouseCode,
    DateTimeOffset DetectedAt);
