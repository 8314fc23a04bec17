"""The official MCP conformance suite's `auth` scenarios, with the dashboard as the client under test:
`python -m tests.conformance` (or `make conformance`). Each scenario starts its own authorization server and MCP
server, and runs tests/conformance_client.py (which starts a dashboard on it and signs in as a person would).

The suite (`@modelcontextprotocol/conformance`, npm) is installed once into the test cache (see tests/everything.py).
Its CLI takes `globSync` from `fs`, which Node 20 lacks: the install takes it from the `glob` package instead.
Scenarios run one after another, not the suite's all-at-once: fourteen dashboards starting together on a small
machine take longer than the suite's 30 s per client.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.everything import INSTALL_TIMEOUT, _command, _locked, cache_dir

PACKAGE = "@modelcontextprotocol/conformance"
VERSION = "0.1.16"
# The `auth` suite of 0.1.16 (`conformance list`): the scenarios of protocol 2025-11-25 and those kept from 2025-06-18.
AUTH_SCENARIOS = (
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
)
CLIENT_TIMEOUT = 60.0  # seconds the suite gives the client (its default, 30, is tight on a busy 2-core machine)
SCENARIO_TIMEOUT = 120.0
RESULT = re.compile(r"Passed: (\d+)/(\d+), (\d+) failed, (\d+) warnings")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REPOSITORY = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: str
    passed: int
    total: int
    failed: int
    warnings: int
    output: str
    judged: tuple[str, ...] = ()  # the distinct checks that were judged (not INFO), all SUCCESS when ok
    problems: tuple[str, ...] = ()  # those judged FAILURE or WARNING, with why

    @property
    def ok(self) -> bool:
        clean = self.failed == 0 and self.warnings == 0 and not self.problems
        return self.total > 0 and self.passed == self.total and bool(self.judged) and clean


def install(directory: Path | None = None) -> Path:
    """Install the suite once (under the cache's lock); return its CLI."""
    root = directory or cache_dir()
    target = root / f"conformance-{VERSION}"
    cli = target / "node_modules" / PACKAGE / "dist" / "index.js"
    with _locked(root):
        if not cli.exists():
            for stale in root.glob(f"{target.name}.partial-*"):
                shutil.rmtree(stale, ignore_errors=True)
            partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=root))
            partial.chmod(0o755)
            command = [_command("npm"), "install", "--prefix", str(partial), f"{PACKAGE}@{VERSION}", "glob@11"]
            command += ["--no-audit", "--no-fund"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
            if done.returncode != 0 or not (partial / cli.relative_to(target)).exists():
                shutil.rmtree(partial, ignore_errors=True)
                raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
            partial.rename(target)
        _shim_glob_sync(cli)
    return cli


def _shim_glob_sync(cli: Path) -> None:
    """Node 20's `fs` has no globSync (Node 22's has): take it from the glob package."""
    text = cli.read_text()
    patched = re.sub(
        r"import\{([^}]*?),?globSync as (\w+),?([^}]*)\}from\"fs\";",
        lambda m: (
            "import{"
            + ",".join(p for p in (m.group(1), m.group(3)) if p)
            + '}from"fs";'
            + f'import{{globSync as {m.group(2)}}}from"glob";'
        ),
        text,
        count=1,
    )
    if patched != text:
        cli.write_text(patched)


def run_scenario(cli: Path, scenario: str) -> Outcome:
    client = f"{shlex.quote(sys.executable)} -m tests.conformance_client"
    command = [_command("node"), str(cli), "client", "--command", client, "--timeout", str(int(CLIENT_TIMEOUT * 1000))]
    with tempfile.TemporaryDirectory() as results:
        done = subprocess.run(
            [*command, "--scenario", scenario, "-o", results],
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT,
            cwd=REPOSITORY,
            env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
            check=False,
        )
        judged, problems = read_checks(Path(results))
    output = ANSI.sub("", done.stdout + done.stderr)
    found = RESULT.search(output)
    if found is None:
        return Outcome(scenario, 0, 0, 0, 0, output)
    passed, total, failed, warnings = (int(n) for n in found.groups())
    return Outcome(scenario, passed, total, failed, warnings, output, judged, problems)


def read_checks(results: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The suite's own record of a scenario (checks.json): the distinct checks it judged, and those not passed."""
    judged: set[str] = set()
    problems: list[str] = []
    for path in results.rglob("checks.json"):
        for check in json.loads(path.read_text()):
            if check.get("status") == "INFO":
                continue
            judged.add(str(check.get("id")))
            if check.get("status") != "SUCCESS":
                problems.append(f"{check.get('id')}: {check.get('status')} {check.get('errorMessage') or ''}".strip())
    return tuple(sorted(judged)), tuple(problems)


def main() -> int:
    cli = install()
    outcomes = []
    for scenario in AUTH_SCENARIOS:
        outcome = run_scenario(cli, scenario)
        outcomes.append(outcome)
        mark = "ok  " if outcome.ok else "FAIL"
        print(
            f"{mark} {scenario}: {len(outcome.judged)} distinct checks judged, {outcome.passed}/{outcome.total} "
            f"records passed, {outcome.warnings} warning(s)",
            flush=True,
        )
        if not outcome.ok:
            print("\n".join(outcome.problems) or outcome.output[-6000:])
    good = sum(o.ok for o in outcomes)
    checks = sum(o.passed for o in outcomes), sum(o.total for o in outcomes)
    judged = sum(len(o.judged) for o in outcomes)
    print(f"{good}/{len(outcomes)} scenarios pass: {judged} distinct checks judged, {checks[0]}/{checks[1]} records")
    return 0 if good == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
