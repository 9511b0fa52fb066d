// Times in the viewer's zone. The server writes every time once, in UTC, as
// <time datetime="RFC 3339">2026-12-03 19:25 UTC</time>; this script shows it in the browser's
// zone with UTC beside it when they differ ("Thu 3 Dec 20:25 CET (19:25 UTC)"), and for a
// deadline (data-deadline) adds how far off it is ("in 1 h 40 min", "12 min ago"), refreshed
// each minute. Date-time fields (datetime-local) are read in the same zone: a live preview says
// the UTC instant, and a hidden `<name>_utc` field sends it, so the server is never left to
// guess the zone. Without JavaScript the UTC text stays and the fields are read as UTC.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // "4 Dec " when the UTC date is not the local one, else nothing.
  function utcDate(date) {
    if (date.getUTCDate() === date.getDate()) { return ""; }
    return date.getUTCDate() + " " + parts(date, { month: "short", timeZone: "UTC" }).month + " ";
  }

  function utcClock(date) { return pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()); }

  function parts(date, options) {
    var out = {};
    new Intl.DateTimeFormat("en-GB", options).formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  // "Thu 3 Dec 20:25 CET (19:25 UTC)", the year only when it is not this one.
  function local(date) {
    var p = parts(date, {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
    var sameYear = Number(p.year) === new Date().getFullYear();
    var day = p.weekday + " " + p.day + " " + p.month + (sameYear ? "" : " " + p.year);
    if (date.getTimezoneOffset() === 0) {
      return day + " " + p.hour + ":" + p.minute + " UTC";
    }
    return day + " " + p.hour + ":" + p.minute + " " + p.timeZoneName + " (" + utcDate(date) + utcClock(date) + " UTC)";
  }

  // "1 h 40 min", "12 min", "2 d 3 h".
  function span(minutes) {
    if (minutes < 60) { return minutes + " min"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 24) { return hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : ""); }
    var days = Math.floor(hours / 24);
    return days + " d" + (hours % 24 ? " " + (hours % 24) + " h" : "");
  }

  function relative(date) {
    var minutes = Math.round((date.getTime() - Date.now()) / 60000);
    if (minutes === 0) { return "now"; }
    return minutes > 0 ? "in " + span(minutes) : span(-minutes) + " ago";
  }

  function showTime(element) {
    var date = new Date(element.getAttribute("datetime"));
    if (isNaN(date.getTime())) { return; }
    if (!element.hasAttribute("data-utc")) {
      element.setAttribute("data-utc", element.textContent);
      element.setAttribute("title", element.textContent);
      element.textContent = local(date);
    }
    if (element.hasAttribute("data-deadline")) {
      var words = element.nextElementSibling;
      if (!words || !words.hasAttribute("data-relative")) {
        words = document.createElement("span");
        words.className = "relative";
        words.setAttribute("data-relative", "");
        element.after(words);
      }
      words.textContent = " · " + relative(date);
    }
  }

  // The UTC instant of a datetime-local value read in the browser's zone, or null.
  function instant(value) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) { return null; }
    var date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  function showField(field) {
    if (!field.name || field.hasAttribute("data-zoned")) { return; }
    field.setAttribute("data-zoned", "");
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = field.name + "_utc";
    var preview = document.createElement("span");
    preview.className = "utc-preview";
    preview.setAttribute("data-utc-preview", "");
    preview.setAttribute("aria-live", "polite");
    field.after(hidden, preview);
    var label = field.closest("label");
    var note = label && label.querySelector("[data-zone-note]");
    if (note && zone) { note.textContent = note.textContent.replace("UTC", "your time, " + zone); }
    function update() {
      var date = instant(field.value);
      hidden.value = date ? date.toISOString() : "";
      preview.textContent = date ? "= " + utcDate(date) + utcClock(date) + " UTC" : "";
    }
    field.addEventListener("input", update);
    field.addEventListener("change", update);
    if (field.form) { field.form.addEventListener("submit", update, true); }
    update();
  }

  function scan(root) {
    root.querySelectorAll("time[datetime]").forEach(showTime);
    root.querySelectorAll("input[type=datetime-local]").forEach(showField);
  }

  function start() {
    scan(document);
    // Live updates swap sections in: show their times and fields the same way.
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) { if (node.nodeType === 1) { scan(node.parentNode || node); } });
      });
    }).observe(document.body, { childList: true, subtree: true });
    setInterval(function () { document.querySelectorAll("time[data-deadline]").forEach(showTime); }, 60000);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
