// Keyboard use of the command view: single-key shortcuts (`?` lists them) and skip links that
// land in the form they name. (Focus on what a submitted form changed is live.js's, once the
// change is in.) Without JavaScript the skip links still jump to their form.
(function () {
  "use strict";
  var dialog = document.getElementById("shortcuts");

  function typing(element) {
    if (!element) { return false; }
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  // A form is entered at its first field (unfolded if it is behind a "+ …" fold); anything
  // else gets focus itself.
  function land(target) {
    for (var fold = target.closest("details"); fold; fold = fold.parentElement && fold.parentElement.closest("details")) {
      fold.open = true;
    }
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

})();
