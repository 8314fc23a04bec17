// MCP Live page behaviour: say honestly whether the page is live, keep focus where it was, time the job, and
// keep the start form's fields in step (the log itself: log-viewer.js). No inline scripts anywhere: these static
// files, htmx and its SSE extension are all the JavaScript.
(() => {
  "use strict";

  // No eval, ever: htmx builds functions from hx-on and js: attributes, which this dashboard does not use and
  // its Content-Security-Policy forbids. Should any reach a page, htmx refuses at once instead of trying.
  function refuse() {
    throw new Error("MCP Live runs no code from attributes");
  }
  htmx.registerExtension("no-eval", {
    init: (api) => api.initSecurity(null, refuse, refuse),
  });

  // Ask before a form that destroys something (Delete) is sent.
  document.addEventListener("submit", (event) => {
    const question = event.target instanceof HTMLFormElement ? event.target.dataset.confirm : undefined;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Every write carries the session's CSRF token (the server refuses a browser's write without it): htmx
  // requests as a header, forms as a field. Fragments rendered once for every viewer (Rerun in the jobs list)
  // cannot hold a token of their own, so it is added here, as a form is sent.
  function csrfToken() {
    return document.querySelector('meta[name="csrf-token"]')?.content ?? null;
  }

  document.addEventListener("htmx:config:request", (event) => {
    const token = csrfToken();
    if (token) event.detail.ctx.request.headers["X-CSRF-Token"] = token;
    // A job page's stream says which viewer it is: the page acknowledges how far it got (log-viewer.js, issue 18).
    const viewer = event.target instanceof Element && event.target.id === "stream" ? event.target.dataset.viewer : null;
    if (viewer) event.detail.ctx.request.headers["X-Viewer"] = viewer;
  });

  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      const token = csrfToken();
      if (!(form instanceof HTMLFormElement) || !token || form.method.toLowerCase() !== "post") return;
      let field = form.querySelector('input[name="csrf_token"]');
      if (!field) {
        field = document.createElement("input");
        field.type = "hidden";
        field.name = "csrf_token";
        form.append(field);
      }
      field.value = token;
    },
    true,
  );

  // The element that had focus before the stream's parts were swapped in: if the swap removed it (Cancel, once
  // the job has ended), focus goes to the job's status rather than being lost to <body>.
  let focusedBefore = null;
  const fromStream = (event) => event.target instanceof Element && event.target.id === "stream";

  document.addEventListener("htmx:before:swap", (event) => {
    if (fromStream(event)) focusedBefore = document.activeElement;
  });

  document.addEventListener("htmx:after:swap", (event) => {
    if (!fromStream(event)) return;
    if (focusedBefore && focusedBefore !== document.body && !focusedBefore.isConnected) {
      document.getElementById("job-status")?.focus({ preventScroll: true });
    }
    focusedBefore = null;
  });

  // ---- The live stream: the page never looks live while it is not ----

  const CONNECT_PATIENCE_MS = 5000; // how long "connecting…" may last before the page offers to reconnect
  let watchdog = null;

  function setLive(state, text, offerReconnect) {
    const live = document.getElementById("live");
    if (!live) return;
    live.dataset.live = state;
    live.querySelector(".live-text").textContent = text;
    live.querySelector(".reconnect").hidden = !offerReconnect;
  }

  function expectConnection() {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (document.getElementById("live")?.dataset.live === "connecting") {
        setLive("lost", "not live: the stream did not open", true);
      }
    }, CONNECT_PATIENCE_MS);
  }

  function isStream(event) {
    return event.target instanceof Element && event.target.id === "stream";
  }

  document.addEventListener("htmx:sse:before:connection", (event) => {
    if (isStream(event) && event.detail.connection.attempt > 0) {
      setLive("reconnecting", "connection lost: reconnecting…", true);
    }
  });
  document.addEventListener("htmx:sse:after:connection", (event) => {
    if (isStream(event)) {
      clearTimeout(watchdog);
      setLive("live", "live", false);
    }
  });
  document.addEventListener("htmx:sse:error", (event) => {
    if (isStream(event)) setLive("reconnecting", "connection lost: reconnecting…", true);
  });
  document.addEventListener("htmx:sse:close", (event) => {
    if (!isStream(event)) return;
    const reason = event.detail.reason;
    if (reason === "message") setLive("ended", "job ended", false); // the server's "end": everything arrived
    else if (reason !== "removed" && reason !== "cleanup") setLive("lost", "not live: the stream closed", true);
  });
  // The first request never became a stream (network error, or an error status).
  for (const name of ["htmx:error", "htmx:response:error"]) {
    document.addEventListener(name, (event) => {
      if (isStream(event)) setLive("lost", "not live: the stream could not be opened", true);
    });
  }
  document.addEventListener("shutdown", (event) => {
    if (isStream(event)) setLive("reconnecting", "the dashboard is restarting: reconnecting…", true);
  });

  // A fresh stream that resumes after the last line on the page: nothing shown twice, nothing skipped.
  function reconnect() {
    const old = document.getElementById("stream");
    if (!old) return;
    const url = new URL(old.getAttribute("hx-sse:connect"), location.href);
    // Where the stream had got (log-viewer.js keeps it: the log may hold a window elsewhere in the job).
    const lines = document.querySelectorAll("#log > li[data-seq]");
    const liveSeq = document.getElementById("log")?.dataset.liveSeq;
    if (liveSeq) url.searchParams.set("after", liveSeq);
    else if (lines.length) url.searchParams.set("after", lines[lines.length - 1].dataset.seq);
    const fresh = document.createElement("div");
    fresh.id = "stream";
    fresh.setAttribute("hx-sse:connect", url.pathname + url.search);
    fresh.setAttribute("hx-sse:close", old.getAttribute("hx-sse:close"));
    if (old.dataset.viewer) fresh.dataset.viewer = old.dataset.viewer;
    old.replaceWith(fresh);
    setLive("connecting", "connecting…", false);
    expectConnection();
    htmx.process(fresh);
  }

  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("#live .reconnect")) reconnect();
  });

  // ---- Progress a person can plan with: elapsed, rate, time left; and the tab's title ----

  const RATE_WINDOW = 15; // seconds of progress the rate is measured over
  const samples = []; // [seconds, progress], newest last

  function duration(seconds) {
    // As the server writes it (rendering.duration): 12.3 s, 4:05, 1:02:03.
    if (seconds < 60) return `${Math.max(seconds, 0).toFixed(1)} s`;
    const whole = Math.floor(seconds);
    const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }
  // Shared with the scripts that run after this one (jobs.js).
  window.mcpLive = Object.freeze({ duration });

  function rateOf(now, progress) {
    const last = samples[samples.length - 1];
    if (!last || last[1] !== progress) samples.push([now, progress]);
    while (samples.length > 2 && samples[0][0] < now - RATE_WINDOW) samples.shift();
    const [t0, p0] = samples[0];
    const span = now - t0;
    return span >= 1 && progress > p0 ? (progress - p0) / span : null;
  }

  function showTiming(timing, clockOffset) {
    const badge = document.querySelector("#job-status [data-state]");
    const row = document.querySelector("#progress .progress-row");
    if (!badge || !row) return;
    const state = badge.dataset.state;
    const created = Number(timing.dataset.createdAt);
    const finished = badge.dataset.finishedAt;
    const now = Date.now() / 1000 + clockOffset;
    let text;
    if (finished) {
      text = `took ${duration(Number(finished) - created)}`;
    } else {
      const parts = [`elapsed ${duration(now - created)}`];
      const progress = row.dataset.progress === "" ? null : Number(row.dataset.progress);
      const total = row.dataset.total === "" ? null : Number(row.dataset.total);
      const rate = progress === null ? null : rateOf(now, progress);
      if (rate !== null) parts.push(`${rate >= 10 ? Math.round(rate) : rate.toPrecision(2)}/s`);
      if (rate !== null && total !== null && total > progress) parts.push(`about ${duration((total - progress) / rate)} left`);
      text = parts.join(" · ");
    }
    if (timing.textContent !== text) timing.textContent = text;
    const percent = row.dataset.percent;
    const lead = finished
      ? state.replace("_", " ")
      : state === "input_required"
        ? "waiting for you"
        : percent !== ""
          ? `${percent}%`
          : state;
    const title = `${lead} · ${timing.dataset.tool} · MCP Live`;
    if (document.title !== title) document.title = title;
  }

  // ---- The start form: a field per argument, in step with the JSON view of them all ----
  // The server reads both (a field wins for its property: webapp/schema_form.py, whose rules these mirror), so
  // this only copies each edit across: the JSON view always shows what Start sends. An empty field leaves its
  // argument out; a value a field cannot show (a string where a number goes) turns the field off, and the JSON
  // view decides. Property names are the server's: only ever own properties, set with defineProperty, so that
  // a property called __proto__ is a property like any other.

  function argumentsObject(text) {
    try {
      const value = JSON.parse(text.trim() === "" ? "{}" : text);
      return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
    } catch {
      return null;
    }
  }

  // What a field sends: {value}, {omit: true}, or null while its text is no value yet (the server will say why).
  function fieldValue(arg) {
    const control = arg.querySelector(".arg-control");
    const kind = arg.dataset.argKind;
    if (kind === "boolean") return { value: control.checked };
    const raw = control.value;
    if ((kind === "text" ? raw : raw.trim()) === "") {
      if (control.validity.badInput) return null; // a number half typed
      if ("required" in arg.dataset && kind === "text") return { value: "" };
      if ("required" in arg.dataset && "nullable" in arg.dataset) return { value: null };
      return { omit: true };
    }
    if (kind === "text") return { value: raw };
    if (kind === "number" || kind === "integer") {
      const n = Number(raw);
      return Number.isFinite(n) && (kind === "number" || Number.isInteger(n)) ? { value: n } : null;
    }
    try {
      return { value: JSON.parse(raw) }; // a choice's value is JSON text, and so is a JSON field
    } catch {
      return null;
    }
  }

  // How a field shows an argument: {text} or {checked}; null when it cannot.
  function shownValue(arg, present, value) {
    const kind = arg.dataset.argKind;
    const empty = !present || (value === null && "nullable" in arg.dataset);
    if (kind === "boolean") {
      if (!present) return { checked: arg.dataset.default === "true" };
      return typeof value === "boolean" ? { checked: value } : null;
    }
    if (kind === "choice" && present) {
      const wanted = JSON.stringify(value);
      for (const option of arg.querySelector("select").options) {
        if (option.value !== "" && JSON.stringify(JSON.parse(option.value)) === wanted) return { text: option.value };
      }
    }
    if (empty) return { text: "" };
    if (kind === "json") return { text: JSON.stringify(value, null, 2) };
    if (kind === "text") {
      const fits = typeof value === "string" && !/[\r\n\0]/.test(value) && (!value.isWellFormed || value.isWellFormed());
      return fits ? { text: value } : null;
    }
    if ((kind === "number" || kind === "integer") && typeof value === "number") {
      return kind === "number" || Number.isInteger(value) ? { text: String(value) } : null;
    }
    return null;
  }

  function describeArg(arg) {
    const control = arg.querySelector(".arg-control");
    const ids = [...arg.querySelectorAll(".arg-note")].filter((note) => !note.hidden).map((note) => note.id);
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  }

  function showArgument(arg, present, value) {
    const control = arg.querySelector(".arg-control");
    const shown = shownValue(arg, present, value);
    for (const input of arg.querySelectorAll("input, select, textarea")) input.disabled = shown === null;
    arg.querySelector(".arg-json-only").hidden = shown !== null;
    if (shown && "checked" in shown) control.checked = shown.checked;
    else if (control.value !== (shown ? shown.text : "")) control.value = shown ? shown.text : "";
    describeArg(arg);
  }

  function sayAboutView(text) {
    const note = document.getElementById("arguments-sync");
    if (note && note.textContent !== text) note.textContent = text;
  }

  const NOT_AN_OBJECT = "The JSON view is not a JSON object just now: the fields and it follow each other again once it is.";

  function fieldsFromView(view) {
    const object = argumentsObject(view.value);
    sayAboutView(object ? "" : NOT_AN_OBJECT);
    if (!object) return;
    for (const arg of view.closest("#arguments-field").querySelectorAll(".arg[data-arg-kind]")) {
      const name = arg.dataset.argName;
      const present = Object.hasOwn(object, name);
      showArgument(arg, present, present ? object[name] : undefined);
    }
  }

  function viewFromField(arg, view) {
    const object = argumentsObject(view.value);
    sayAboutView(object ? "" : NOT_AN_OBJECT);
    const read = object && fieldValue(arg);
    if (!read) return;
    const name = arg.dataset.argName;
    if (read.omit) delete object[name];
    else Object.defineProperty(object, name, { value: read.value, enumerable: true, writable: true, configurable: true });
    view.value = JSON.stringify(object, null, 2);
  }

  document.addEventListener("input", (event) => {
    const target = event.target;
    const root = target instanceof Element ? target.closest("#arguments-field") : null;
    const view = root?.querySelector("#arguments");
    if (!view) return;
    if (target === view) fieldsFromView(view);
    else if (target.closest(".arg[data-arg-kind]")) viewFromField(target.closest(".arg[data-arg-kind]"), view);
  });

  document.addEventListener("DOMContentLoaded", () => {
    if (document.getElementById("stream")) expectConnection();
    const timing = document.getElementById("timing");
    if (timing) {
      // The server's clock, not this machine's: elapsed time is measured from when the server started the job.
      const clockOffset = Number(timing.dataset.now) - Date.now() / 1000;
      showTiming(timing, clockOffset);
      setInterval(() => showTiming(timing, clockOffset), 500);
      // The tab's title moves with the bar, not up to half a second behind it.
      document.addEventListener("htmx:after:swap", (event) => fromStream(event) && showTiming(timing, clockOffset));
    }
  });
})();
