// MCP Live page behaviour: keep the log bounded and follow its tail. No inline scripts anywhere.
(() => {
  "use strict";

  // Keep at most data-max-lines lines in the DOM; count the ones dropped (they stay in the store and API).
  function trimLog(log) {
    const max = Number(log.dataset.maxLines) || 2000;
    const excess = log.children.length - max;
    if (excess <= 0) return;
    for (let i = 0; i < excess; i++) log.firstElementChild.remove();
    const notice = document.getElementById("hidden-lines");
    if (!notice) return;
    const hidden = (Number(notice.dataset.hidden) || 0) + excess;
    notice.dataset.hidden = String(hidden);
    notice.querySelector(".count").textContent = String(hidden);
    notice.hidden = false;
  }

  // Follow the tail like `tail -f`, unless the reader has scrolled up to look at something.
  let following = true;
  function isAtBottom(log) {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  document.addEventListener("htmx:sse:before:message", () => {
    const log = document.getElementById("log");
    if (log) following = isAtBottom(log);
  });

  document.addEventListener("htmx:sse:after:message", () => {
    const log = document.getElementById("log");
    if (!log) return;
    trimLog(log);
    if (following) log.scrollTop = log.scrollHeight;
  });

  document.addEventListener("DOMContentLoaded", () => {
    const log = document.getElementById("log");
    if (log) log.scrollTop = log.scrollHeight;
  });
})();
