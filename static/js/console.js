// Staff console: keep the "time left" of each limit current while the page stays open.
// Progressive: without JavaScript the server-rendered text stays as it was.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "zh-hans";
  var format;
  try {
    format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  } catch (e) {
    return;
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
})();
