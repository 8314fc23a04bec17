// The recent-jobs list: kept live over SSE, with times relative to now.
(() => {
  "use strict";
})();
