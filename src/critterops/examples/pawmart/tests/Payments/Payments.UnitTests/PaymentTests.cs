using Payments.Processing;

namespace Payments.UnitTests;

public class PaymentTests
{
    private static Payment AuthorizedPayment(decimal amount = 80m)
    {
        var payment = new Payment(Guid.NewGuid(), Guid.NewGuid(), amount, "USD", "tok_visa");
        payment.Authorize("AUTH-123456", DateTimeOffset.UtcNow.AddDays(-1));
        return payment;
    }

    [Fact]
    public void partial_refunds_accumulate_until_fully_refunded()
    {
        var payment = AuthorizedPayment();

        payment.IssueRefund(30m, "Chewed packaging", DateTimeOffset.UtcNow);
        payment.Status.ShouldBe(PaymentStatus.PartiallyRefunded);
        payment.RefundableAmount.ShouldBe(50m);

        payment.IssueRefund(50m, "Returned the rest", DateTimeOffset.UtcNow);
        payment.Status.ShouldBe(PaymentStatus.Refunded);
        payment.Refunds.Count.ShouldBe(2);
    }

    [Fact]
    public void cannot_refund_more_than_was_charged()
    {
        var payment = AuthorizedPayment(20m);

        Should.Throw<InvalidOperationException>(() => payment.IssueRefund(20.01m, "Too much", DateTimeOffset.UtcNow));
    }

    [Fact]
    public void cannot_refund_after_the_window_closes()
    {
        var payment = AuthorizedPayment();

        Should.Throw<InvalidOperationException>(() =>
            payment.IssueRefund(10m, "Late", DateTimeOffset.UtcNow + Constants.RefundWindow + TimeSpan.FromDays(1)));
    }

    [Fact]
    public void a_failed_payment_is_not_refundable()
    {
        var payment = new Payment(Guid.NewGuid(), Guid.NewGuid(), 15m, "USD", "tok_decline");
        payment.Fail("Card declined");

        payment.RefundableAmount.ShouldBe(0m);
        Should.Throw<InvalidOperationException>(() => payment.Authorize("AUTH-1", DateTimeOffset.UtcNow));
    }

    [Theory]
    [InlineData("tok_visa", true)]
    [InlineData("tok_decline_stolen", false)]
    [InlineData("tok_insufficient_funds", false)]
    public async Task sandbox_gateway_follows_token_conventions(string token, bool approved)
    {
        var result = await new SandboxPaymentGateway().AuthorizeAsync(token, 10m, "USD", CancellationToken.None);

        result.Approved.ShouldBe(approved);
    }
}
