// Live updates for the command view: when a new entry commits, fetch the page again and swap
// in every section marked data-live. A form someone is typing in (focused, or changed from
// how it came) is carried over into the new section in place of its fresh copy, so the draft,
// the chosen file, the caret and any refusal beside it stay while everything around it updates.
// Without JavaScript, everything still works; the page is simply current as of its loading.
(function () {
  "use strict";
  var root = document.querySelector("[data-incident]");
  if (!root || !window.EventSource) { return; }
  var id = root.getAttribute("data-incident");
  var pending = false;
  var again = false;
  // Run once the next refresh has swapped the sections in (a saved form's focus move).
  var after = [];

  function edited(form) {
    if (form.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
    var fields = form.querySelectorAll("input:not([type=hidden]), textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.tagName === "SELECT") {
        // With no option marked selected, the browser shows the first: that is the default.
        var initial = 0;
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].defaultSelected) { initial = j; break; }
        }
        if (field.selectedIndex !== initial) { return true; }
      } else if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) { return true; }
      } else if (field.type === "file") {
        if (field.files && field.files.length) { return true; }
      } else if (field.value !== field.defaultValue) { return true; }
    }
    return form.querySelector("[data-form-error]") !== null;
  }

  // Which form a form is in its section: its address and its place among those with it.
  function key(form, section) {
    var action = form.getAttribute("action");
    var same = Array.prototype.filter.call(section.querySelectorAll("form"), function (f) {
      return f.getAttribute("action") === action;
    });
    return action + "#" + same.indexOf(form);
  }

  // A fold (`<details>`) the person opened or closed stays so when its section is replaced:
  // found again by the nearest element with an id and its summary's words.
  document.addEventListener("toggle", function (event) {
    if (event.target.tagName === "DETAILS") { event.target.setAttribute("data-touched", ""); }
  }, true);

  function foldKey(details) {
    var host = details.parentElement ? details.parentElement.closest("[id]") : null;
    var summary = details.querySelector("summary");
    if (!host || !summary) { return null; }
    return host.id + "#" + summary.textContent.replace(/\s+/g, " ").trim();
  }

  // A carried-over draft sits where its fresh copy was, which may be in a closed fold.
  function unfold(element) {
    for (var fold = element.closest("details"); fold; fold = fold.parentElement && fold.parentElement.closest("details")) {
      fold.open = true;
    }
  }

  function keepFolds(section, fresh) {
    var wanted = {};
    section.querySelectorAll("details[data-touched]").forEach(function (details) {
      var key = foldKey(details);
      if (key) { wanted[key] = details.open; }
    });
    fresh.querySelectorAll("details").forEach(function (details) {
      var key = foldKey(details);
      if (key && Object.prototype.hasOwnProperty.call(wanted, key)) {
        details.open = wanted[key];
        details.setAttribute("data-touched", "");
      }
    });
  }

  // The new section with the edited forms of the old one in place of their fresh copies; null
  // when an edited form is no longer offered (then the section is left as it is).
  function merged(section, replacement) {
    var fresh = document.importNode(replacement, true);
    keepFolds(section, fresh);
    var drafts = Array.prototype.filter.call(section.querySelectorAll("form"), edited);
    if (!drafts.length) { return { node: fresh, kept: false }; }
    var places = drafts.map(function (form) {
      var wanted = key(form, section);
      return Array.prototype.find.call(fresh.querySelectorAll("form"), function (f) { return key(f, fresh) === wanted; });
    });
    if (places.some(function (place) { return !place; })) { return null; }
    places.forEach(function (place, i) { place.replaceWith(drafts[i]); unfold(drafts[i]); });
    return { node: fresh, kept: true };
  }

  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var kept = [];
        var held = [];
        document.querySelectorAll("[data-live][id]").forEach(function (section) {
          var replacement = fresh.getElementById(section.id);
          if (!replacement) { return; }
          var focused = section.contains(document.activeElement) ? document.activeElement : null;
          var caret = focused && typeof focused.selectionStart === "number"
            ? [focused.selectionStart, focused.selectionEnd, focused.selectionDirection] : null;
          var scroll = focused ? focused.scrollTop : 0;
          var next = merged(section, replacement);
          if (!next) { held.push(section.id); return; }
          section.replaceWith(next.node);
          if (next.kept) { kept.push(section.id); }
          if (focused && next.node.contains(focused)) {
            focused.focus({ preventScroll: true });
            if (caret) { try { focused.setSelectionRange(caret[0], caret[1], caret[2]); } catch (e) { /* not a text field */ } }
            focused.scrollTop = scroll;
          }
        });
        var seq = fresh.querySelector("[data-incident]");
        if (seq) { root.setAttribute("data-seq", seq.getAttribute("data-seq")); }
        var line = document.querySelector("[data-live-status]");
        if (line) {
          var time = new Date().toLocaleTimeString();
          var said = "Live: updated " + time + ".";
          if (kept.length) { said += " Your draft in " + kept.join(", ") + " is kept."; }
          if (held.length) { said += " Not updated while you edit a form that is no longer offered: " + held.join(", ") + "."; }
          line.textContent = said;
        }
      })
      .catch(function () {
        var line = document.querySelector("[data-live-status]");
        if (line) { line.textContent = "Live updates paused; reload the page."; }
      })
      .then(function () {
        pending = false;
        if (again) { again = false; refresh(); return; }
        var done = after;
        after = [];
        done.forEach(function (run) { run(); });
      });
  }

  // A form of this page was accepted (forms.js): show the change, then put focus on the section
  // it changed and say so, as a page load at that section would (keys.js).
  window.sitrepLive = {
    saved: function (sectionId) {
      after.push(function () {
        var section = sectionId && document.getElementById(sectionId);
        var line = document.querySelector("[data-live-status]");
        if (!section) { if (line) { line.textContent = "Saved."; } return; }
        section.setAttribute("tabindex", "-1");
        section.focus();
        var heading = section.querySelector("h2");
        if (line) { line.textContent = "Saved. " + (heading ? heading.textContent + " updated." : ""); }
      });
      refresh();
    }
  };

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
