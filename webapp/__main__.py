"""`python -m webapp`: serve the dashboard (and the bundled MCP server unless --mcp-url is given)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from webapp.app import create_app
from webapp.settings import ENV_PREFIX, Settings


def parse_args(argv: list[str] | None = None) -> Settings:
    """One flag per setting; a flag wins over its MCP_LIVE_* environment variable, which wins over the default."""
    parser = argparse.ArgumentParser(
        prog="python -m webapp", description="MCP Live: a dashboard for live MCP notifications."
    )
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, dest=name, help=f"{field.description} Env: {ENV_PREFIX}{name.upper()}. Default: {field.default}."
        )
    given = {name: value for name, value in vars(parser.parse_args(argv)).items() if value is not None}
    return Settings(**given)


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per MCP request is noise here
    print(f"MCP Live: http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5
    )


if __name__ == "__main__":
    main()
