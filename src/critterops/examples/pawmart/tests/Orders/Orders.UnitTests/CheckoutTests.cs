using Messages.Contracts.Orders;
using Orders.Checkouts;

namespace Orders.UnitTests;

public class CheckoutTests
{
    private static Checkout NewCheckout() =>
        Checkout.Create(new CheckoutStarted(Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow));

    [Fact]
    public void adding_the_same_sku_twice_merges_the_lines()
    {
        var checkout = NewCheckout()
            .Apply(new CheckoutItemAdded("TOY-ROPE-L", "Rope tug toy (L)", 1, 8.50m))
            .Apply(new CheckoutItemAdded("TOY-ROPE-L", "Rope tug toy (L)", 2, 8.50m));

        checkout.Items.ShouldHaveSingleItem().Quantity.ShouldBe(3);
        checkout.Subtotal.ShouldBe(25.50m);
    }

    [Theory]
    [InlineData(48.99, 5.99)]
    [InlineData(49.00, 0)]
    public void shipping_is_free_from_the_threshold(decimal unitPrice, decimal expectedFee)
    {
        var checkout = NewCheckout().Apply(new CheckoutItemAdded("BED-CAT-M", "Cat bed (M)", 1, unitPrice));

        checkout.ShippingFee.ShouldBe(expectedFee);
        checkout.Total.ShouldBe(unitPrice + expectedFee);
    }

    [Fact]
    public void completing_records_the_order_id()
    {
        var orderId = Guid.NewGuid();
        var checkout = NewCheckout()
            .Apply(new ShippingAddressProvided(new ShippingAddress("Ada", "1 Main St", null, "Bend", "OR", "97701")))
            .Apply(new CheckoutCompleted(orderId, Guid.NewGuid(), 10m, 1, DateTimeOffset.UtcNow));

        checkout.IsCompleted.ShouldBeTrue();
        checkout.OrderId.ShouldBe(orderId);
    }
}
