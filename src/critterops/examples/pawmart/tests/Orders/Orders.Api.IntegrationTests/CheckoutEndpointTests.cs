using Alba;
using Marten;
using Messages.Contracts.Inventory;
using Messages.Contracts.Orders;
using Messages.Contracts.Payments;
using Microsoft.Extensions.DependencyInjection;
using Orders.Checkouts;
using Orders.Placement;
using Wolverine.Http;
using Wolverine.Tracking;

namespace Orders.Api.IntegrationTests;

[Collection(IntegrationCollection.Name)]
public class CheckoutEndpointTests(AppFixture fixture)
{
    private static readonly ShippingAddress ShipTo =
        new("Ada Pawlace", "12 Kibble Lane", "Apt 3", "Portland", "OR", "97201");

    [Fact]
    public async Task completing_a_checkout_starts_the_order_saga()
    {
        var customerId = Guid.NewGuid();

        var started = await fixture.Host.Scenario(x =>
        {
            x.Post.Json(new StartCheckout(customerId)).ToUrl("/api/checkouts");
            x.StatusCodeShouldBe(201);
        });
        var checkoutId = (await started.ReadAsJsonAsync<CreationResponse<Guid>>())!.Value;

        await fixture.Host.Scenario(x =>
        {
            x.Post.Json(new AddCheckoutItem("TREAT-CHEW-20", "Dental chews x20", 2, 12.00m))
                .ToUrl($"/api/checkouts/{checkoutId}/items");
            x.StatusCodeShouldBe(204);
        });

        var tracked = await fixture.Host.ExecuteAndWaitAsync(async () =>
        {
            await fixture.Host.Scenario(x =>
            {
                x.Post.Json(new CompleteCheckout("tok_visa", ShipTo)).ToUrl($"/api/checkouts/{checkoutId}/complete");
                x.StatusCodeShouldBe(202);
            });
        });

        var paymentRequest = tracked.Sent.SingleMessage<PaymentRequested>();
        paymentRequest.Amount.ShouldBe(24.00m + Constants.FlatShippingFee);

        tracked.Sent.SingleMessage<ReservationRequested>().LineItems.ShouldHaveSingleItem().Quantity.ShouldBe(2);
        tracked.Sent.SingleMessage<OrderPlaced>().CustomerId.ShouldBe(customerId);

        await using var session = fixture.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var order = await session.LoadAsync<Order>(paymentRequest.OrderId);
        order.ShouldNotBeNull().Status.ShouldBe(OrderStatus.Placed);

        var summary = await session.LoadAsync<OrderSummary>(customerId);
        summary.ShouldNotBeNull().OrderCount.ShouldBe(1);
    }

    [Fact]
    public async Task an_unknown_checkout_cannot_be_completed()
    {
        await fixture.Host.Scenario(x =>
        {
            x.Post.Json(new CompleteCheckout("tok_visa", ShipTo)).ToUrl($"/api/checkouts/{Guid.NewGuid()}/complete");
            x.StatusCodeShouldBe(404);
        });
    }
}
