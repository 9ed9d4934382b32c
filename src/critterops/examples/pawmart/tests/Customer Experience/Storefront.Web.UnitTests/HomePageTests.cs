using Bunit.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Storefront.Web.Components.Pages;

namespace Storefront.Web.UnitTests;

public class HomePageTests : TestContext
{
    [Fact]
    public void a_valid_order_number_navigates_to_tracking()
    {
        var orderId = Guid.NewGuid();
        var cut = RenderComponent<Home>();

        cut.Find("#order-id").Change(orderId.ToString());
        cut.Find("form").Submit();

        Services.GetRequiredService<FakeNavigationManager>().Uri.ShouldEndWith($"/orders/{orderId}");
    }

    [Fact]
    public void garbage_shows_an_error_instead_of_navigating()
    {
        var cut = RenderComponent<Home>();

        cut.Find("#order-id").Change("not-an-order");
        cut.Find("form").Submit();

        cut.Find("[role=alert]").TextContent.ShouldContain("doesn't look like an order number");
    }
}
