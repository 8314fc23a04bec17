"""Everyone can read it (issue 8, part 8): in both themes, every text on the page reaches WCAG AA (4.5:1) against
the background it is drawn on, every focus ring too, the eight level colours stay apart for the common colour-vision
deficiencies, and the theme toggle remembers the reader's choice.

Contrast is computed from what Chromium renders: each element's computed colour and background-color, the
background found by walking up to the first opaque one and alpha-compositing what lies between, and the text's
own alpha (and its ancestors' opacity) composited over that."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers import Dashboard, follow, start_job, wait_until
from webapp.events import LEVELS

TIMEOUT = 30_000  # ms: the bound of every wait below
AA = 4.5
# Adjacent levels (debug/info, info/notice, ..., alert/emergency) must differ by at least this CIEDE2000 distance
# for normal vision and under each simulated deficiency, and any two levels by at least NEAREST: about 10 reads as
# another colour at a glance, even on small text. The palette itself keeps 15 and 8.5.
ADJACENT_DELTA_E = 12.0
NEAREST_DELTA_E = 6.0

# In the page: any CSS colour (rgb, what light-dark() gives, oklch...) as sRGB bytes and alpha, by painting one
# pixel and reading it back; the opaque colour behind an element, compositing the backgrounds up to the first opaque
# one; WCAG's relative luminance and contrast ratio.
COLOUR_JS = r"""
  const ctx = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "rgba(0, 0, 0, 0)";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
  const backdrop = (from) => {
    const layers = [];
    for (let node = from; node instanceof Element; node = node.parentElement) {
      const bg = rgba(getComputedStyle(node).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const opacity = (el) => {
    let product = 1;
    for (let node = el; node instanceof Element; node = node.parentElement) {
      product *= Number(getComputedStyle(node).opacity);
    }
    return product;
  };
  const channel = (v) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  const lum = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  const describe = (el) =>
    el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + [...el.classList].map((c) => "." + c).join("");
"""

# Every text under the `roots` selectors: elements with a text node of their own, and form fields (their value is
# their text), each with its colour as seen (its alpha and its ancestors' opacity composited) on its backdrop.
# Hidden, visually-hidden and disabled things are left out (WCAG exempts disabled controls; the rest is not seen).
MEASURE_JS = (
    "(roots) => {"
    + COLOUR_JS
    + r"""
  const ownText = (el) => [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent);
  const found = new Map();
  for (const root of roots.flatMap((sel) => [...document.querySelectorAll(sel)])) {
    for (const el of [root, ...root.querySelectorAll("*")]) {
      const field = el.matches("input:not([type=checkbox], [type=radio], [type=hidden]), select, textarea");
      const text = (field ? el.value || "" : ownText(el).join("")).trim();
      if (!text || found.has(el) || el.matches("script, style, option, title")) continue;
      if (!el.checkVisibility({ visibilityProperty: true }) || el.closest("[hidden], .visually-hidden")) continue;
      const box = el.getBoundingClientRect();
      if (box.width < 2 || box.height < 2 || el.closest(":disabled, [aria-disabled=true]")) continue;
      const shown = opacity(el);
      if (shown === 0) continue; // not seen until hovered or focused (a line's copy button)
      const bg = backdrop(el);
      const fg = rgba(getComputedStyle(el).color);
      fg[3] *= shown;
      const seen = over(fg, bg);
      found.set(el, {
        what: describe(el), tag: el.tagName.toLowerCase(), classes: [...el.classList], text: text.slice(0, 40),
        fg: seen.slice(0, 3), bg: bg.slice(0, 3), ratio: ratio(seen, bg),
      });
    }
  }
  return [...found.values()];
}"""
)

# The focused element's outline, and what it is drawn on: a ring outside the element lies on its parent's
# background, one drawn inside (a negative offset) on its own.
FOCUS_JS = (
    "() => {"
    + COLOUR_JS
    + r"""
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const under = backdrop(parseFloat(style.outlineOffset) < 0 ? el : el.parentElement);
  return {
    what: describe(el), style: style.outlineStyle, width: parseFloat(style.outlineWidth),
    ring: over(rgba(style.outlineColor), under).slice(0, 3), under: under.slice(0, 3),
  };
}"""
)


@dataclass(frozen=True)
class Jobs:
    """Jobs in every state a test can bring about, kept for the whole module."""

    succeeded: str
    failed: str
    cancelled: str
    timed_out: str
    running: str


@pytest.fixture(scope="module")
def jobs(dashboard: Dashboard) -> Iterator[Jobs]:
    with dashboard.client() as client:
        succeeded = start_job(client, steps=40, delay=0)  # five lines of each of the eight levels
        failed = start_job(client, steps=12, delay=0, fail_at=11)
        response = client.post(
            "/api/jobs", json={"tool": "run_job", "arguments": {"steps": 3, "delay": 5}, "idle_timeout": 0.3}
        )
        assert response.status_code == 201, response.text
        timed_out = response.json()["id"]
        cancelled = start_job(client, steps=1000, delay=0.05)
        running = start_job(client, steps=4000, delay=0.05)
        for job_id in (succeeded, failed, timed_out):
            follow(client, job_id)
        wait_until(lambda: state(client, running) == "running", what="the long job to run", timeout=30)
        wait_until(lambda: state(client, cancelled) == "running", what="the job to cancel to run", timeout=30)
        assert client.post(f"/api/jobs/{cancelled}/cancel").status_code == 202
        wait_until(lambda: state(client, cancelled) == "cancelled", what="the cancel", timeout=30)
        assert [state(client, j) for j in (succeeded, failed, timed_out)] == ["succeeded", "failed", "timed_out"]
        yield Jobs(succeeded, failed, cancelled, timed_out, running)
        client.post(f"/api/jobs/{running}/cancel")


def state(client: httpx.Client, job_id: str) -> str:
    value: str = client.get(f"/api/jobs/{job_id}").json()["state"]
    return value


@dataclass
class Themed:
    """A browser page in one theme ("light" or "dark"), reached through the system's preference alone, or by
    pressing the header's toggle against it."""

    page: Page
    theme: str
    by_toggle: bool

    def open(self, url: str) -> None:
        page = self.page
        page.goto(url)
        if self.by_toggle and page.locator("html").get_attribute("data-theme") is None:
            page.click("#theme-toggle")  # once: the cookie it sets holds for every later page
            expect(page.locator("html")).to_have_attribute("data-theme", self.theme)
        pressed = "true" if self.theme == "dark" else "false"
        expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", pressed)
        assert is_dark(page) == (self.theme == "dark"), f"the page is not {self.theme}"


Scheme = Literal["light", "dark"]
THEMES: dict[str, tuple[Scheme, bool]] = {  # how each is reached: (the system's preference, the toggle pressed)
    "light, system": ("light", False),
    "dark, system": ("dark", False),
    "dark, toggle": ("light", True),
    "light, toggle": ("dark", True),
}


@pytest.fixture(params=list(THEMES))
def themed(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Themed]:
    system, by_toggle = THEMES[request.param]
    theme = ("dark" if system == "light" else "light") if by_toggle else system
    context = browser.new_context(viewport={"width": 1366, "height": 900}, color_scheme=system)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield Themed(page, theme, by_toggle)
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def is_dark(page: Page) -> bool:
    background: str = page.evaluate("getComputedStyle(document.body).backgroundColor")
    rgb = [float(v) for v in re.findall(r"[\d.]+", background)[:3]]
    return luminance(rgb) < 0.2


def measure(page: Page, *roots: str) -> list[dict[str, Any]]:
    """Every text under `roots` (selectors) with its rendered colour, background and contrast ratio."""
    found: list[dict[str, Any]] = page.evaluate(MEASURE_JS, list(roots))
    return found


def assert_readable(found: list[dict[str, Any]], theme: str) -> None:
    poor = [
        f"{f['what']} {f['text']!r}: {f['ratio']:.2f} ({rgb_hex(f['fg'])} on {rgb_hex(f['bg'])})"
        for f in found
        if f["ratio"] < AA
    ]
    assert poor == [], f"text under {AA}:1 in the {theme} theme:\n" + "\n".join(poor)
    lowest = min(found, key=lambda f: f["ratio"])
    print(f"{theme}: {len(found)} texts, the lowest {lowest['ratio']:.2f} ({lowest['what']} {lowest['text']!r})")


def has(found: list[dict[str, Any]], tag: str, cls: str | None = None) -> bool:
    """Whether a `tag` element (of class `cls`) was among the texts measured."""
    return any(f["tag"] == tag and (cls is None or cls in f["classes"]) for f in found)


def level_names(page: Page, level: str) -> list[dict[str, Any]]:
    return [f for f in measure(page, f'#log > li[data-level="{level}"]') if "level" in f["classes"]]


def test_a_job_page_with_all_eight_levels_is_readable_in_both_themes(
    themed: Themed, dashboard: Dashboard, jobs: Jobs
) -> None:
    page = themed.page
    themed.open(f"{dashboard.url}/jobs/{jobs.succeeded}")
    expect(page.locator("#log > li")).to_have_count(80)
    found = measure(page, "body")
    assert_readable(found, themed.theme)
    # What matters most was measured, so the sweep cannot pass by missing it: each level's name (written, not
    # only coloured), the data of log and progress lines, times, hints, the badge, links, buttons, the header.
    for level in LEVELS:
        names = level_names(page, level)
        assert [n["text"] for n in names] == [level.upper()] * 5
    assert has(found, "pre", "data") and has(found, "span", "data") and has(found, "time")
    assert has(found, "p", "hint") and has(found, "span", "badge") and has(found, "a", "brand")
    assert has(found, "a") and has(found, "button", "theme-toggle") and has(found, "button")


def test_the_level_colours_stay_apart_for_colour_blind_readers_in_both_themes(
    themed: Themed, dashboard: Dashboard, jobs: Jobs
) -> None:
    themed.open(f"{dashboard.url}/jobs/{jobs.succeeded}")
    colours = {level: level_names(themed.page, level)[0]["fg"] for level in LEVELS}
    assert len({tuple(rgb) for rgb in colours.values()}) == 8, colours
    for vision in ("normal", *MACHADO):
        seen = {level: lab(simulate(rgb, vision)) for level, rgb in colours.items()}
        adjacent = {f"{a}/{b}": delta_e(seen[a], seen[b]) for a, b in itertools.pairwise(LEVELS)}
        nearest = min(delta_e(seen[a], seen[b]) for a, b in itertools.combinations(LEVELS, 2))
        print(
            f"{themed.theme}, {vision}: adjacent levels ΔE00 >= {min(adjacent.values()):.1f}, any two >= {nearest:.1f}"
        )
        close = {pair: round(d, 1) for pair, d in adjacent.items() if d < ADJACENT_DELTA_E}
        assert close == {}, f"{vision}: adjacent levels too alike in the {themed.theme} theme: {close}"
        assert nearest >= NEAREST_DELTA_E, f"{vision}: two levels alike in the {themed.theme} theme ({nearest:.1f})"


def test_the_home_page_and_every_state_badge_are_readable_in_both_themes(
    themed: Themed, dashboard: Dashboard, jobs: Jobs
) -> None:
    page = themed.page
    themed.open(dashboard.url + "/")
    shown = {
        jobs.succeeded: "succeeded",
        jobs.failed: "failed",
        jobs.timed_out: "timed_out",
        jobs.cancelled: "cancelled",
        jobs.running: "running",
    }
    for job_id, job_state in shown.items():
        badge = page.locator(f'#jobs [data-job-id="{job_id}"] [data-state]')
        expect(badge).to_have_attribute("data-state", job_state, timeout=TIMEOUT)
    found = measure(page, "body")
    assert_readable(found, themed.theme)
    badges = {f["text"] for f in found if "badge" in f["classes"]}
    assert {"succeeded", "failed", "timed out", "cancelled", "running"} <= badges, badges
    assert has(found, "select") and has(found, "textarea") and has(found, "button", "primary")


def test_a_failed_and_a_running_job_are_readable_in_both_themes(
    themed: Themed, dashboard: Dashboard, jobs: Jobs
) -> None:
    page = themed.page
    themed.open(f"{dashboard.url}/jobs/{jobs.failed}")
    expect(page.locator("#job-status .error")).to_contain_text("step 11 failed")
    found = measure(page, "body")
    assert has(found, "p", "error"), "the failure was not measured"
    assert_readable(found, themed.theme)

    themed.open(f"{dashboard.url}/jobs/{jobs.running}")
    expect(page.locator("#live")).to_have_attribute("data-live", "live", timeout=TIMEOUT)
    found = measure(page, "body")
    assert has(found, "button", "cancel") and has(found, "span", "badge"), "Cancel or the badge was not measured"
    assert_readable(found, themed.theme)


def test_every_focus_ring_is_visible_in_both_themes(themed: Themed, dashboard: Dashboard, jobs: Jobs) -> None:
    page = themed.page
    rings: dict[str, dict[str, Any]] = {}
    for url in (f"{dashboard.url}/jobs/{jobs.succeeded}", dashboard.url + "/"):
        themed.open(url)
        for _ in range(60):  # Tab through the page from its top
            page.keyboard.press("Tab")
            ring = page.evaluate(FOCUS_JS)
            if ring is not None:
                rings.setdefault(ring["what"], ring)
        if "/jobs/" in url:
            # The log is one tab stop (a line, issue 19); a line's actions are reached by Enter, then Tab.
            page.locator("#log").focus()
            page.keyboard.press("Enter")
            for _ in range(3):
                ring = page.evaluate(FOCUS_JS)
                if ring is not None:
                    rings.setdefault(ring["what"], ring)
                page.keyboard.press("Tab")
    assert {"button#theme-toggle.theme-toggle", "a.brand", "a.seq", "a.skip-link"} <= rings.keys(), rings.keys()
    assert any(what.startswith("li#seq-") for what in rings), rings.keys()
    for what, ring in rings.items():
        assert ring["style"] != "none" and ring["width"] >= 2, f"{what} shows no focus ring: {ring}"
        ratio = contrast(ring["ring"], ring["under"])
        assert ratio >= AA, f"{what}: its focus ring {rgb_hex(ring['ring'])} on {rgb_hex(ring['under'])}: {ratio:.2f}"
    lowest = min(contrast(r["ring"], r["under"]) for r in rings.values())
    print(f"{themed.theme}: {len(rings)} focus rings, the lowest {lowest:.2f}")


# ---- The theme: the toggle, its memory, the first paint ----


def test_the_toggle_remembers_the_choice_across_a_reload(browser: Browser, dashboard: Dashboard, jobs: Jobs) -> None:
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(f"{dashboard.url}/jobs/{jobs.succeeded}")
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_accessible_name("Dark mode")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.locator("html").get_attribute("data-theme") is None  # no choice yet: the system's theme
    assert not is_dark(page)

    toggle.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard works it
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert is_dark(page)
    [cookie] = [c for c in context.cookies() if c["name"] == "theme"]
    assert (cookie["value"], cookie["path"], cookie["sameSite"]) == ("dark", "/", "Lax")
    days = (cookie["expires"] - page.evaluate("Date.now() / 1000")) / 86400
    assert 364 < days <= 366, days

    response = page.reload()
    assert response is not None and '<html lang="en" data-theme="dark">' in response.text()  # drawn by the server
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert is_dark(page)

    toggle.click()  # back to light: remembered too, on every page
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.goto(dashboard.url + "/")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert not is_dark(page)
    context.close()


@pytest.mark.parametrize(("cookie", "system"), [("dark", "light"), ("light", "dark")])
def test_a_page_opened_with_the_cookie_is_in_that_theme_from_its_first_paint(
    browser: Browser, dashboard: Dashboard, jobs: Jobs, cookie: str, system: Scheme
) -> None:
    # The page's JavaScript off: the server alone draws the chosen theme, so the other one never flashes first.
    # (page.evaluate still runs: it is the test's, not the page's.)
    context = browser.new_context(color_scheme=system, java_script_enabled=False)
    context.add_cookies([{"name": "theme", "value": cookie, "url": dashboard.url}])
    page = context.new_page()
    page.goto(f"{dashboard.url}/jobs/{jobs.succeeded}")
    expect(page.locator("html")).to_have_attribute("data-theme", cookie)
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", str(cookie == "dark").lower())
    assert is_dark(page) == (cookie == "dark")
    context.close()


def test_without_a_choice_the_page_follows_the_system_theme_as_it_changes(
    browser: Browser, dashboard: Dashboard
) -> None:
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(dashboard.url + "/")
    assert not is_dark(page)
    page.emulate_media(color_scheme="dark")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    assert is_dark(page)
    page.emulate_media(color_scheme="light")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "false")
    assert not is_dark(page)
    context.close()


