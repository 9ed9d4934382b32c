"""``critterops mcp``: critterops' commands as Model Context Protocol tools for AI coding agents.

The SDK (``mcp``, an optional extra) is imported only by :mod:`critterops.mcp.server`, so the
rest of critterops works without it.
"""
