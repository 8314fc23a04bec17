// The log viewer (a job's page, a server's page): a bounded log that follows its tail while the reader is at the
// bottom and stands still when they are not; "N new lines", older lines on demand, permalinks (#seq-N), copy and
// indented JSON per line, live filter counts, the keyboard (one tab stop, arrows between lines, `/`, End, `?`,
// Escape), errors said aloud, sparingly, and the job's end said aloud (and, if asked for, a desktop notice).
(() => {
  "use strict";

  const SEVERE = new Set(["error", "critical", "alert", "emergency"]);
  const ANNOUNCE_EVERY_MS = 5000; // a screen reader hears about severe lines at most this often
  const SCROLLED_UP_SLACK = 4; // while the reader is scrolled up, the log may hold this many times its cap
  // Work per frame is bounded (issue 18): the stream's lines wait in a queue and are drawn in a frame, at most
  // this many (an estimate of what a frame can draw, measured as lines are drawn); a backlog beyond that is not
  // drawn: its newest lines are, and a marker "N lines skipped" takes the others' place (they load from the store
  // when it is pressed).
  const FRAME_MS = 12; // the time a frame may spend drawing lines
  const FRAME_LINES_MOST = 500;
  const FRAME_LINES_LEAST = 50;
  const PAGE_LINES = 500; // lines one load (older, newer, skipped, around a line) brings, at most (pages.OLDER_PAGE)

  const logOf = () => document.getElementById("log");

  // ---- Following the tail ----

  // Whether the reader is at the bottom is learnt from scroll events: reading the layout with every message would
  // make the browser lay the whole log out again and again during a flood.
  let following = true;
  let scrollQueued = false;
  let newLines = 0;

  function isAtBottom(log) {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  // Once a frame, however many messages came; and not if the reader scrolled away since it was asked for. Lines
  // out of view are laid out at an estimated height (content-visibility), so the real bottom may only be known
  // once the scroll has brought them into view: while following, the frame after makes sure of it.
  function followTail(log, settling = 2) {
    if (!following || scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      if (!following) return;
      log.scrollTop = log.scrollHeight;
      if (settling > 0 && !isAtBottom(log)) followTail(log, settling - 1);
      else if (settling > 0) requestAnimationFrame(() => following && !isAtBottom(log) && followTail(log, settling - 1));
    });
  }

  // Once the lines stop coming (none drawn for a while): each drawing scrolls to the tail anyway.
  let settling = null;

  function settleTail(log) {
    clearTimeout(settling);
    settling = setTimeout(() => followTail(log), 2 * DRAW_EVERY_MS);
  }

  function showNewLines() {
    const button = document.getElementById("new-lines");
    if (!button) return;
    button.dataset.newLines = String(newLines);
    button.querySelector(".count").textContent = String(newLines);
    button.hidden = newLines === 0;
  }

  async function jumpToTail() {
    const log = logOf();
    if (!log) return;
    following = true;
    readerMovedAt = 0; // a key pressed just before (PageDown, then End) must not undo this
    newLines = 0;
    showNewLines();
    if (detached) await loadTail(log); // a window elsewhere in the job: back to the tail
    log.scrollTop = log.scrollHeight;
    followTail(log); // lines laid out late (content-visibility) may move the bottom: settle on it
  }

  // Only the reader stops the following: a scroll they made (wheel, touch, a key, the scrollbar) that leaves the
  // bottom. The log also scrolls by itself (lines trimmed above, a frame late to follow in a flood, a background
  // tab that paints nothing), and that must never be taken for the reader looking away.
  let readerMovedAt = 0;
  const readerMoved = () => {
    readerMovedAt = Date.now();
  };
  // Only what happens in the log itself: a press on a button elsewhere (the time display, a filter) that changes
  // the lines' heights must not be taken for the reader scrolling away (issue 19: the tail was lost).
  const inLog = (event) => event.target instanceof Element && event.target.closest("#log") !== null;
  for (const type of ["wheel", "touchmove", "pointerdown"]) {
    document.addEventListener(type, (event) => inLog(event) && readerMoved(), { capture: true, passive: true });
  }
  document.addEventListener("keydown", (event) => {
    if (inLog(event) && ["PageUp", "ArrowUp", "Home", "PageDown", "ArrowDown"].includes(event.key)) readerMoved();
  });

  document.addEventListener(
    "scroll",
    (event) => {
      if (!(event.target instanceof Element) || event.target.id !== "log") return;
      // Following, with nothing new to clear and no reader moving: the log scrolled itself (a frame following the
      // tail, lines trimmed above), and where it is changes nothing. Asking would lay the log out in a flood.
      if (following && !newLines && Date.now() - readerMovedAt >= 1000) return;
      if (isAtBottom(event.target)) {
        following = true;
        if (newLines) {
          newLines = 0;
          showNewLines();
        }
      } else if (Date.now() - readerMovedAt < 1000) {
        following = false;
      }
    },
    { capture: true, passive: true },
  );

  // ---- A window on the log, kept bounded ----

  // The log holds a window of the job's lines: at most data-max-lines while following the tail, a few times that
  // while the reader is scrolled up or has loaded lines elsewhere in the job (issue 18). Lines beyond it are dropped
  // from the side far from the reader: above, they are counted as earlier lines not shown; below, the window no
  // longer reaches the tail (it is "detached": the stream's lines then stay in the store, counted, until the
  // reader goes back to the tail or loads them). Skipped-lines markers stand for lines not drawn.
  let detached = false;
  let liveSeq = 0; // the last event the stream has told this page of (its messages' ids)
  const markersOf = (log) => log.getElementsByClassName("skipped");
  const isMarker = (element) => element.classList.contains("skipped");
  const firstSeqOf = (element) => Number(isMarker(element) ? element.dataset.skippedFrom : element.dataset.seq);
  const lastSeqOf = (element) => Number(isMarker(element) ? element.dataset.skippedTo : element.dataset.seq);

  function lastDrawn(log) {
    const last = log.lastElementChild;
    return last ? lastSeqOf(last) : 0;
  }

  function shownLines(log) {
    return log.childElementCount - markersOf(log).length;
  }

  function skippedLines(log) {
    let count = 0;
    for (const marker of markersOf(log)) count += Number(marker.dataset.skipped) || 0;
    return count;
  }

  function windowLimit(log) {
    const max = Number(log.dataset.maxLines) || 2000;
    return following && !detached ? max : max * SCROLLED_UP_SLACK;
  }

  // `side`: where to drop lines from ("top", "bottom"), or the element the reader is at (the far side then).
  // `loaded`: lines the reader asked for came in; the window is then the generous one.
  function trimWindow(log, side = "top", loaded = false) {
    const limit = loaded ? (Number(log.dataset.maxLines) || 2000) * SCROLLED_UP_SLACK : windowLimit(log);
    const excess = log.childElementCount - limit;
    if (excess <= 0) return;
    if (side instanceof Element) {
      const at = Array.prototype.indexOf.call(log.children, side);
      side = at >= log.childElementCount / 2 ? "top" : "bottom";
    }
    const current = currentLine(log);
    const hadFocus = current !== null && current.contains(document.activeElement);
    const fromTop = side === "top";
    const start = fromTop ? 0 : log.childElementCount - excess;
    let dropped = 0;
    for (let index = start; index < start + excess; index += 1) {
      const element = log.children[index];
      dropped += isMarker(element) ? Number(element.dataset.skipped) || 0 : 1;
    }
    const range = document.createRange();
    range.setStartBefore(log.children[start]);
    range.setEndAfter(log.children[start + excess - 1]);
    range.deleteContents();
    if (fromTop) addHidden(dropped);
    else detached = true;
    if (current && !current.isConnected) keepTabStop(log, hadFocus);
    showWindow();
  }

  function trimLog(log) {
    trimWindow(log, "top");
  }

  function addHidden(count) {
    const notice = document.getElementById("hidden-lines");
    if (!notice) return;
    setHidden((Number(notice.dataset.hidden) || 0) + count);
  }

  function setHidden(count) {
    const notice = document.getElementById("hidden-lines");
    if (!notice) return;
    const hidden = Math.max(0, count);
    notice.dataset.hidden = String(hidden);
    notice.querySelector(".count").textContent = String(hidden);
    notice.hidden = hidden === 0;
  }

  // Lines of the view after the window, while it does not reach the tail: what is neither above it, in it, nor in
  // a marker.
  function showWindow() {
    const notice = document.getElementById("newer-lines");
    const log = logOf();
    const view = document.getElementById("view-counts");
    if (!notice || !log) return;
    let later = 0;
    if (detached && view) {
      const hidden = Number(document.getElementById("hidden-lines")?.dataset.hidden) || 0;
      later = Math.max(0, Number(view.dataset.matching) - hidden - shownLines(log) - skippedLines(log));
    }
    notice.dataset.newer = String(later);
    notice.querySelector(".count").textContent = String(later);
    notice.hidden = !detached;
  }

  // ---- Counts: shown, matching, and each filter toggle's ----

  function showCounts(appended) {
    const log = logOf();
    const view = document.getElementById("view-counts");
    if (!log || !view) return;
    view.querySelector(".shown").textContent = String(shownLines(log));
    const live = document.getElementById("live-counts");
    if (live?.dataset.levels) {
      const levels = JSON.parse(live.dataset.levels);
      const kinds = JSON.parse(live.dataset.kinds);
      for (const toggle of document.querySelectorAll("[data-filter-level]")) {
        setCount(toggle, levels[toggle.dataset.filterLevel] || 0);
      }
      for (const toggle of document.querySelectorAll("[data-filter-kind]")) {
        setCount(toggle, kinds[toggle.dataset.filterKind] || 0);
      }
      view.dataset.total = live.dataset.total;
      const total = view.querySelector(".total");
      if (total) total.textContent = live.dataset.total;
    }
    // Every line the stream brings (drawn or skipped) is one the view's filters let through.
    const matching = log.dataset.filterQuery ? Number(view.dataset.matching) + appended : Number(view.dataset.total);
    view.dataset.matching = String(matching);
    view.querySelector(".matching").textContent = String(matching);
  }

  function setCount(toggle, count) {
    if (toggle.dataset.count === String(count)) return;
    toggle.dataset.count = String(count);
    toggle.querySelector(".count").textContent = String(count);
  }

  // ---- The stream's lines: queued as they come, drawn up to ten times a second, within a budget (issue 18) ----

  // htmx would swap each message as it comes: a page whose main thread was busy then draws a backlog of thousands
  // of lines that the window drops at once, and swaps every stale bar, status and count on the way (measured: most
  // of a flooded page's time went to swapping messages one by one). Instead each message is taken apart as it
  // comes: its lines are queued, its other parts (the bar, the status, the counts) are kept, the newest of each
  // replacing the one before, and htmx is told to swap nothing. Every so often the newest parts are swapped, in one
  // go, and the newest lines that a frame's budget allows are drawn, with a marker in the others' place.
  const LOG_PARTIAL = /<hx-partial hx-target="#log" hx-swap="(beforeend|innerHTML)">([\s\S]*?)<\/hx-partial>\n?/g;
  const PARTIAL = /<hx-partial hx-target="([^"]+)" hx-swap="[^"]+">[\s\S]*?<\/hx-partial>\n?/g;
  let parts = new Map(); // target -> the newest partial for it, not swapped yet
  const LINE_SEQ = /<li id="seq-(\d+)"/g;
  let queue = []; // {html, first, last, count, nodes}, oldest first
  let queuedLines = 0;
  let jumped = false; // the server skipped to its tail: the lines between are skipped
  let flushQueued = false;
  let msPerLine = FRAME_MS / (2 * FRAME_LINES_LEAST); // till measured: a hundred lines a frame
  // A page is behind when the newest line it has been sent was received by the dashboard more than BEHIND_MS ago
  // (a main thread held busy while the browser buffered the stream). It then waits (a frame at a time, at most
  // POSTPONE_MOST_MS) until the buffered backlog has come in, keeping only its newest lines, and jumps to the tail.
  const BEHIND_MS = 1500;
  const POSTPONE_MOST_MS = 1000;
  let clockOffset = 0; // the dashboard's clock less this browser's, in ms
  let grew = false; // lines came since the last frame
  let postponedSince = 0;
  let dropped = { count: 0, first: 0, last: 0 }; // lines of the queue let go while postponing

  function isBehind(entry) {
    const at = entry.html.lastIndexOf('datetime="');
    const received = at < 0 ? NaN : Date.parse(entry.html.slice(at + 10, entry.html.indexOf('"', at + 10)));
    return Date.now() + clockOffset - received > BEHIND_MS;
  }

  // Only the newest lines a frame can draw are kept: the others are counted, for their marker.
  function compactQueue() {
    let kept = 0;
    let index = queue.length;
    while (index > 0 && kept < FRAME_LINES_MOST) {
      index -= 1;
      kept += queue[index].count;
    }
    for (const entry of queue.slice(0, index)) {
      dropped.count += entry.count;
      dropped.first ||= entry.first;
      dropped.last = entry.last;
    }
    queue = queue.slice(index);
  }

  function enqueue(html, replace) {
    if (replace) {
      // The server jumped ahead (a viewer too far behind): what was queued lies in the gap it leaves.
      jumped = true;
      queue = [];
      dropped = { count: 0, first: 0, last: 0 };
    }
    const seqs = [...html.matchAll(LINE_SEQ)];
    if (!seqs.length) return;
    const first = Number(seqs[0][1]);
    const last = Number(seqs[seqs.length - 1][1]);
    queue.push({ html, first, last, count: seqs.length, nodes: null });
    queuedLines += seqs.length;
    grew = true;
  }

  function nodesOf(entry) {
    if (!entry.nodes) {
      const holder = document.createElement("template");
      holder.innerHTML = entry.html;
      entry.nodes = [...holder.content.children];
    }
    return entry.nodes;
  }

  // What a line costs the frame that draws it: not only making and adding it, but the style, layout and paint that
  // follow in the same task (measured to the next task: on a busy machine, the time the page waited for the CPU
  // counts too, and it then draws fewer lines a frame).
  let measuring = false;

  function measureFrame(started, lines) {
    if (measuring) return;
    measuring = true;
    afterThisTask(() => {
      msPerLine = 0.7 * msPerLine + 0.3 * ((performance.now() - started) / lines);
      measuring = false;
    });
  }

  // `callback` once the task running now is over (a message to ourselves: the next task, unthrottled).
  const afterTask = new MessageChannel();
  const afterTaskCallbacks = [];
  afterTask.port1.onmessage = () => afterTaskCallbacks.shift()?.();

  function afterThisTask(callback) {
    afterTaskCallbacks.push(callback);
    afterTask.port2.postMessage(null);
  }

  // The newest `count` lines of an entry, made from its HTML without making the others.
  function newestOf(entry, count) {
    if (entry.nodes) return entry.nodes.slice(entry.nodes.length - count);
    let from = entry.html.length;
    for (let left = count; left > 0 && from > 0; left -= 1) from = entry.html.lastIndexOf('<li id="seq-', from - 1);
    const holder = document.createElement("template");
    holder.innerHTML = entry.html.slice(Math.max(from, 0));
    return [...holder.content.children];
  }

  function frameLines() {
    return Math.max(FRAME_LINES_LEAST, Math.min(FRAME_LINES_MOST, Math.floor(FRAME_MS / Math.max(msPerLine, 1e-4))));
  }

  // A flood is drawn at most every DRAW_EVERY_MS, not at every frame: no one reads faster, and a frame that adds
  // lines costs the page a layout and a paint of the log (measured: a page following a job of 500 lines a second
  // took a core's share from the job's own server and dashboard on the same machine).
  const DRAW_EVERY_MS = 100;
  let drawnAt = -Infinity;

  let flushes = 0; // a flush asked for before the last one ran is not run again

  function scheduleFlush() {
    if (flushQueued) return;
    flushQueued = true;
    const asked = ++flushes;
    const run = () => asked === flushes && flush();
    const wait = Math.max(0, drawnAt + DRAW_EVERY_MS - performance.now());
    if (wait > 0) setTimeout(() => requestAnimationFrame(run), wait);
    else requestAnimationFrame(run);
    setTimeout(run, wait + 250); // a hidden tab draws no frames
  }

  document.addEventListener("htmx:sse:before:message", (event) => {
    const detail = event.detail;
    const message = detail?.message;
    const log = logOf();
    if (!message || message.event || !log || typeof message.data !== "string") return;
    if (message.id && /^\d+$/.test(message.id)) {
      liveSeq = Math.max(liveSeq, Number(message.id));
      log.dataset.liveSeq = String(liveSeq);
    }
    let replaced = false;
    let rest = message.data.replace(LOG_PARTIAL, (_, swap, html) => {
      replaced ||= swap === "innerHTML";
      enqueue(html, swap === "innerHTML");
      return "";
    });
    // Every state is shown, however briefly ("cancelling" before "cancelled"): a status never replaces one not
    // swapped yet.
    if (parts.has("#job-status") && rest.includes('hx-target="#job-status"')) swapParts(() => {}, true);
    rest = rest.replace(PARTIAL, (partial, target) => {
      parts.delete(target); // re-added last: parts swap in the order their newest versions came
      parts.set(target, partial);
      return "";
    });
    // Its note of hidden lines counted a log replaced; here the lines skipped get a marker instead.
    if (replaced) parts.delete("#hidden-lines");
    if (rest.trim()) message.data = rest; // not ours to take apart: htmx swaps it as it comes
    else detail.cancelled = true;
    yieldWhenBusy(detail);
    scheduleFlush();
  });

  // The stream's messages are read in a chain of promises: a backlog the browser buffered while the page was busy
  // would be taken apart in one long task. After YIELD_AFTER_MS of it, the chain waits for a task of its own, so
  // input, timers and frames come in between.
  const YIELD_AFTER_MS = 8;
  let busySince = 0;

  function yieldWhenBusy(detail) {
    const now = performance.now();
    if (!busySince) {
      busySince = now;
      afterThisTask(() => {
        busySince = 0;
      });
    } else if (now - busySince > YIELD_AFTER_MS && typeof detail.waitUntil === "function") {
      busySince = 0;
      detail.waitUntil(new Promise((resolve) => setTimeout(resolve, 0)));
    }
  }

  // The newest of each part, swapped by htmx in one go, at most every PARTS_EVERY_MS (a bar, a count and a status
  // need not change sixty times a second, and each swap costs the page a layout); then `then`.
  const PARTS_EVERY_MS = 250;
  let partsSwappedAt = -Infinity;
  let partsTimer = null; // a flush when the waiting parts are due

  function swapParts(then, atOnce = false) {
    const stream = document.getElementById("stream");
    if (!parts.size || !stream || !window.htmx?.swap) {
      then();
      return;
    }
    const wait = partsSwappedAt + PARTS_EVERY_MS - performance.now();
    if (wait > 0 && !atOnce) {
      partsTimer ??= setTimeout(() => {
        partsTimer = null;
        scheduleFlush();
      }, wait);
      then();
      return;
    }
    partsSwappedAt = performance.now();
    const text = [...parts.values()].join("");
    parts = new Map();
    const swap = { sourceElement: stream, target: stream, text, swap: "innerHTML swapEmpty:false" };
    Promise.resolve(window.htmx.swap(swap)).catch((error) => console.error(error)).finally(then);
  }

  function flush() {
    if (!flushQueued) return;
    flushQueued = false;
    drawnAt = performance.now();
    swapParts(drawLines);
  }

  function drawLines() {
    const log = logOf();
    if (!log) return;
    const now = performance.now();
    if (!detached && grew && queue.length && isBehind(queue[queue.length - 1])) {
      postponedSince ||= now;
      if (now - postponedSince < POSTPONE_MOST_MS) {
        grew = false;
        compactQueue();
        scheduleFlush();
        return;
      }
    }
    postponedSince = 0;
    grew = false;
    const gone = dropped;
    dropped = { count: 0, first: 0, last: 0 };
    const entries = queue;
    const total = queuedLines;
    const skippedAhead = jumped;
    queue = [];
    queuedLines = 0;
    jumped = false;
    if (detached) {
      // A window elsewhere in the job: the stream's lines stay in the store, counted.
      if (total) {
        newLines += total;
        showNewLines();
      }
      showCounts(total);
      showWindow();
      announceState();
      handledSeq = liveSeq;
      acknowledge();
      return;
    }
    const started = performance.now();
    const focusWasIn = log.contains(document.activeElement);
    const floor = lastDrawn(log);
    // Nothing twice: lines a load from the store has brought already are not drawn again.
    const fresh = entries.filter((entry) => entry.last > floor);
    if (fresh.length && fresh[0].first <= floor && fresh[0].skip) {
      fresh[0].count = fresh[0].last - floor;
      fresh[0].first = floor + 1;
    } else if (fresh.length && fresh[0].first <= floor) {
      const entry = fresh[0];
      entry.nodes = nodesOf(entry).filter((line) => Number(line.dataset.seq) > floor);
      entry.first = Number(entry.nodes[0].dataset.seq);
      entry.count = entry.nodes.length;
    }
    // The newest lines the frame can draw; the others skipped.
    let room = frameLines();
    const drawn = [];
    let skipped = 0;
    let skipFrom = 0;
    let skipTo = 0;
    for (let index = fresh.length - 1; index >= 0; index -= 1) {
      const entry = fresh[index];
      if (entry.skip) room = 0; // the server said: behind; it and everything before it are skipped
      if (room >= entry.count && !entry.skip) {
        drawn.push(nodesOf(entry));
        room -= entry.count;
        continue;
      }
      if (room > 0 && !entry.skip) {
        const nodes = newestOf(entry, room);
        drawn.push(nodes);
        skipped += entry.count - nodes.length;
        skipTo ||= Number(nodes[0].dataset.seq) - 1;
        room = 0;
      } else {
        skipped += entry.count;
        skipTo ||= entry.last;
      }
      skipFrom = entry.first;
    }
    if (gone.count) {
      skipped += gone.count;
      skipTo ||= gone.last;
      skipFrom = gone.first;
    }
    const added = drawn.reverse().flat();
    for (const line of added) line.classList.add("streamed");
    const fragment = document.createDocumentFragment();
    const firstAdded = added.length ? Number(added[0].dataset.seq) : 0;
    if (!log.dataset.filterQuery && (skipped || skippedAhead) && firstAdded > floor + 1) {
      // Without filters seqs have no gaps: what lies between the last line drawn and the first one now is skipped.
      skipFrom = floor + 1;
      skipTo = firstAdded - 1;
      skipped = skipTo - floor;
    }
    if (skipped > 0) {
      const last = log.lastElementChild;
      if (last && isMarker(last) && lastSeqOf(last) === skipFrom - 1) {
        last.dataset.skippedTo = String(skipTo);
        setSkipped(last, Number(last.dataset.skipped) + skipped);
      } else {
        fragment.append(skippedMarker(skipFrom, skipTo, skipped));
      }
    }
    fragment.append(...added);
    log.append(fragment);
    if (added.length >= 20) measureFrame(started, added.length);
    trimLog(log);
    if (following) {
      // Now, in this frame: the layout this asks for is the one the frame needed anyway (a scroll next frame would
      // lay the log out once more). Lines laid out late may still move the bottom: once the lines stop coming,
      // the tail is settled on.
      log.scrollTop = log.scrollHeight;
      settleTail(log);
    } else if (total) {
      newLines += total;
      showNewLines();
    }
    showCounts(total);
    markMatches(added);
    if (sinceStart) showTimes(added);
    announce(added);
    // The line that held the tab stop dropped: the stop, and the focus if it was in the log, stay in the log.
    if (log.tabIndex === -1 && !currentLine(log)) keepTabStop(log, focusWasIn && !log.contains(document.activeElement));
    showWindow();
    announceState();
    handledSeq = liveSeq;
    acknowledge();
  }

  // The server's word that this page is behind (flow control): the lines it will not send, a marker's worth.
  document.addEventListener("skip", (event) => {
    const log = logOf();
    if (!log || !(event.target instanceof Element) || event.target.id !== "stream") return;
    let skip;
    try {
      skip = JSON.parse(event.detail.data);
    } catch {
      return;
    }
    const [first, last, count] = [Number(skip.from), Number(skip.to), Number(skip.count)];
    if (!(last >= first && count >= 0)) return;
    liveSeq = Math.max(liveSeq, last);
    log.dataset.liveSeq = String(liveSeq);
    queue.push({ html: "", first, last, count, nodes: null, skip: true });
    queuedLines += count;
    grew = true;
    scheduleFlush();
  });

  // ---- Flow control: the page says how far it has got (issue 18) ----

  // Every line up to the last seq handled (drawn, or behind a marker) is acknowledged, at most every
  // ACK_EVERY_MS: the server sends a page no more than a window beyond it (webapp/viewers.py).
  const ACK_EVERY_MS = 200;
  let acked = 0;
  let ackedAt = 0;
  let handledSeq = 0; // the stream's lines up to here are drawn or behind a marker
  let streamClosed = false; // ended (the job's end): nothing more to say
  document.addEventListener("htmx:sse:close", (event) => {
    if (event.target instanceof Element && event.target.id === "stream") streamClosed = true;
  });
  document.addEventListener("htmx:sse:after:connection", (event) => {
    if (event.target instanceof Element && event.target.id === "stream") streamClosed = false;
  });
  let ackTimer = null;

  function acknowledge() {
    const viewer = document.getElementById("stream")?.dataset.viewer;
    const jobId = logOf()?.dataset.jobId;
    if (!viewer || !jobId || streamClosed || handledSeq <= acked || ackTimer) return;
    ackTimer = setTimeout(async () => {
      const seq = handledSeq;
      const token = document.querySelector('meta[name="csrf-token"]')?.content;
      try {
        await fetch(`/jobs/${jobId}/viewers/${encodeURIComponent(viewer)}/ack?seq=${seq}`, {
          method: "POST",
          headers: token ? { "X-CSRF-Token": token } : {},
        });
      } catch {
        // The stream will say: it holds the page until told, then skips it to the tail.
      } finally {
        acked = Math.max(acked, seq); // said once, right or wrong: not again and again
        ackedAt = Date.now();
        ackTimer = null;
      }
      if (handledSeq > acked) acknowledge();
    }, Math.max(0, ackedAt + ACK_EVERY_MS - Date.now()));
  }

  // ---- Skipped lines: a marker in their place, loaded from the store on a press ----

  function skippedMarker(from, to, count) {
    const marker = document.createElement("li");
    marker.className = "skipped";
    marker.dataset.skippedFrom = String(from);
    marker.dataset.skippedTo = String(to);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "load-skipped";
    button.tabIndex = -1; // the log is one tab stop: the marker is reached as a line, and Enter loads it
    const counted = document.createElement("span");
    counted.className = "count";
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = " · load them";
    button.append(counted, hint);
    marker.append(button);
    setSkipped(marker, count);
    return marker;
  }

  function setSkipped(marker, count) {
    marker.dataset.skipped = String(count);
    marker.querySelector(".count").textContent = `${count} ${count === 1 ? "line" : "lines"} skipped`;
  }

  async function loadSkipped(marker) {
    const log = logOf();
    if (!log || !log.dataset.jobId || !marker.isConnected || marker.dataset.loading) return;
    marker.dataset.loading = "true";
    try {
      const to = Number(marker.dataset.skippedTo);
      const got = await fetchLines(log, `after=${Number(marker.dataset.skippedFrom) - 1}&limit=${PAGE_LINES}`);
      if (!got.ok || !marker.isConnected) return;
      const lines = got.nodes.filter((line) => Number(line.dataset.seq) <= to);
      following = false; // the reader is at the marker: the log stays there
      const hadStop = marker.tabIndex === 0;
      const hadFocus = marker.contains(document.activeElement);
      marker.before(...lines);
      const left = Number(marker.dataset.skipped) - lines.length;
      const done = left <= 0 || lines.length < got.nodes.length || got.headers.get("X-More-Lines") !== "1";
      if (done) {
        marker.remove();
        if (hadStop && lines.length) {
          if (hadFocus) focusLine(lines[0]);
          else keepTabStop(log, false);
        } else if (hadStop) keepTabStop(log, hadFocus);
      } else {
        marker.dataset.skippedFrom = String(Number(lines[lines.length - 1].dataset.seq) + 1);
        setSkipped(marker, left);
      }
      trimWindow(log, lines[0] ?? "bottom", true);
      showCounts(0);
      showWindow();
      say(`${lines.length} skipped ${lines.length === 1 ? "line" : "lines"} loaded${done ? "" : `, ${left} still skipped`}.`);
    } finally {
      delete marker.dataset.loading;
    }
  }

  // ---- Lines from the store: older, newer, around a line, the tail ----

  async function fetchLines(log, params) {
    const query = log.dataset.filterQuery ? `&${log.dataset.filterQuery}` : "";
    const response = await fetch(`/jobs/${log.dataset.jobId}/lines?${params}${query}`, {
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return { ok: false, status: response.status, nodes: [], headers: response.headers };
    const holder = document.createElement("template");
    holder.innerHTML = await response.text();
    const nodes = [...holder.content.children];
    if (sinceStart) showTimes(nodes);
    markMatches(nodes);
    return { ok: true, status: response.status, nodes, headers: response.headers };
  }

  function linesBefore(got) {
    return got.nodes.length ? Number(got.headers.get("X-Lines-Before")) || 0 : 0;
  }

  async function loadOlder() {
    const log = logOf();
    const button = document.getElementById("load-older");
    if (!log || !button || button.disabled || !log.dataset.jobId) return false;
    const first = log.firstElementChild;
    const before = first ? firstSeqOf(first) : Math.max(liveSeq, lastDrawn(log)) + 1;
    button.disabled = true;
    try {
      const got = await fetchLines(log, `before=${before}`);
      if (!got.ok) return false;
      // Keep the first line where the reader sees it: the older lines go above it.
      const offset = first ? first.offsetTop - log.scrollTop : 0;
      log.prepend(...got.nodes);
      if (first) log.scrollTop = first.offsetTop - offset;
      if (got.nodes.length || !first || first.dataset.seq) setHidden(linesBefore(got));
      if (first) trimWindow(log, "bottom", true);
      showCounts(0);
      showWindow();
      return got.nodes.length > 0;
    } finally {
      button.disabled = false;
    }
  }

  async function loadNewer() {
    const log = logOf();
    const button = document.getElementById("load-newer");
    if (!log || !button || button.disabled || !log.dataset.jobId) return;
    button.disabled = true;
    try {
      const got = await fetchLines(log, `after=${lastDrawn(log)}`);
      if (!got.ok) return;
      log.append(...got.nodes);
      trimWindow(log, "top", true);
      if (got.headers.get("X-More-Lines") !== "1") await reachTail(log);
      showCounts(0);
      showWindow();
    } finally {
      button.disabled = false;
    }
  }

  // A window whose end is the store's: the lines the stream brought meanwhile are loaded too, then it follows the
  // stream again (lines drawn twice are not: see flush).
  async function reachTail(log) {
    for (let tries = 0; tries < 20; tries += 1) {
      const last = lastDrawn(log);
      if (last >= liveSeq) break;
      const got = await fetchLines(log, `after=${last}`);
      if (!got.ok) return;
      if (!got.nodes.length) break;
      log.append(...got.nodes);
      trimWindow(log, "top", true);
    }
    detached = false;
    showWindow();
  }

  async function loadTail(log) {
    const got = await fetchLines(log, `before=${liveSeq + 1}`);
    if (!got.ok) return;
    const hadFocus = log.contains(document.activeElement);
    log.replaceChildren(...got.nodes);
    setHidden(linesBefore(got));
    await reachTail(log);
    keepTabStop(log, hadFocus);
    showCounts(0);
  }

  // ---- Permalinks: #seq-N opens the window around line N, scrolls to it and marks it ----

  async function goToLine() {
    try {
      await openAtLine();
    } finally {
      delete document.documentElement.dataset.openingLine; // the log is drawn, whatever happened
    }
  }

  async function openAtLine() {
    const found = /^#seq-(\d+)$/.exec(location.hash);
    const log = logOf();
    if (!found || !log) return;
    const seq = Number(found[1]);
    let line = document.getElementById(`seq-${seq}`);
    if (!line && log.dataset.jobId) {
      // Straight to it: the window around it, never a walk through everything after it.
      const wasDetached = detached;
      detached = true; // the stream's lines wait in the store meanwhile
      const limit = Math.min(Number(log.dataset.maxLines) || 2000, PAGE_LINES);
      const got = await fetchLines(log, `around=${seq}&limit=${limit}`);
      if (!got.ok) {
        detached = wasDetached;
        showWindow();
        say(got.status === 404 ? `This job has no line ${seq}.` : `Line ${seq} could not be loaded.`);
        return;
      }
      const hadFocus = log.contains(document.activeElement);
      following = false;
      newLines = 0;
      showNewLines();
      log.replaceChildren(...got.nodes);
      setHidden(linesBefore(got));
      if (got.headers.get("X-More-After") !== "1") await reachTail(log);
      keepTabStop(log, hadFocus);
      showCounts(0);
      showWindow();
      line = document.getElementById(`seq-${seq}`);
    }
    for (const old of log.querySelectorAll(".permalinked")) old.classList.remove("permalinked");
    if (!line) {
      say(`Line ${seq} is not in this view.`);
      return;
    }
    following = false;
    line.classList.add("permalinked");
    delete document.documentElement.dataset.openingLine;
    line.scrollIntoView({ block: "center" });
  }

  window.addEventListener("hashchange", goToLine);

  // ---- Copy a line; show its data as indented JSON ----

  function lineText(line) {
    const cell = (selector) => line.querySelector(selector)?.textContent.trim() ?? "";
    const time = line.querySelector("time")?.getAttribute("datetime") ?? "";
    return [`#${line.dataset.seq}`, time, cell(".level"), cell(".logger"), cell(".data")].filter(Boolean).join(" ");
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // No clipboard API (a page served over plain HTTP off loopback): the old way.
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.append(area);
      area.select();
      const done = document.execCommand("copy");
      area.remove();
      return done;
    }
  }

  function toggleJson(button) {
    const data = button.closest(".line")?.querySelector(".data");
    if (!data) return;
    const expanded = button.getAttribute("aria-expanded") === "true";
    if (expanded) {
      data.textContent = data.dataset.compact;
    } else {
      try {
        data.dataset.compact = data.textContent;
        data.textContent = JSON.stringify(JSON.parse(data.textContent), null, 2);
      } catch {
        return; // not JSON after all: leave it as it is
      }
    }
    button.setAttribute("aria-expanded", String(!expanded));
    const log = logOf();
    if (log && following) followTail(log);
  }

  // A line's buttons, added when it is pointed at or its permalink focused (Tab reaches them next).
  function addTools(line) {
    if (!line || isMarker(line) || line.querySelector(".copy")) return;
    const data = line.querySelector(".data");
    const text = data?.textContent ?? "";
    if (/^[[{]/.test(text) && !data.querySelector(".cut")) {
      line.append(button("expand", "{…}", `Show line ${line.dataset.seq} as indented JSON`));
      line.lastElementChild.setAttribute("aria-expanded", "false");
    }
    line.append(button("copy", "copy", `Copy line ${line.dataset.seq}`));
  }

  function button(kind, text, title) {
    const made = document.createElement("button");
    made.type = "button";
    made.tabIndex = -1; // reached through the line's actions (Enter), not by Tab: the log is one tab stop
    made.className = kind;
    made.title = title;
    made.textContent = text;
    return made;
  }

  for (const type of ["mouseover", "focusin"]) {
    document.addEventListener(type, (event) => {
      const line = event.target instanceof Element ? event.target.closest("#log > li") : null;
      if (line) addTools(line);
    });
  }

  document.addEventListener("click", async (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("#new-lines")) jumpToTail();
    else if (target.closest("#load-older")) loadOlder();
    else if (target.closest("#load-newer")) loadNewer();
    else if (target.closest("#log > li.skipped")) loadSkipped(target.closest("li.skipped"));
    else if (target.closest(".line .expand")) toggleJson(target.closest(".expand"));
    else if (target.closest(".line .copy")) copyLine(target.closest(".copy"));
  });

  async function copyLine(button) {
    const copied = await copy(lineText(button.closest(".line")));
    button.textContent = copied ? "copied" : "copy failed";
    say(copied ? `Line ${button.closest(".line").dataset.seq} copied.` : "The line could not be copied.");
    setTimeout(() => {
      button.textContent = "copy";
    }, 1500);
  }

  // ---- Filters: a toggle applies at once; the view's address is its link ----

  function applyFilters(form) {
    const data = new FormData(form);
    const query = new URLSearchParams();
    for (const name of ["levels", "kinds"]) {
      const chosen = data.getAll(name);
      if (chosen.length) query.set(name, chosen.join(","));
    }
    for (const name of ["logger", "q", "min_level"]) {
      const value = String(data.get(name) ?? "").trim();
      if (value) query.set(name, value);
    }
    if (data.get("regex") && query.get("q")) query.set("regex", "1");
    const search = query.toString();
    location.assign(form.getAttribute("action") + (search ? `?${search}` : ""));
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type === "checkbox" && target.closest("#filters .toggles")) {
      applyFilters(target.form);
    } else if (target instanceof HTMLSelectElement && target.id === "filter-min-level") {
      applyFilters(target.form);
    }
  });

  document.addEventListener("submit", (event) => {
    if (event.target instanceof HTMLFormElement && event.target.id === "filters") {
      event.preventDefault();
      applyFilters(event.target);
    }
  });

  // ---- Keyboard (issue 19): the log is one tab stop, its lines a roving tabindex ----
  // The list itself is the tab stop until a line is chosen; then that line is (tabindex 0), and no other. Arrows,
  // Home, End, PageUp and PageDown move between lines; Enter opens a line's actions (permalink, JSON, copy), which
  // Tab then goes through; Escape closes them, or leaves the log. `/` searches, `?` shows the keys.

  function typing(element) {
    return element instanceof HTMLElement && (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }

  function currentLine(log) {
    return log.querySelector(':scope > li[tabindex="0"]');
  }

  // After the current line left the page (trimmed, or the log replaced): the list holds the stop again, and hands
  // the focus, if it had it, to the line it would choose.
  function keepTabStop(log, focus) {
    log.tabIndex = 0;
    if (!focus) return;
    const line = lineToFocus(log);
    if (line) focusLine(line);
    else log.focus({ preventScroll: true });
  }

  function focusLine(line) {
    const log = logOf();
    if (!log || !line) return;
    const old = currentLine(log);
    if (old && old !== line) {
      closeActions(old);
      old.removeAttribute("tabindex");
    }
    line.tabIndex = 0;
    log.tabIndex = -1;
    line.focus({ preventScroll: true });
    line.scrollIntoView({ block: "nearest" });
  }

  // The line the list hands its focus to: the one chosen before; else the newest while following, the first in view
  // otherwise.
  function lineToFocus(log) {
    const current = currentLine(log);
    if (current) return current;
    if (following) return log.lastElementChild;
    const top = log.getBoundingClientRect().top;
    return [...log.children].find((line) => line.getBoundingClientRect().bottom > top + 2) ?? log.firstElementChild;
  }

  document.addEventListener("focusin", (event) => {
    const log = logOf();
    if (log && event.target === log && log.firstElementChild) focusLine(lineToFocus(log));
    // Focus that leaves a line closes its actions.
    for (const open of document.querySelectorAll("#log > li.actions-open")) {
      if (!open.contains(event.target)) closeActions(open);
    }
  });

  function lineTools(line) {
    return [...line.querySelectorAll("a.seq, .cut a, .expand, .copy")];
  }

  function openActions(line) {
    addTools(line);
    line.classList.add("actions-open");
    const tools = lineTools(line);
    for (const tool of tools) tool.tabIndex = 0;
    tools[0]?.focus();
  }

  function closeActions(line) {
    if (!line.classList.contains("actions-open")) return;
    line.classList.remove("actions-open");
    for (const tool of lineTools(line)) tool.tabIndex = -1;
  }

  function linesPerPage(log, line) {
    return Math.max(1, Math.floor(log.clientHeight / Math.max(line.offsetHeight, 1)) - 1);
  }

  function moveFrom(line, key) {
    const log = logOf();
    const lines = log.children;
    const index = Array.prototype.indexOf.call(lines, line);
    const step = linesPerPage(log, line);
    const to = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + step,
      PageUp: index - step,
      Home: 0,
    }[key];
    const target = lines[Math.max(0, Math.min(lines.length - 1, to))];
    if (target && target !== line) focusLine(target);
  }

  // Tab and Shift+Tab out of the log go straight to what lies after it or before it. Left to the browser, a
  // Shift+Tab across the list walks all its lines, and with content-visibility each one not in view is laid out to
  // learn whether it takes focus: seconds for 2,000 lines (measured in Chromium, issue 19).
  function leaveLog(forward) {
    const next = forward ? afterLog().find((b) => b && !b.hidden) : document.querySelector(".skip-link");
    next?.focus();
  }

  // What Tab reaches after the log, in order, when shown: "N new lines", "load newer lines", the keys.
  function afterLog() {
    return ["new-lines", "load-newer", "keys-toggle"]
      .map((id) => document.getElementById(id))
      .filter((b) => b && !b.hidden && !b.closest("[hidden]"));
  }

  function onTab(event) {
    const target = event.target;
    const forward = !event.shiftKey;
    const line = target.closest("#log > li");
    if (line) {
      const tools = line.classList.contains("actions-open") ? lineTools(line) : [];
      const at = target === line ? -1 : tools.indexOf(target);
      const to = forward ? at + 1 : at - 1;
      if (to >= 0 && to < tools.length) tools[to].focus();
      else if (!forward && to === -1) line.focus();
      else leaveLog(forward);
      return true;
    }
    // Into the log from just before or just after it: its tab stop, not a walk across its lines.
    const [justAfter] = afterLog().filter((b) => b && !b.hidden && !b.closest("[hidden]"));
    const backIn = target === justAfter || (target.id === "after-log" && justAfter?.id === "keys-toggle");
    if (forward ? target.matches(".skip-link") : backIn) {
      const log = logOf();
      const stop = currentLine(log) ?? log;
      stop.focus();
      return true;
    }
    return false;
  }

  function onLineKey(event, line) {
    const key = event.key;
    if (["ArrowDown", "ArrowUp", "PageDown", "PageUp", "Home"].includes(key)) {
      moveFrom(line, key);
    } else if (key === "End") {
      jumpToTail().then(() => focusLine(logOf().lastElementChild));
    } else if (isMarker(line)) {
      if (key !== "Enter" && key !== " ") return false;
      loadSkipped(line);
    } else if (key === "Enter" || key === " ") {
      openActions(line);
    } else if (key === "c") {
      addTools(line);
      copyLine(line.querySelector(".copy"));
    } else if (key === "j") {
      addTools(line);
      const expand = line.querySelector(".expand");
      if (expand) toggleJson(expand);
      else say(`Line ${line.dataset.seq} holds no JSON to indent.`);
    } else if (key === "Escape") {
      document.getElementById("after-log")?.focus();
    } else {
      return false;
    }
    return true;
  }

  // ---- The keys, on the page (`?`) ----

  let keysOpener = null;

  function showKeys(show) {
    const panel = document.getElementById("log-keys");
    const toggle = document.getElementById("keys-toggle");
    if (!panel || !toggle) return;
    panel.hidden = !show;
    toggle.setAttribute("aria-expanded", String(show));
    if (show) {
      keysOpener = document.activeElement;
      panel.focus();
    } else if (panel.contains(document.activeElement) || document.activeElement === document.body) {
      (keysOpener?.isConnected ? keysOpener : toggle).focus();
    }
  }

  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("#keys-toggle")) {
      showKeys(document.getElementById("log-keys")?.hidden ?? false);
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const log = logOf();
    if (!log) return;
    const keys = document.getElementById("log-keys");
    if (event.key === "Escape") {
      const line = target instanceof Element ? target.closest("#log > li") : null;
      if (keys && !keys.hidden) showKeys(false);
      else if (line && line.classList.contains("actions-open")) {
        closeActions(line);
        line.focus();
      } else if (line) onLineKey(event, line);
      else if (target instanceof Element && target.closest("#filters")) {
        const line = lineToFocus(log);
        if (line) focusLine(line);
        else log.focus();
      }
      else return;
      event.preventDefault();
      return;
    }
    if (event.key === "Tab" && target instanceof Element && onTab(event)) {
      event.preventDefault();
      return;
    }
    if (typing(target)) return;
    if (target instanceof Element && target.matches("#log > li") && onLineKey(event, target)) {
      event.preventDefault();
      return;
    }
    if (target === log && ["ArrowDown", "ArrowUp", "PageDown", "PageUp", "Home"].includes(event.key)) {
      const line = lineToFocus(log);
      if (line) {
        event.preventDefault();
        focusLine(line);
      }
      return;
    }
    const search = document.getElementById("filter-q");
    if (event.key === "/" && search) {
      event.preventDefault();
      search.closest("details")?.setAttribute("open", ""); // folded on a phone
      search.focus();
      search.select();
    } else if (event.key === "?") {
      event.preventDefault();
      showKeys(keys?.hidden ?? false);
    } else if (event.key === "End" && !(target instanceof Element && target.closest("#log"))) {
      event.preventDefault();
      jumpToTail();
    }
  });

  // ---- The job's state, said politely when it changes; a desktop notice, if asked for, when it ends hidden ----

  const ENDED = new Set(["succeeded", "failed", "cancelled", "timed_out", "interrupted"]);
  const STATE_WORDS = {
    succeeded: "The job succeeded.",
    failed: "The job failed",
    cancelled: "The job was cancelled.",
    timed_out: "The job timed out",
    interrupted: "The job was interrupted",
    input_required: "The server asks you a question: it is above the log.",
  };

  function announceState() {
    const region = document.getElementById("job-announcer");
    const badge = document.getElementById("state-badge");
    if (!region || !badge) return;
    const state = badge.dataset.state;
    if (state === region.dataset.announcedState) return;
    region.dataset.announcedState = state;
    const words = STATE_WORDS[state];
    if (!words) return;
    const error = document.querySelector("#job-status .error")?.textContent.trim().slice(0, 200);
    const text = words.endsWith(".") ? words : `${words}${error ? `: ${error}` : "."}`;
    region.textContent = text;
    if (ENDED.has(state)) notifyEnd(text);
  }

  const NOTIFY_KEY = "mcp-live:notify-end";

  function notifyWanted(jobId) {
    return sessionStorage.getItem(`${NOTIFY_KEY}:${jobId}`) === "yes";
  }

  function notifyEnd(text) {
    const jobId = logOf()?.dataset.jobId;
    if (!jobId || !notifyWanted(jobId) || document.visibilityState !== "hidden") return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const tool = document.getElementById("timing")?.dataset.tool ?? "";
    new Notification(`MCP Live: job ${jobId} ended`, { body: `${tool}: ${text}`, tag: `job-${jobId}` });
  }

  // Asked on the reader's press only, never on load.
  async function askToNotify(button) {
    const jobId = logOf()?.dataset.jobId;
    if (!jobId) return;
    const wanted = button.getAttribute("aria-pressed") !== "true";
    let granted = Notification.permission === "granted";
    if (wanted && !granted) granted = (await Notification.requestPermission()) === "granted";
    const on = wanted && granted;
    sessionStorage.setItem(`${NOTIFY_KEY}:${jobId}`, on ? "yes" : "no");
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "You will be notified when it ends (press to stop)" : "Notify me when it ends";
    if (wanted && !granted) say("Notifications are blocked in this browser: the tab's title shows the end instead.");
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("#notify-end") : null;
    if (button) askToNotify(button);
  });

  // ---- Search matches, marked in the lines ----

  // The search as a JavaScript pattern, or null. The store ran it on RE2, in linear time; this browser's engine
  // backtracks, so a pattern with a quantified group (the kind that can take exponential time) is not marked.
  function searchPattern() {
    const params = new URLSearchParams(location.search);
    const q = params.get("q");
    if (!q) return null;
    if (params.get("regex") !== "1") return new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
    if (/\)\s*[*+?{]/.test(q)) return null;
    try {
      return new RegExp(q, "gi");
    } catch {
      return null; // RE2 syntax this engine does not take
    }
  }

  let matches = undefined;

  function markMatches(lines) {
    if (matches === undefined) matches = searchPattern();
    if (!matches) return;
    for (const line of lines) {
      for (const cell of line.querySelectorAll(".logger, .data")) markIn(cell);
    }
  }

  function markIn(cell) {
    // Text nodes only, split around each match: the server's text never becomes markup.
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const text = node.nodeValue;
      matches.lastIndex = 0;
      const parts = [];
      let at = 0;
      for (let found = matches.exec(text); found && found[0]; found = matches.exec(text)) {
        parts.push(text.slice(at, found.index));
        const mark = document.createElement("mark");
        mark.textContent = found[0];
        parts.push(mark);
        at = found.index + found[0].length;
      }
      if (!parts.length) continue;
      parts.push(text.slice(at));
      node.replaceWith(...parts);
    }
  }

  // ---- Times: the UTC clock (as sent), or the time since the job started ----

  const TIME_MODE_KEY = "mcp-live:time-mode";
  let sinceStart = false;

  function showTime(time, createdAt) {
    if (!time.dataset.clock) time.dataset.clock = time.textContent;
    if (!sinceStart) {
      time.textContent = time.dataset.clock;
      return;
    }
    const seconds = Date.parse(time.getAttribute("datetime")) / 1000 - createdAt;
    time.textContent = `+${seconds.toFixed(3)} s`;
  }

  function showTimes(lines) {
    const button = document.getElementById("time-mode");
    if (!button) return;
    const createdAt = Number(button.dataset.createdAt);
    for (const line of lines) {
      const time = line.querySelector("time");
      if (time) showTime(time, createdAt);
    }
  }

  function setTimeMode(since) {
    const button = document.getElementById("time-mode");
    const log = logOf();
    if (!button || !log) return;
    sinceStart = since;
    button.setAttribute("aria-pressed", String(since));
    button.textContent = since ? "since the job started" : "UTC clock";
    button.nextElementSibling.textContent = since ? "(press for the UTC clock)" : "(press for the time since the job started)";
    localStorage.setItem(TIME_MODE_KEY, since ? "since-start" : "clock");
    showTimes(log.children);
    if (following) followTail(log); // the lines' widths changed, not the reader's mind
  }

  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("#time-mode")) setTimeMode(!sinceStart);
  });

  // ---- Severe lines, said aloud: politely, and at most every few seconds ----

  let pending = [];
  let lastAnnounced = 0;
  let announceTimer = null;

  function say(text) {
    const announcer = document.getElementById("announcer");
    if (announcer) announcer.textContent = text;
  }

  function announce(added) {
    pending.push(...added.filter((line) => SEVERE.has(line.dataset.level)).slice(0, 50));
    if (!pending.length || announceTimer) return;
    const wait = Math.max(0, lastAnnounced + ANNOUNCE_EVERY_MS - Date.now());
    announceTimer = setTimeout(() => {
      announceTimer = null;
      lastAnnounced = Date.now();
      const [first] = pending;
      const more = pending.length > 1 ? ` and ${pending.length - 1} more at error or worse` : "";
      const data = first.querySelector(".data")?.textContent.slice(0, 120) ?? "";
      say(`${first.dataset.level}: ${data}${more}`);
      pending = [];
    }, wait);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const log = logOf();
    if (!log) return;
    liveSeq = Number(document.getElementById("view-counts")?.dataset.total) || lastDrawn(log);
    const serverNow = Number(document.getElementById("timing")?.dataset.now);
    if (serverNow) clockOffset = serverNow * 1000 - Date.now();
    const notify = document.getElementById("notify-end");
    if (notify && "Notification" in window && Notification.permission !== "denied") {
      notify.hidden = false;
      if (notifyWanted(log.dataset.jobId) && Notification.permission === "granted") {
        notify.setAttribute("aria-pressed", "true");
        notify.textContent = "You will be notified when it ends (press to stop)";
      }
    }
    if (localStorage.getItem(TIME_MODE_KEY) === "since-start") setTimeMode(true);
    markMatches(log.children);
    if (location.hash.startsWith("#seq-")) goToLine();
    else log.scrollTop = log.scrollHeight;
  });
})();
