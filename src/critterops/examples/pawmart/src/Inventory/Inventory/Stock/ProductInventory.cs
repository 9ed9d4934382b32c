namespace Inventory.Stock;

/// <summary>
/// Stock for one SKU in one warehouse. Event sourced; the stream key is the SKU.
/// </summary>
public sealed record ProductInventory(
    string Id,
    string WarehouseCode,
    int OnHand,
    int Allocated,
    int ReorderPoint)
{
    public int Available => OnHand - Allocated;

    public bool IsBelowReorderPoint => Available < ReorderPoint;

    public bool CanAllocate(int quantity) => quantity > 0 && Available >= quantity;

    public static ProductInventory Create(InventoryInitialized e) =>
        new(e.Sku, e.WarehouseCode, e.QuantityOnHand, 0, e.ReorderPoint);

    public ProductInventory Apply(StockReceived e) => this with { OnHand = OnHand + e.Quantity };

    public ProductInventory Apply(StockAllocated e) => this with { Allocated = Allocated + e.Quantity };
}
