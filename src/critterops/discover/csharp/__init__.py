"""C# source reading with tree-sitter."""
