namespace Fulfillment;

public static class Constants
{
    public const string SchemaName = "fulfillment";

    public static readonly TimeSpan DeliveryPollInterval = TimeSpan.FromHours(6);

    /// <summary>Give up polling the carrier after this many attempts (about two weeks).</summary>
    public const int MaxDeliveryPolls = 56;
}
