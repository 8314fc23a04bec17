"""The dashboard as the client under test of the official MCP conformance suite: `conformance client --command
"python -m tests.conformance_client"` runs this with the scenario's server URL.

It starts the dashboard on that server (a config with the scenario's pre-registered client when it gives one), and
then does what a person would: waits until the server needs a sign-in, signs in through the API, follows the
authorization URL as a browser would (the suite's authorization server approves at once and redirects back),
and starts a job on the server's first tool. A job refused for want of scope is followed by another sign-in, as
the page's button would be clicked again, until the dashboard itself gives up (its step-up limit).

The dashboard is reached behind a pretend proxy: its --public-url is https://conformance-test.local (the client ID
metadata document URL the suite expects), and this script maps that address onto the dashboard's loopback port.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Dashboard, follow, wait_until

PUBLIC_URL = "https://conformance-test.local"
HTML = {"Accept": "text/html"}
MOST_SIGN_INS = 5  # more than the dashboard allows: the dashboard's own limit must be what stops it


def main(server_url: str) -> int:
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "servers.json"
        entry: dict[str, Any] = {"url": server_url}
        if "client_id" in context:
            entry["oauth"] = {"client_id": context["client_id"], "client_secret": context.get("client_secret")}
        config.write_text(json.dumps({"mcpServers": {"remote": entry}}))
        app = Dashboard(
            Path(work) / "jobs.sqlite3",
            mcp_url=None,
            args=("--config", str(config), "--public-url", PUBLIC_URL, "--secret-key", "conformance"),
        ).start()
        try:
            drive(app)
        finally:
            app.stop()
            sys.stderr.write(app.output()[-4000:])
    return 0


def drive(app: Dashboard) -> None:
    with httpx.Client(base_url=app.url, timeout=30) as client:
        client.get("/", headers=HTML)  # a browser session, which a sign-in is bound to

        def state() -> str:
            answer: str = client.get("/api/servers/remote").json()["state"]
            return answer

        wait_until(lambda: state() != "connecting", what="the first check of the server", timeout=20)
        for _ in range(MOST_SIGN_INS):
            if state() == "needs_sign_in" and not sign_in(client, app):
                return
            wait_until(lambda: state() != "connecting", what="a check after the sign-in", timeout=20)
            if state() == "needs_sign_in":
                continue  # asked for more scope already
            tools = client.get("/api/servers/remote").json()["tools"]
            if not tools:
                return
            started = client.post("/api/jobs", json={"server": "remote", "tool": tools[0]["name"], "arguments": {}})
            if started.status_code == 409:
                continue
            follow(client, started.json()["id"])
            job = client.get(f"/api/jobs/{started.json()['id']}").json()
            if job["state"] == "succeeded" or "sign in" not in (job.get("error") or ""):
                return
            if not sign_in(client, app):  # the call needs more scope: sign in again
                return


def sign_in(client: httpx.Client, app: Dashboard) -> bool:
    """One sign-in, as the page's button and the browser do it; False when the dashboard refuses to start one."""
    started = client.post("/api/servers/remote/sign-in")
    if started.status_code != 200:
        sys.stderr.write(f"sign-in refused: {started.text}\n")
        return False
    authorization = httpx.get(started.json()["authorize_url"], timeout=30)
    location = authorization.headers.get("location", "")
    if not location.startswith(PUBLIC_URL):
        sys.stderr.write(f"the authorization server did not send the browser back: {authorization.status_code}\n")
        return False
    back = client.get(location.removeprefix(PUBLIC_URL))  # the proxy: the public address onto the dashboard
    sys.stderr.write(f"callback: {back.status_code} {back.text[:300]}\n")
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
