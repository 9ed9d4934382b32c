using Marten;
using Messages.Contracts.Orders;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Orders.Placement;
using Wolverine;
using Wolverine.Http;

namespace Orders.Checkouts;

public sealed record StartCheckout(Guid CustomerId);

public sealed record AddCheckoutItem(string Sku, string ProductName, int Quantity, decimal UnitPrice);

public sealed record CompleteCheckout(string PaymentMethodToken, ShippingAddress ShipTo);

public static class StartCheckoutEndpoint
{
    [WolverinePost("/api/checkouts")]
    public static CreationResponse<Guid> Post(StartCheckout command, IDocumentSession session)
    {
        var checkoutId = Guid.CreateVersion7();

        session.Events.StartStream<Checkout>(
            checkoutId,
            new CheckoutStarted(checkoutId, command.CustomerId, DateTimeOffset.UtcNow));

        return new CreationResponse<Guid>($"/api/checkouts/{checkoutId}", checkoutId);
    }
}

public static class AddCheckoutItemEndpoint
{
    public static ProblemDetails Validate(AddCheckoutItem command)
    {
        if (command.Quantity is < 1 or > Constants.MaxQuantityPerLine)
        {
            return new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Detail = $"Quantity must be between 1 and {Constants.MaxQuantityPerLine}"
            };
        }

        return WolverineContinue.NoProblems;
    }

    [WolverinePost("/api/checkouts/{checkoutId}/items")]
    public static async Task<IResult> Post(
        Guid checkoutId,
        AddCheckoutItem command,
        IDocumentSession session,
        CancellationToken ct)
    {
        var checkout = await session.LoadAsync<Checkout>(checkoutId, ct);
        if (checkout is null) return Results.NotFound();
        if (checkout.IsCompleted) return Results.Conflict("Checkout is already completed");

        session.Events.Append(
            checkoutId,
            new CheckoutItemAdded(command.Sku, command.ProductName, command.Quantity, command.UnitPrice));

        return Results.NoContent();
    }
}

public static class CompleteCheckoutEndpoint
{
    [WolverinePost("/api/checkouts/{checkoutId}/complete")]
    public static async Task<IResult> Post(
        Guid checkoutId,
        CompleteCheckout command,
        IDocumentSession session,
        IMessageBus bus,
        CancellationToken ct)
    {
        var stream = await session.Events.FetchForWriting<Checkout>(checkoutId, ct);
        var checkout = stream.Aggregate;

        if (checkout is null) return Results.NotFound();
        if (checkout.IsCompleted) return Results.Conflict("Checkout is already completed");
        if (checkout.Items.Count == 0) return Results.BadRequest("Cannot complete an empty checkout");

        var orderId = Guid.CreateVersion7();
        var now = DateTimeOffset.UtcNow;

        stream.AppendMany(
            new ShippingAddressProvided(command.ShipTo),
            new CheckoutCompleted(orderId, checkout.CustomerId, checkout.Total, checkout.Items.Count, now));

        // Routed to the durable local "order-placement" queue, which starts the Order saga.
        // Enrolled in the Marten outbox, so it only goes out if the events commit.
        await bus.PublishAsync(new PlaceOrder(
            orderId,
            checkout.Id,
            checkout.CustomerId,
            checkout.Items,
            command.ShipTo,
            command.PaymentMethodToken,
            checkout.Total,
            now));

        return Results.Accepted($"/api/orders/{orderId}", new { orderId });
    }
}