def test_a_theme_cookie_of_another_value_is_ignored(browser: Browser, dashboard: Dashboard) -> None:
    context = browser.new_context(color_scheme="dark")
    context.add_cookies([{"name": "theme", "value": "purple", "url": dashboard.url}])
    page = context.new_page()
    response = page.goto(dashboard.url + "/")
    assert response is not None and '<html lang="en">' in response.text()
    assert is_dark(page)  # the system's theme, as without a cookie
    context.close()


# ---- Colour science: WCAG contrast, Machado et al. (2009) deficiency simulation, CIEDE2000 ----

# Machado, Oliveira and Fernandes (2009), "A Physiologically-based Model for Simulation of Color Vision
# Deficiency", severity 1.0 (dichromacy), applied to linear sRGB.
MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}


def linear(channel: float) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else float(((c + 0.055) / 1.055) ** 2.4)


def encoded(value: float) -> float:
    v = min(1.0, max(0.0, value))
    return 255 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055)


def luminance(rgb: list[float]) -> float:
    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb_hex(rgb: list[float]) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def simulate(rgb: list[float], vision: str) -> list[float]:
    if vision == "normal":
        return rgb
    lin = [linear(c) for c in rgb]
    return [encoded(sum(m * c for m, c in zip(row, lin, strict=True))) for row in MACHADO[vision]]


def lab(rgb: list[float]) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""
    r, g, b = (linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return float(t ** (1 / 3)) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(first: tuple[float, float, float], second: tuple[float, float, float]) -> float:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005)."""
    l1, a1, b1 = first
    l2, a2, b2 = second
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360
    h2p = math.degrees(math.atan2(b2, a2p)) % 360
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    d_lp, d_cp = l2 - l1, c2p - c1p
    d_hp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hp_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hp_mean = (h1p + h2p) / 2
    else:
        hp_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(hp_mean - 30))
        + 0.24 * math.cos(math.radians(2 * hp_mean))
        + 0.32 * math.cos(math.radians(3 * hp_mean + 6))
        - 0.20 * math.cos(math.radians(4 * hp_mean - 63))
    )
    d_theta = 30 * math.exp(-(((hp_mean - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((d_lp / s_l) ** 2 + (d_cp / s_c) ** 2 + (d_hp / s_h) ** 2 + r_t * (d_cp / s_c) * (d_hp / s_h))
