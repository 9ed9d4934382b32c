namespace Orders;

public static class Constants
{
    public const string BoundedContext = "Orders";

    /// <summary>Orders at or above this subtotal ship for free.</summary>
    public const decimal FreeShippingThreshold = 49.00m;

    public const decimal FlatShippingFee = 5.99m;

    /// <summary>How long the saga waits for a payment decision before cancelling.</summary>
    public static readonly TimeSpan PaymentTimeout = TimeSpan.FromMinutes(15);

    public const int MaxQuantityPerLine = 20;
}
