"""Schemathesis over the real dashboard's own /openapi.json: whatever a client sends to any operation, valid or not,
the dashboard answers it without a server error, and without its token it answers nothing but 401.

Hypothesis draws the requests from Schemathesis's strategy for each operation (its pytest plugin does not run on
pytest 9.2). Bounded: a fixed number of examples per operation and mode, derandomized (the same requests every
run), no example database, no shrinking; the whole file runs in well under a minute."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import BaseSchema, Case, GenerationMode
from schemathesis.core.result import Err

from tests.helpers import Dashboard
from webapp.bundled import ChildServer

TOKEN = "fuzz-token-0123456789"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 25  # per operation and generation mode (valid and invalid input)
READ_TIMEOUT = 10  # seconds: a request that hangs fails the test rather than the run
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure names its request as it was sent
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzzed_dashboard(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A dashboard of the module's own, behind a token, on the bundled MCP server; starts are not rate limited, so
    that a 429 cannot hide what the start itself would answer."""
    db = tmp_path_factory.mktemp("fuzz") / "jobs.sqlite3"
    args = ("--token", TOKEN, "--max-starts-per-minute", "100000")
    app = Dashboard(db, mcp_url=mcp_server.url, args=args).start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def api(fuzzed_dashboard: Dashboard) -> BaseSchema:
    """The dashboard's own OpenAPI schema, read with the token (it is behind the token like everything else)."""
    return schemathesis.openapi.from_url(f"{fuzzed_dashboard.url}/openapi.json", headers=AUTHORIZED, timeout=10)


def fuzz(api: BaseSchema, check: Callable[[Case[Any]], None]) -> list[str]:
    """Run `check` on generated requests to every operation, valid and invalid; return the operations fuzzed."""
    fuzzed = []
    for result in api.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"an operation of the dashboard's own schema cannot be read: {result.err()}")
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @BOUNDED
            @given(operation.as_strategy(generation_mode=mode))
            def run(case: Case[Any]) -> None:
                check(case)

            try:
                run()
            except Unsatisfiable:
                # Schemathesis finds nothing invalid to send when every input is an unconstrained string.
                assert mode is GenerationMode.NEGATIVE, f"no valid request to {operation.path} could be made"

        fuzzed.append(f"{operation.method.upper()} {operation.path}")
    return fuzzed


def strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_no_request_with_the_token_gets_a_server_error_and_every_json_answer_is_strict_json(api: BaseSchema) -> None:
    def check(case: Case[Any]) -> None:
        response = case.call(headers=AUTHORIZED, timeout=READ_TIMEOUT)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
        )
        if response.headers.get("content-type", [""])[0].startswith("application/json"):
            strict_json(response.text)

    assert "POST /api/jobs" in fuzz(api, check)


def test_without_the_token_every_request_is_refused_with_401_and_never_a_server_error(api: BaseSchema) -> None:
    def check(case: Case[Any]) -> None:
        response = case.call(timeout=READ_TIMEOUT)
        assert response.status_code == 401, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
        )

    assert "DELETE /api/jobs/{job_id}" in fuzz(api, check)
