namespace Messages.Contracts.Payments;

/// <summary>
/// Command from the Orders saga asking Payments to authorize the order total.
/// </summary>
public sealed record PaymentRequested(
    Guid OrderId,
    Guid CustomerId,
    decimal Amount,
    string PaymentMethodToken,
    string Currency = "USD",
    int Attempt = 1);
