// The recent-jobs list: kept live over SSE, with times relative to now.
// The server renders each time as of its render (pages.ago, rendering.duration); this keeps them moving: how long
// ago each job started, and how long a running one has run so far.
(() => {
  "use strict";

  // Updates of the list are morphed in; a start time or a running duration that is still the same one keeps the
  // text written here rather than the server's, older one. (A hook of htmx's morph: returning false skips the node.)
  htmx.registerExtension("jobs-clock", {
    htmx_before_morph_node: (oldNode, detail) => {
      const newNode = detail.newNode;
      if (!(oldNode instanceof Element) || !(newNode instanceof Element)) return true;
      for (const name of ["data-ago", "data-since"]) {
        if (oldNode.hasAttribute(name)) return oldNode.getAttribute(name) !== newNode.getAttribute(name);
      }
      return true;
    },
  });

  function ago(seconds) {
    // As the server writes it (pages.ago).
    const whole = Math.max(Math.floor(seconds), 0);
    if (whole < 5) return "just now";
    if (whole < 60) return `${whole} s ago`;
    if (whole < 3600) return `${Math.floor(whole / 60)} min ago`;
    if (whole < 86400) return `${Math.floor(whole / 3600)} h ago`;
    const days = Math.floor(whole / 86400);
    return days === 1 ? "1 day ago" : `${days} days ago`;
  }

  const { duration } = window.mcpLive; // app.js, which runs first: as the server writes durations

  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function showTimes(list, clockOffset) {
    const now = Date.now() / 1000 + clockOffset;
    for (const time of list.querySelectorAll("[data-ago]")) setText(time, ago(now - Number(time.dataset.ago)));
    for (const span of list.querySelectorAll("[data-since]")) setText(span, duration(now - Number(span.dataset.since)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("jobs");
    if (!list) return;
    // The server's clock, not this machine's: times are measured from when the server says the jobs started.
    const clockOffset = Number(list.dataset.now) - Date.now() / 1000 || 0;
    const show = () => showTimes(list, clockOffset);
    show();
    list.addEventListener("htmx:after:swap", show); // new rows come with the server's times as of its render
    setInterval(show, 1000);
  });
})();
