"""Every setting in one place, each with its help text: flags, environment and README come from here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "MCP_LIVE_"
MIN_TOKEN_CHARS = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    host: str = Field("127.0.0.1", description="Interface the dashboard listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the dashboard listens on.")
    mcp_url: str | None = Field(
        None,
        description="URL of the MCP server: streamable HTTP (e.g. http://127.0.0.1:8001/mcp), or the legacy "
        "SSE transport when it ends in /sse. Unset: start the bundled demo server on a free loopback port.",
    )
    config: Path | None = Field(
        None,
        description="A JSON file of MCP servers in the mcpServers shape other MCP clients use: URL servers "
        "(streamable HTTP or SSE, with headers) and stdio servers (command, args, env); ${VAR} takes a value "
        "from the environment. Instead of --mcp-url.",
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
    input_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds a server's question waits for a person's answer (in the page or the API) before it is "
        "declined.",
    )
    store_patience: float = Field(
        30.0,
        gt=0,
        description="Seconds a job goes on while its writes to the store fail (each retried, nothing lost) "
        "before it is stopped and failed.",
    )

    # -- Who may use it (see webapp.security) ------------------------------------------------------------
    token: str | None = Field(
        None,
        description="Token every request must carry (a cookie after the login URL, or Authorization: Bearer). "
        "Unset on loopback: none. Unset on any other interface: one is made up and its login URL printed.",
    )
    allowed_host: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="A name the dashboard answers to besides this machine's own (behind a proxy, on a LAN); "
        "repeat the flag, or separate them with commas. A `*.example.com` form covers sub-domains.",
    )
    trusted_proxy: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Address of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto headers are believed "
        "(the client's address then counts for the limits and the logs); repeat the flag, or separate them with "
        "commas. Unset: no proxy is believed, the peer's own address counts.",
    )
    session_hours: float = Field(
        12.0,
        gt=0,
        description="Hours a browser's session lasts since it was last used (it is renewed while in use, for 7 "
        "days at most); then the token is asked for again.",
    )
    ssl_certfile: Path | None = Field(None, description="TLS certificate (PEM): serve HTTPS.")
    ssl_keyfile: Path | None = Field(None, description="TLS private key (PEM) that goes with --ssl-certfile.")
    public_url: str | None = Field(
        None,
        description="The address people reach the dashboard at, behind a proxy (e.g. https://mcp.example.com): "
        "sign-ins return to its /oauth/callback, and when it is HTTPS it serves the dashboard's client ID "
        "metadata document at /client-metadata.json. Unset: the address each request came to.",
    )
    secret_key: str | None = Field(
        None,
        description="Key that seals the tokens of server sign-ins in the store (the same in every web and worker "
        "process). Unset: tokens are kept in the clear, and the dashboard says so.",
    )

    # -- What a server may send, and what is kept (each limit is shown where it applies) ------------------
    max_event_bytes: int = Field(
        256 * 1024, ge=1024, description="Most bytes of one event's data kept in the store; more is cut, and marked."
    )
    max_line_bytes: int = Field(
        4096, ge=256, description="Most bytes of one line's data shown in the page; the rest is one click away."
    )
    max_message_bytes: int = Field(
        256 * 1024, ge=16 * 1024, description="Most bytes of log lines in one message of a live stream."
    )
    max_events: int = Field(
        2_000_000, ge=1, description="Most events kept for one job; beyond it they are counted, not stored."
    )
    max_starts_per_minute: int = Field(
        60, ge=1, description="Most jobs one client (address) may start in a minute; more get 429."
    )
    max_queued: int = Field(1000, ge=1, description="Most jobs waiting for a worker; more are refused with 429.")
    max_body_bytes: int = Field(
        1024 * 1024, ge=16 * 1024, description="Most bytes of a request's body; a bigger one gets 413."
    )
    header_timeout: float = Field(
        10.0, gt=0, description="Seconds a client has to send a request's headers before its connection is closed."
    )
    max_connections: int = Field(
        4096,
        ge=64,
        description="Most connections open at once (the streams included); more are answered 503. Kept below the "
        "process's limit of open files, which is raised to its hard limit at start.",
    )
    max_streams_per_client: int = Field(
        50, ge=1, description="Most live streams one client address may hold open at once; more get 429."
    )
    max_server_lines: int = Field(
        100_000, ge=100, description="Most lines kept of what one server sends outside jobs (the newest)."
    )
    max_server_lines_per_second: float = Field(
        100.0,
        gt=0,
        description="Most lines a second kept of what one server sends outside jobs (in bursts of up to ten "
        "seconds' worth); more are counted, not kept.",
    )
    keep_days: float | None = Field(
        30.0, gt=0, description="Days an ended job and its events are kept; unset: for ever."
    )
    keep_jobs: int | None = Field(10_000, ge=1, description="Most ended jobs kept (the newest); unset: no limit.")

    # -- Operations -----------------------------------------------------------------------------------------
    db_pool_size: int = Field(
        10,
        ge=1,
        le=1000,
        description="Most connections to PostgreSQL one process opens for its work; it has 1 to 2 more of its own "
        "for notifications (and one per MCP server it listens to outside jobs).",
    )
    drain_timeout: float = Field(
        60.0,
        ge=0,
        description="Seconds a worker that got SIGTERM lets its running jobs finish (taking no new one) before it "
        "interrupts them; a second SIGTERM interrupts them at once. Jobs running as MCP tasks are handed over at "
        "once.",
    )
    health_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="A worker serves /healthz, /readyz and /metrics on this port (on --host), with no token. "
        "Unset: none. Web processes serve them on their own port.",
    )
    metrics_open: bool = Field(
        False, description="Serve /metrics without the token (for a scraper on a private network)."
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="Least severe log messages written (to stderr)."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or as one JSON object a line (time, level, logger, message)."
    )

    @field_validator(
        "config",
        "token",
        "ssl_certfile",
        "ssl_keyfile",
        "keep_days",
        "keep_jobs",
        "public_url",
        "secret_key",
        "health_port",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("token")
    @classmethod
    def _token_long_enough(cls, token: str | None) -> str | None:
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"a token must be at least {MIN_TOKEN_CHARS} characters long, so that it cannot be guessed (make one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return token

    @field_validator("allowed_host", "trusted_proxy", mode="before")
    @classmethod
    def _names_from_a_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError("the public URL starts with https:// (or http://)")
        return url.rstrip("/")

    @field_validator("mcp_url")
    @classmethod
    def _empty_url_means_bundled(cls, url: str | None) -> str | None:
        return url.strip() or None if url is not None else None
