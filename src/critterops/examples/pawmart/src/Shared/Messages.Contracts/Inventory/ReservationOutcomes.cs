namespace Messages.Contracts.Inventory;

public sealed record StockReserved(
    Guid OrderId,
    Guid ReservationId,
    IReadOnlyList<ReservedLine> Lines,
    DateTimeOffset ReservedAt);

public sealed record ReservedLine(string Sku, int Quantity, string WarehouseCode);

public sealed record StockReservationFailed(
    Guid OrderId,
    IReadOnlyList<string> UnavailableSkus,
    string Reason = "InsufficientStock");
