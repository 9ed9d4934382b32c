using Alba;
using Inventory.Stock;
using Marten;
using Messages.Contracts.Inventory;
using Messages.Contracts.Orders;
using Microsoft.Extensions.DependencyInjection;
using Wolverine.Tracking;

namespace Inventory.Api.IntegrationTests;

[Collection(IntegrationCollection.Name)]
public class ReservationTests(AppFixture fixture)
{
    private async Task<string> GivenSku(int onHand, int reorderPoint = 5)
    {
        var sku = $"TEST-{Guid.NewGuid():N}"[..16];

        await fixture.Host.Scenario(x =>
        {
            x.Post.Json(new InitializeInventory(sku, onHand, reorderPoint)).ToUrl("/api/inventory");
            x.StatusCodeShouldBe(201);
        });

        return sku;
    }

    [Fact]
    public async Task reserving_available_stock_replies_to_orders()
    {
        var sku = await GivenSku(onHand: 30);
        var orderId = Guid.NewGuid();

        var tracked = await fixture.Host.InvokeMessageAndWaitAsync(new ReservationRequested(
            orderId, [new OrderLineItem(sku, "Squeaky hedgehog", 2, 6.99m)]));

        var reserved = tracked.Sent.SingleMessage<StockReserved>();
        reserved.OrderId.ShouldBe(orderId);
        reserved.Lines.ShouldHaveSingleItem().Quantity.ShouldBe(2);
        tracked.Sent.MessagesOf<LowStockDetected>().ShouldBeEmpty();
    }

    [Fact]
    public async Task dropping_below_the_reorder_point_notifies_the_storefront()
    {
        var sku = await GivenSku(onHand: 6, reorderPoint: 5);

        var tracked = await fixture.Host.InvokeMessageAndWaitAsync(new ReservationRequested(
            Guid.NewGuid(), [new OrderLineItem(sku, "Heated cat pad", 2, 39.00m)]));

        var low = tracked.Sent.SingleMessage<LowStockDetected>();
        low.QuantityAvailable.ShouldBe(4);

        var store = fixture.Host.Services.GetRequiredService<IDocumentStore>();
        await store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(10));

        await using var session = store.QuerySession();
        (await session.LoadAsync<LowStockAlert>(sku)).ShouldNotBeNull().Available.ShouldBe(4);
    }

    [Fact]
    public async Task an_unknown_sku_fails_the_whole_reservation()
    {
        var known = await GivenSku(onHand: 50);

        var tracked = await fixture.Host.InvokeMessageAndWaitAsync(new ReservationRequested(
            Guid.NewGuid(),
            [
                new OrderLineItem(known, "Catnip mouse", 1, 3.50m),
                new OrderLineItem("NOPE-404", "Unicorn saddle", 1, 999m)
            ]));

        tracked.Sent.SingleMessage<StockReservationFailed>().UnavailableSkus.ShouldBe(["NOPE-404"]);
        tracked.Sent.MessagesOf<StockReserved>().ShouldBeEmpty();
    }
}
