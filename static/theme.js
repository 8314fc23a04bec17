// Light or dark: the reader's choice, remembered; otherwise the system's (prefers-color-scheme).
(() => {
  "use strict";
})();
