"""Every setting in one place, each with its help text: flags, environment and README come from here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MCP_LIVE_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    host: str = Field("127.0.0.1", description="Interface the dashboard listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the dashboard listens on.")
    mcp_url: str | None = Field(
        None,
        description="URL of the MCP server: streamable HTTP (e.g. http://127.0.0.1:8001/mcp), or the legacy "
        "SSE transport when it ends in /sse. Unset: start the bundled demo server on a free loopback port.",
    )
    protocol: Literal["auto", "legacy"] = Field(
        "auto",
        description="How to greet the MCP server: auto (protocol 2026-07-28, falling back to the 2025 initialize "
        "handshake) or legacy (always the handshake: 2025-era sessions).",
    )
    db: str = Field(
        "data/mcp-live.sqlite3",
        description="Where jobs and their events are kept: a SQLite file, or a postgresql:// URL that several web "
        "and worker processes share.",
    )
    max_lines: int = Field(2000, ge=1, description="Most log lines a job page keeps in the browser's DOM.")
    idle_timeout: float = Field(
        120.0, gt=0, description="Default seconds a job may go without any notification before it is timed out."
    )
    max_duration: float = Field(3600.0, gt=0, description="Default longest a job may run, in seconds.")
    status_interval: float = Field(5.0, gt=0, description="Seconds between checks of the MCP server's status.")
    max_jobs: int = Field(32, ge=1, description="Most jobs one worker runs at once; more wait, queued.")
    store_patience: float = Field(
        30.0,
        gt=0,
        description="Seconds a job goes on while its writes to the store fail (each retried, nothing lost) "
        "before it is stopped and failed.",
    )

    @field_validator("mcp_url")
    @classmethod
    def _empty_url_means_bundled(cls, url: str | None) -> str | None:
        return url.strip() or None if url is not None else None
