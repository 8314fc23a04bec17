"""The process's Prometheus metrics, all named `mcp_live_*`, served at GET /metrics (see `webapp.operations`).

Counters and histograms are counted where things happen (the store, the worker, the streams); the gauges that
describe the shared state (jobs by state, the queue) are read from the store when /metrics is asked.
Defined once here, on prometheus_client's default registry, so that any module may count without a cycle.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_RECORDED = Counter("mcp_live_events_recorded", "Events (log lines, progress, ...) written to the store.")
EVENT_WRITE_SECONDS = Histogram(
    "mcp_live_event_write_seconds",
    "Time one write of a job's fields and new events to the store took.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
STORE_ERRORS = Counter("mcp_live_store_errors", "Calls to the store that failed because it was unavailable.")
STORE_RETRIES = Counter("mcp_live_store_retries", "Writes of a job retried after the store was unavailable.")
LEASE_RENEWALS = Counter("mcp_live_lease_renewals", "Worker lease renewals, by outcome.", ["outcome"])
SSE_STREAMS = Gauge("mcp_live_sse_streams", "Live streams (SSE viewers) open on this web process.")
JOBS_RUNNING_HERE = Gauge("mcp_live_worker_running_jobs", "Jobs this worker process runs now.", ["worker"])
JOBS = Gauge("mcp_live_jobs", "Jobs in the store by state, as shown (read when /metrics is asked).", ["state"])
QUEUE_DEPTH = Gauge("mcp_live_queue_depth", "Jobs waiting for a worker (read when /metrics is asked).")
SERVERS_CONNECTED = Gauge("mcp_live_mcp_servers_connected", "MCP servers this process last found connected.")
SERVERS = Gauge("mcp_live_mcp_servers", "MCP servers this process knows of.")
