namespace Messages.Contracts.Payments;

/// <summary>
/// The card was authorized for the full amount. Capture happens at dispatch.
/// </summary>
public sealed record PaymentAuthorized(
    Guid OrderId,
    Guid PaymentId,
    decimal Amount,
    string AuthorizationCode,
    DateTimeOffset AuthorizedAt);

/// <summary>
/// The gateway declined or errored. <see cref="IsRetryable"/> is true for soft declines.
/// </summary>
public sealed record PaymentFailed(
    Guid OrderId,
    Guid PaymentId,
    string Reason,
    bool IsRetryable = false,
    string? GatewayErrorCode = null,
    DateTimeOffset? FailedAt = null);
