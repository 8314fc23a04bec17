// Run in <head>, before the page is drawn. A link to a line (#seq-N) opens the log at that line (log-viewer.js
// loads the lines around it), so the newest lines the page comes with are not worth drawing first: until it is
// open there, the log is not laid out (issue 18: a permalink into a big job in view within a second).
if (/^#seq-\d+$/.test(location.hash)) document.documentElement.dataset.openingLine = "";
