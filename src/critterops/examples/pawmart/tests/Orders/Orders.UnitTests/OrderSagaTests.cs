using Messages.Contracts.Fulfillment;
using Messages.Contracts.Inventory;
using Messages.Contracts.Orders;
using Messages.Contracts.Payments;
using Microsoft.Extensions.Logging.Abstractions;
using Orders.Placement;

namespace Orders.UnitTests;

public class OrderSagaTests
{
    private static readonly ShippingAddress Home =
        new("Ada Pawlace", "12 Kibble Lane", null, "Portland", "OR", "97201");

    private static PlaceOrder APlaceOrder(params OrderLineItem[] lines) => new(
        Guid.NewGuid(),
        Guid.NewGuid(),
        Guid.NewGuid(),
        lines.Length > 0 ? lines : [new OrderLineItem("FOOD-DOG-12KG", "Grain-free dog food 12kg", 1, 54.99m)],
        Home,
        "tok_visa",
        54.99m,
        DateTimeOffset.UtcNow);

    private static Order StartedOrder(PlaceOrder? command = null) =>
        Order.Start(command ?? APlaceOrder(), NullLogger<Order>.Instance).Item1;

    [Fact]
    public void starting_the_saga_requests_payment_and_stock_and_announces_the_order()
    {
        var command = APlaceOrder();

        var (order, payment, reservation, placed, timeout) = Order.Start(command, NullLogger<Order>.Instance);

        order.Id.ShouldBe(command.OrderId);
        order.Status.ShouldBe(OrderStatus.Placed);
        payment.Amount.ShouldBe(54.99m);
        payment.PaymentMethodToken.ShouldBe("tok_visa");
        reservation.LineItems.ShouldBe(command.LineItems);
        placed.CustomerId.ShouldBe(command.CustomerId);
        timeout.OrderId.ShouldBe(command.OrderId);
    }

    [Fact]
    public void fulfillment_waits_for_both_payment_and_stock()
    {
        var order = StartedOrder();

        var afterPayment = order.Handle(new PaymentAuthorized(order.Id, Guid.NewGuid(), order.Total, "AUTH-1", DateTimeOffset.UtcNow));
        afterPayment.ShouldBeEmpty();
        order.Status.ShouldBe(OrderStatus.PaymentAuthorized);

        var afterStock = order.Handle(new StockReserved(order.Id, Guid.NewGuid(), [], DateTimeOffset.UtcNow));

        order.Status.ShouldBe(OrderStatus.ReadyForFulfillment);
        var request = afterStock.OfType<FulfillmentRequested>().ShouldHaveSingleItem();
        request.OrderId.ShouldBe(order.Id);
        request.ContainsPerishables.ShouldBeTrue();
    }

    [Fact]
    public void a_declined_payment_completes_the_saga()
    {
        var order = StartedOrder();

        order.Handle(new PaymentFailed(order.Id, Guid.NewGuid(), "Card declined"), NullLogger<Order>.Instance);

        order.Status.ShouldBe(OrderStatus.PaymentFailed);
        order.IsCompleted().ShouldBeTrue();
    }

    [Fact]
    public void the_payment_timeout_cancels_an_unpaid_order()
    {
        var order = StartedOrder();

        order.Handle(new OrderPaymentTimeout(order.Id), NullLogger<Order>.Instance);

        order.Status.ShouldBe(OrderStatus.Cancelled);
        order.IsCompleted().ShouldBeTrue();
    }

    [Fact]
    public void the_payment_timeout_is_ignored_once_paid()
    {
        var order = StartedOrder();
        order.Handle(new PaymentAuthorized(order.Id, Guid.NewGuid(), order.Total, "AUTH-2", DateTimeOffset.UtcNow));

        order.Handle(new OrderPaymentTimeout(order.Id), NullLogger<Order>.Instance);

        order.Status.ShouldBe(OrderStatus.PaymentAuthorized);
        order.IsCompleted().ShouldBeFalse();
    }
}
