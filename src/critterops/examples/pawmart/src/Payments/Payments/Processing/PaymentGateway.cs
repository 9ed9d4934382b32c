namespace Payments.Processing;

public sealed record GatewayResult(bool Approved, string? AuthorizationCode, string? DeclineReason, string? ErrorCode, bool IsSoftDecline);

public interface IPaymentGateway
{
    Task<GatewayResult> AuthorizeAsync(string paymentMethodToken, decimal amount, string currency, CancellationToken ct);
}

/// <summary>
/// Sandbox gateway used outside production. Tokens starting with <c>tok_decline</c>
/// are declined, <c>tok_insufficient</c> is a soft decline, everything else is approved.
/// </summary>
public sealed class SandboxPaymentGateway : IPaymentGateway
{
    public Task<GatewayResult> AuthorizeAsync(string paymentMethodToken, decimal amount, string currency, CancellationToken ct)
    {
        var result = paymentMethodToken switch
        {
            var t when t.StartsWith("tok_decline", StringComparison.Ordinal) =>
                new GatewayResult(false, null, "Card declined", "card_declined", IsSoftDecline: false),
            var t when t.StartsWith("tok_insufficient", StringComparison.Ordinal) =>
                new GatewayResult(false, null, "Insufficient funds", "insufficient_funds", IsSoftDecline: true),
            _ => new GatewayResult(true, $"AUTH-{Random.Shared.Next(100000, 999999)}", null, null, false)
        };

        return Task.FromResult(result);
    }
}
