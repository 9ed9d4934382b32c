using Alba;
using Messages.Contracts.Payments;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Payments.Processing;
using Payments.Refunds;
using Wolverine.Tracking;

namespace Payments.Api.IntegrationTests;

[Collection(IntegrationCollection.Name)]
public class PaymentRequestedTests(AppFixture fixture)
{
    [Fact]
    public async Task an_approved_card_is_authorized_and_reported_to_orders()
    {
        var orderId = Guid.NewGuid();

        var tracked = await fixture.Host.InvokeMessageAndWaitAsync(
            new PaymentRequested(orderId, Guid.NewGuid(), 42.50m, "tok_visa"));

        var authorized = tracked.Sent.SingleMessage<PaymentAuthorized>();
        authorized.OrderId.ShouldBe(orderId);
        authorized.Amount.ShouldBe(42.50m);

        using var scope = fixture.Host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PaymentsDbContext>();
        var payment = await db.Payments.SingleAsync(p => p.OrderId == orderId);
        payment.Status.ShouldBe(PaymentStatus.Authorized);
    }

    [Fact]
    public async Task a_declined_card_is_reported_as_failed()
    {
        var orderId = Guid.NewGuid();

        var tracked = await fixture.Host.InvokeMessageAndWaitAsync(
            new PaymentRequested(orderId, Guid.NewGuid(), 19.99m, "tok_decline"));

        var failed = tracked.Sent.SingleMessage<PaymentFailed>();
        failed.OrderId.ShouldBe(orderId);
        failed.IsRetryable.ShouldBeFalse();
        failed.GatewayErrorCode.ShouldBe("card_declined");
    }

    [Fact]
    public async Task a_redelivered_request_does_not_charge_twice()
    {
        var request = new PaymentRequested(Guid.NewGuid(), Guid.NewGuid(), 10m, "tok_visa");

        var first = await fixture.Host.InvokeMessageAndWaitAsync(request);
        var second = await fixture.Host.InvokeMessageAndWaitAsync(request);

        second.Sent.SingleMessage<PaymentAuthorized>().PaymentId
            .ShouldBe(first.Sent.SingleMessage<PaymentAuthorized>().PaymentId);
    }

    [Fact]
    public async Task a_partial_refund_can_be_issued_over_http()
    {
        var tracked = await fixture.Host.InvokeMessageAndWaitAsync(
            new PaymentRequested(Guid.NewGuid(), Guid.NewGuid(), 60m, "tok_visa"));
        var paymentId = tracked.Sent.SingleMessage<PaymentAuthorized>().PaymentId;

        await fixture.Host.Scenario(x =>
        {
            x.Post.Json(new RefundRequest(15m, "Wrong size harness")).ToUrl($"/api/payments/{paymentId}/refunds");
            x.StatusCodeShouldBe(201);
        });

        using var scope = fixture.Host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PaymentsDbContext>();
        var payment = await db.Payments.Include(p => p.Refunds).SingleAsync(p => p.Id == paymentId);
        payment.RefundedAmount.ShouldBe(15m);
        payment.Status.ShouldBe(PaymentStatus.PartiallyRefunded);
    }
}
