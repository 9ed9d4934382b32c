namespace Payments;

public static class Constants
{
    public const string SchemaName = "payments";

    public const string DefaultCurrency = "USD";

    /// <summary>Refunds are accepted for this long after authorization.</summary>
    public static readonly TimeSpan RefundWindow = TimeSpan.FromDays(60);
}
