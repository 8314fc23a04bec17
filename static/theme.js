// Light or dark: the reader's choice, remembered; otherwise the system's (prefers-color-scheme).
//
// The choice lives in a cookie, `theme=light|dark`, which the server reads too: it writes
// <html data-theme="..."> into every page, so a page is drawn in the chosen theme from its first paint. Without
// the cookie there is no data-theme and app.css follows the system. The header's toggle is a real button whose
// aria-pressed says whether the page is dark.
(() => {
  "use strict";

  const COOKIE = "theme";
  const THEMES = ["light", "dark"];
  const A_YEAR = 365 * 24 * 60 * 60; // seconds
  const root = document.documentElement;
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  function chosen() {
    const theme = root.dataset.theme;
    return THEMES.includes(theme) ? theme : null;
  }

  function shown() {
    return chosen() || (systemDark.matches ? "dark" : "light");
  }

  function remember(theme) {
    const secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${COOKIE}=${theme}; Path=/; Max-Age=${A_YEAR}; SameSite=Lax${secure}`;
  }

  function fromCookie() {
    for (const part of document.cookie.split(";")) {
      const [name, value] = part.trim().split("=");
      if (name === COOKIE && THEMES.includes(value)) return value;
    }
    return null;
  }

  // The toggle's state follows what is shown: the reader's choice, or the system's while there is none.
  function reflect() {
    const button = document.getElementById("theme-toggle");
    if (button) button.setAttribute("aria-pressed", String(shown() === "dark"));
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("#theme-toggle") : null;
    if (!button) return;
    const next = shown() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    remember(next);
    reflect();
  });

  // No choice made: a change of the system's theme shows at once (app.css), and the toggle says so.
  systemDark.addEventListener("change", reflect);

  // A page brought back from the back-forward cache was drawn before a choice made on another page since.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    const theme = fromCookie();
    if (theme) root.dataset.theme = theme;
    reflect();
  });

  reflect(); // a deferred script: the header is already parsed
})();
