namespace Inventory;

public static class Constants
{
    public const string SchemaName = "inventory";

    /// <summary>The Portland warehouse; the only one until the East Coast DC opens.</summary>
    public const string DefaultWarehouse = "PDX-1";

    public const int DefaultReorderPoint = 10;
}
