"""axe-core (vendored from npm: tests/vendor/axe-core-*.min.js, MPL-2.0) run in a page: its serious and critical
findings. The page's strict CSP forbids inline scripts, so the source goes in through the DevTools protocol
(`evaluate`), which a CSP does not govern, not a <script> tag."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).parent.parent / "vendor" / "axe-core-4.14.1.min.js"
GRAVE = ("serious", "critical")


@cache
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def grave_findings(page: Page) -> list[dict[str, Any]]:
    """axe's violations of impact serious or critical on the page as it is now, each with the rule, its help and
    the first few elements it found."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }"""
    )
    return [finding for finding in found if finding["impact"] in GRAVE]
