using Inventory.Stock;

namespace Inventory.UnitTests;

public class ProductInventoryTests
{
    private static ProductInventory Kibble(int onHand = 40, int reorderPoint = 10) =>
        ProductInventory.Create(new InventoryInitialized("FOOD-CAT-4KG", "PDX-1", onHand, reorderPoint, DateTimeOffset.UtcNow));

    [Fact]
    public void allocations_reduce_availability_but_not_on_hand()
    {
        var inventory = Kibble().Apply(new StockAllocated("FOOD-CAT-4KG", Guid.NewGuid(), Guid.NewGuid(), 15, DateTimeOffset.UtcNow));

        inventory.OnHand.ShouldBe(40);
        inventory.Available.ShouldBe(25);
    }

    [Theory]
    [InlineData(40, true)]
    [InlineData(41, false)]
    [InlineData(0, false)]
    public void can_only_allocate_what_is_available(int quantity, bool expected)
    {
        Kibble().CanAllocate(quantity).ShouldBe(expected);
    }

    [Fact]
    public void receiving_stock_lifts_it_back_above_the_reorder_point()
    {
        var inventory = Kibble(onHand: 8);
        inventory.IsBelowReorderPoint.ShouldBeTrue();

        inventory = inventory.Apply(new StockReceived("FOOD-CAT-4KG", 24, "PO-2026-0042", DateTimeOffset.UtcNow));

        inventory.IsBelowReorderPoint.ShouldBeFalse();
    }

    [Fact]
    public void stock_level_view_tracks_demand_separately_from_allocations()
    {
        var projection = new StockLevelViewProjection();
        var view = StockLevelViewProjection.Create(
            new InventoryInitialized("TOY-BALL-3", "PDX-1", 100, 20, DateTimeOffset.UtcNow));

        projection.Apply(view, new DemandRecorded("TOY-BALL-3", Guid.NewGuid(), 3, DateTimeOffset.UtcNow));
        projection.Apply(view, new StockAllocated("TOY-BALL-3", Guid.NewGuid(), Guid.NewGuid(), 3, DateTimeOffset.UtcNow));

        view.UnitsDemanded.ShouldBe(3);
        view.Available.ShouldBe(97);
    }
}
