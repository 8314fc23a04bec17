# MCP Live as a container image: the wheel built from this checkout, on a slim Python, run as a user with no
# privileges. One image for every role: `mcp-live web`, `mcp-live worker`, `mcp-live migrate` (see compose.yaml).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY templates ./templates
COPY static ./static
# webapp/templates and webapp/static are links to the top-level folders: the wheel holds the files themselves.
RUN pip wheel --no-deps --no-cache-dir -w /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MCP_LIVE_HOST=0.0.0.0 MCP_LIVE_PORT=8000 MCP_LIVE_DB=/data/mcp-live.sqlite3
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl && rm -rf /dist \
    && useradd --system --uid 10001 --home-dir /data --create-home mcp-live
USER mcp-live
WORKDIR /data
EXPOSE 8000
# /healthz touches nothing but the process: a worker serves it on --health-port (compose.yaml sets 8000 there too).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; p = os.environ.get('MCP_LIVE_HEALTH_PORT') or os.environ.get('MCP_LIVE_PORT', '8000'); u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=2)"]
ENTRYPOINT ["mcp-live"]
CMD []
