namespace Messages.Contracts.Orders;

/// <summary>
/// One line of an order as it travels between contexts. Prices are captured at checkout time.
/// </summary>
public sealed record OrderLineItem(
    string Sku,
    string ProductName,
    int Quantity,
    decimal UnitPrice)
{
    public decimal LineTotal => Quantity * UnitPrice;
}

/// <summary>
/// Where the parcel goes. <see cref="Line2"/> and <see cref="DeliveryNotes"/> are optional.
/// </summary>
public sealed record ShippingAddress(
    string RecipientName,
    string Line1,
    string? Line2,
    string City,
    string Region,
    string PostalCode,
    string CountryCode = "US",
    string? DeliveryNotes = null);
