// Keyboard use of the command view: single-key shortcuts (`?` lists them), skip links that land
// in the form they name, and focus on what a submitted form changed. Without JavaScript the skip
// links still jump to their form, and a submit still returns to the changed section.
(function () {
  "use strict";
  var dialog = document.getElementById("shortcuts");

  function typing(element) {
    if (!element) { return false; }
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  // A form is entered at its first field; anything else gets focus itself.
  function land(target) {
    var field = target.tagName === "FORM"
      ? target.querySelector("input:not([type=hidden]), select, textarea, button")
      : null;
    var element = field || target;
    if (!field && !element.hasAttribute("tabindex")) { element.setAttribute("tabindex", "-1"); }
    element.focus();
    element.scrollIntoView({ block: "nearest" });
  }

  function follow(link) {
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) { return false; }
    land(target);
    return true;
  }

  document.querySelectorAll("a.skip[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (follow(link)) { event.preventDefault(); }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "?" && dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
      dialog.showModal();
      return;
    }
    var link = document.querySelector("a.skip[data-key='" + event.key + "']");
    if (link && follow(link)) { event.preventDefault(); }
  });

  // Back from a form on this page (the server answers a change with this page at the changed
  // section): put focus there and say so, so a screen reader user hears where they are. The
  // page sends no referrer, so a submit leaves a note for the page that follows it.
  var NOTE = "sitrep.submitted";
  document.addEventListener("submit", function () {
    try { window.sessionStorage.setItem(NOTE, window.location.pathname); } catch (e) { /* private mode */ }
  }, true);
  var fromHere = false;
  try {
    fromHere = window.sessionStorage.getItem(NOTE) === window.location.pathname;
    window.sessionStorage.removeItem(NOTE);
  } catch (e) { /* private mode: no focus move, the page still shows the change */ }
  var arrived = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (arrived && fromHere) {
    land(arrived);
    var heading = arrived.querySelector("h2");
    var status = document.querySelector("[data-live-status]");
    if (status) { status.textContent = "Saved. " + (heading ? heading.textContent + " updated." : ""); }
  }
})();
