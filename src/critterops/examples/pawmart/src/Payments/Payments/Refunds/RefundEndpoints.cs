using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Payments.Processing;
using Wolverine.Http;

namespace Payments.Refunds;

public sealed record RefundRequest(decimal Amount, string Reason);

public sealed record PaymentView(
    Guid PaymentId,
    Guid OrderId,
    decimal Amount,
    decimal RefundedAmount,
    string Currency,
    string Status,
    DateTimeOffset RequestedAt,
    DateTimeOffset? AuthorizedAt);

public static class RefundEndpoints
{
    [WolverineGet("/api/payments/by-order/{orderId}")]
    public static async Task<PaymentView?> GetByOrder(Guid orderId, PaymentsDbContext db, CancellationToken ct)
    {
        var payment = await db.Payments.AsNoTracking().SingleOrDefaultAsync(p => p.OrderId == orderId, ct);

        return payment is null
            ? null
            : new PaymentView(payment.Id, payment.OrderId, payment.Amount, payment.RefundedAmount,
                payment.Currency, payment.Status.ToString(), payment.RequestedAt, payment.AuthorizedAt);
    }

    [WolverinePost("/api/payments/{paymentId}/refunds")]
    public static async Task<IResult> Post(
        Guid paymentId,
        RefundRequest command,
        PaymentsDbContext db,
        CancellationToken ct)
    {
        var payment = await db.Payments
            .Include(p => p.Refunds)
            .SingleOrDefaultAsync(p => p.Id == paymentId, ct);

        if (payment is null) return Results.NotFound();

        try
        {
            var refund = payment.IssueRefund(command.Amount, command.Reason, DateTimeOffset.UtcNow);

            // SaveChangesAsync is applied by Wolverine's EF Core transactional middleware
            return Results.Created($"/api/payments/{paymentId}/refunds/{refund.Id}", new { refundId = refund.Id });
        }
        catch (InvalidOperationException e)
        {
            return Results.Problem(e.Message, statusCode: StatusCodes.Status409Conflict);
        }
    }
}
