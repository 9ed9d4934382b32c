namespace Inventory.Stock;

// Streams are keyed by SKU (string stream identity).

public sealed record InventoryInitialized(
    string Sku,
    string WarehouseCode,
    int QuantityOnHand,
    int ReorderPoint,
    DateTimeOffset InitializedAt);

public sealed record StockReceived(string Sku, int Quantity, string? PurchaseOrderNumber, DateTimeOffset ReceivedAt);

public sealed record StockAllocated(string Sku, Guid OrderId, Guid ReservationId, int Quantity, DateTimeOffset AllocatedAt);

public sealed record DemandRecorded(string Sku, Guid OrderId, int Quantity, DateTimeOffset PlacedAt);

public sealed record ReorderPointBreached(
    string Sku,
    string WarehouseCode,
    int Available,
    int ReorderPoint,
    DateTimeOffset DetectedAt);

public sealed record ReorderPointRestored(string Sku, int Available, DateTimeOffset RestoredAt);
