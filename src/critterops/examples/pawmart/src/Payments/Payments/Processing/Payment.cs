namespace Payments.Processing;

public enum PaymentStatus
{
    Pending,
    Authorized,
    Failed,
    PartiallyRefunded,
    Refunded
}

public sealed class Payment
{
    private Payment() { } // EF Core

    public Payment(Guid orderId, Guid customerId, decimal amount, string currency, string paymentMethodToken)
    {
        Id = Guid.CreateVersion7();
        OrderId = orderId;
        CustomerId = customerId;
        Amount = amount;
        Currency = currency;
        PaymentMethodToken = paymentMethodToken;
        Status = PaymentStatus.Pending;
        RequestedAt = DateTimeOffset.UtcNow;
    }

    public Guid Id { get; private set; }

    public Guid OrderId { get; private set; }

    public Guid CustomerId { get; private set; }

    public decimal Amount { get; private set; }

    public string Currency { get; private set; } = Constants.DefaultCurrency;

    public string PaymentMethodToken { get; private set; } = string.Empty;

    public PaymentStatus Status { get; private set; }

    public string? AuthorizationCode { get; private set; }

    public string? FailureReason { get; private set; }

    public DateTimeOffset RequestedAt { get; private set; }

    public DateTimeOffset? AuthorizedAt { get; private set; }

    public decimal RefundedAmount { get; private set; }

    public List<Refund> Refunds { get; private set; } = [];

    public decimal RefundableAmount => Status is PaymentStatus.Authorized or PaymentStatus.PartiallyRefunded
        ? Amount - RefundedAmount
        : 0m;

    public void Authorize(string authorizationCode, DateTimeOffset at)
    {
        if (Status != PaymentStatus.Pending)
            throw new InvalidOperationException($"Cannot authorize a payment that is {Status}");

        Status = PaymentStatus.Authorized;
        AuthorizationCode = authorizationCode;
        AuthorizedAt = at;
    }

    public void Fail(string reason)
    {
        if (Status != PaymentStatus.Pending)
            throw new InvalidOperationException($"Cannot fail a payment that is {Status}");

        Status = PaymentStatus.Failed;
        FailureReason = reason;
    }

    public Refund IssueRefund(decimal amount, string reason, DateTimeOffset at)
    {
        if (amount <= 0m)
            throw new ArgumentOutOfRangeException(nameof(amount), "Refund amount must be positive");
        if (amount > RefundableAmount)
            throw new InvalidOperationException($"Only {RefundableAmount} {Currency} can still be refunded");
        if (AuthorizedAt is { } authorizedAt && at - authorizedAt > Constants.RefundWindow)
            throw new InvalidOperationException("The refund window has closed");

        var refund = new Refund(Id, amount, reason, at);
        Refunds.Add(refund);

        RefundedAmount += amount;
        Status = RefundedAmount == Amount ? PaymentStatus.Refunded : PaymentStatus.PartiallyRefunded;

        return refund;
    }
}

public sealed class Refund
{
    private Refund() { } // EF Core

    internal Refund(Guid paymentId, decimal amount, string reason, DateTimeOffset requestedAt)
    {
        Id = Guid.CreateVersion7();
        PaymentId = paymentId;
        Amount = amount;
        Reason = reason;
        RequestedAt = requestedAt;
    }

    public Guid Id { get; private set; }

    public Guid PaymentId { get; private set; }

    public decimal Amount { get; private set; }

    public string Reason { get; private set; } = string.Empty;

    public DateTimeOffset RequestedAt { get; private set; }

    public DateTimeOffset? CompletedAt { get; private set; }

    public void MarkCompleted(DateTimeOffset at) => CompletedAt = at;
}
