"""The official MCP conformance suite's auth scenarios (14), with the dashboard as the client: every check passes,
with no warning. See tests/conformance.py; `make conformance` prints the same report."""

from __future__ import annotations

import pytest

from tests.conformance import AUTH_SCENARIOS, install, run_scenario


@pytest.mark.timeout(900)
def test_every_auth_scenario_of_the_conformance_suite_passes_with_the_dashboard_as_the_client() -> None:
    cli = install()
    failed = []
    for scenario in AUTH_SCENARIOS:
        outcome = run_scenario(cli, scenario)
        if not outcome.ok:
            why = "\n".join(outcome.problems) or outcome.output[-3000:]
            failed.append(f"{scenario}: {outcome.passed}/{outcome.total}, {outcome.warnings} warning(s)\n{why}")
    assert failed == [], "\n\n".join(failed)
