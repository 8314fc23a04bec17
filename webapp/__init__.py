"""MCP Live: a browser dashboard for live MCP notifications."""

__version__ = "0.1.0"
