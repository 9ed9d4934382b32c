using Messages.Contracts.Payments;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Payments.Processing;

public static class PaymentRequestedHandler
{
    /// <summary>
    /// Authorizes the order total. Idempotent on OrderId: a redelivered request for an
    /// order we already decided on replays the earlier outcome instead of charging twice.
    /// </summary>
    public static async Task<object> Handle(
        PaymentRequested message,
        PaymentsDbContext db,
        IPaymentGateway gateway,
        ILogger<Payment> logger,
        CancellationToken ct)
    {
        var existing = await db.Payments.SingleOrDefaultAsync(p => p.OrderId == message.OrderId, ct);
        if (existing is not null && existing.Status != PaymentStatus.Pending)
        {
            logger.LogInformation("Replaying payment outcome for order {OrderId}", message.OrderId);
            return Outcome(existing);
        }

        var payment = existing ?? new Payment(
            message.OrderId,
            message.CustomerId,
            message.Amount,
            message.Currency,
            message.PaymentMethodToken);

        if (existing is null)
        {
            db.Payments.Add(payment);
        }

        var result = await gateway.AuthorizeAsync(message.PaymentMethodToken, message.Amount, message.Currency, ct);

        if (result.Approved)
        {
            payment.Authorize(result.AuthorizationCode!, DateTimeOffset.UtcNow);
            return Outcome(payment);
        }

        payment.Fail(result.DeclineReason ?? "Declined");
        return new PaymentFailed(
            payment.OrderId,
            payment.Id,
            payment.FailureReason!,
            IsRetryable: result.IsSoftDecline,
            GatewayErrorCode: result.ErrorCode,
            FailedAt: DateTimeOffset.UtcNow);
    }

    private static object Outcome(Payment payment) => payment.Status switch
    {
        PaymentStatus.Failed => new PaymentFailed(payment.OrderId, payment.Id, payment.FailureReason ?? "Declined"),
        _ => new PaymentAuthorized(payment.OrderId, payment.Id, payment.Amount, payment.AuthorizationCode!, payment.AuthorizedAt!.Value)
    };
}
