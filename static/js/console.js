// Staff console: small enhancements on pages that work without JavaScript.
// - Keep the "time left" of each limit current while the page stays open.
// - Around htmx (static/vendor/htmx, configured in console/base.html): run again on swapped
//   content, say so when a request failed, and never swap a whole page into a fragment.
(function () {
  "use strict";

  // --- Countdowns ---------------------------------------------------------------------
  var lang = document.documentElement.lang || "zh-hans";
  var format = null;
  try {
    format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  } catch (e) {
    format = null; // an old browser: the server-rendered text stays as it was
  }
  function phrase(ms) {
    var minutes = Math.round(ms / 60000);
    var abs = Math.abs(minutes);
    if (abs < 60) return format.format(minutes, "minute");
    var hours = Math.round(minutes / 60);
    if (Math.abs(hours) < 48) return format.format(hours, "hour");
    return format.format(Math.round(hours / 24), "day");
  }
  function tick() {
    if (!format) return;
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (node) {
      var due = Date.parse(node.getAttribute("data-countdown"));
      if (isNaN(due)) return;
      var left = node.parentElement.querySelector(".left");
      var item = node.closest(".clock");
      if (!left || !item || item.classList.contains("paused")) return;
      left.textContent = phrase(due - now);
      if (due <= now) {
        item.classList.remove("ok", "warn");
        item.classList.add("late");
      }
    });
  }
  tick();
  setInterval(tick, 30000);
  // htmx swapped in new limits (after a handling plan, say): count them down at once.
  document.addEventListener("htmx:afterSettle", tick);

  // --- htmx ---------------------------------------------------------------------------
  var failed = document.getElementById("request-failed");
  function showFailure(show) {
    if (failed) failed.hidden = !show;
  }
  document.addEventListener("htmx:beforeRequest", function () {
    showFailure(false);
  });
  // A refusal or a server error (not swapped, see responseHandling), or no answer at all.
  document.addEventListener("htmx:responseError", function () {
    showFailure(true);
  });
  document.addEventListener("htmx:sendError", function () {
    showFailure(true);
  });

  // Fragments never start with a doctype. A whole page means the request ended somewhere
  // else, typically at the login page once the session expired: load this page properly.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var body = event.detail.serverResponse;
    if (typeof body === "string" && /^\s*<!doctype html/i.test(body)) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });

  // The language switcher returns to the page it was used on: keep it at the new address.
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var next = document.querySelector("form.lang input[name=next]");
    if (next) next.value = window.location.pathname + window.location.search;
  });
})();
