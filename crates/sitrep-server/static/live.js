// Live updates for the command view: when a new entry commits, fetch the page again and swap
// in every section marked data-live, except one the person is typing in (it says so instead).
// Without JavaScript, everything still works; the page is simply current as of its loading.
(function () {
  "use strict";
  var root = document.querySelector("[data-incident]");
  if (!root || !window.EventSource) { return; }
  var id = root.getAttribute("data-incident");
  var status = document.querySelector("[data-live-status]");
  var pending = false;
  var again = false;

  function busy(section) {
    if (section.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
    var fields = section.querySelectorAll("input:not([type=hidden]), textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
            if (field.tagName === "SELECT") {
        // With no option marked selected, the browser shows the first: that is the default.
        var initial = 0;
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].defaultSelected) { initial = j; break; }
        }
        if (field.selectedIndex !== initial) { return true; }
      } else if (field.value !== field.defaultValue) { return true; }
    }
    return false;
  }

  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var held = [];
        document.querySelectorAll("[data-live][id]").forEach(function (section) {
          var replacement = fresh.getElementById(section.id);
          if (!replacement) { return; }
          if (busy(section)) { held.push(section.id); return; }
          section.replaceWith(document.importNode(replacement, true));
        });
        var seq = fresh.querySelector("[data-incident]");
        if (seq) { root.setAttribute("data-seq", seq.getAttribute("data-seq")); }
        var line = document.querySelector("[data-live-status]");
        if (line) {
          line.textContent = held.length
            ? "Updated; reload to see changes in the part you are editing (" + held.join(", ") + ")."
            : "Live: updated " + new Date().toLocaleTimeString() + ".";
        }
      })
      .catch(function () { if (status) { status.textContent = "Live updates paused; reload the page."; } })
      .then(function () {
        pending = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource("/api/v1/incidents/" + encodeURIComponent(id) + "/events?after=" + encodeURIComponent(root.getAttribute("data-seq")));
  source.onmessage = refresh;
  source.onerror = function () {
    var line = document.querySelector("[data-live-status]");
    if (line) { line.textContent = "Reconnecting live updates…"; }
  };
  source.onopen = function () {
    var line = document.querySelector("[data-live-status]");
    if (line && line.textContent.indexOf("Reconnecting") === 0) { line.textContent = "Live."; }
  };
})();
