// Forms that forgive: a post form is sent with fetch, so that a refusal leaves the page as it
// is (every typed value, choice and chosen file stays) and the server's reason is shown inside
// the form, beside the field it concerns, which gets focus. A success goes where the server's
// redirect went. Without JavaScript the forms post as usual and the server's page says why.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData || !window.DOMParser) { return; }
  var serial = 0;

  function clear(form) {
    form.querySelectorAll("[data-form-error]").forEach(function (message) { message.remove(); });
    form.querySelectorAll("[aria-invalid=true]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      var ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id.indexOf("form-error-") !== 0;
      });
      if (ids.length) { field.setAttribute("aria-describedby", ids.join(" ")); } else { field.removeAttribute("aria-describedby"); }
    });
  }

  // The field the server named: by name, else none (the message then heads the form).
  function fieldOf(form, name) {
    if (!name) { return null; }
    for (var i = 0; i < form.elements.length; i++) {
      var element = form.elements[i];
      if (element.name === name && element.type !== "hidden") { return element; }
    }
    return null;
  }

  function show(form, text, name) {
    clear(form);
    var message = document.createElement("p");
    message.className = "alert field-error";
    message.id = "form-error-" + (++serial);
    message.setAttribute("role", "alert");
    message.setAttribute("data-form-error", "");
    message.textContent = text;
    var field = fieldOf(form, name);
    if (field) {
      var group = field.type === "radio" || field.type === "checkbox" ? field.closest("fieldset") : null;
      var place = group || field.closest("label") || field;
      if (group) { group.insertBefore(message, group.firstElementChild ? group.firstElementChild.nextSibling : null); }
      else { place.insertAdjacentElement("afterend", message); }
      field.setAttribute("aria-invalid", "true");
      var described = field.getAttribute("aria-describedby");
      field.setAttribute("aria-describedby", (described ? described + " " : "") + message.id);
      field.focus();
    } else {
      var first = form.querySelector("input:not([type=hidden]), select, textarea, button, h3, fieldset");
      form.insertBefore(message, first);
      message.setAttribute("tabindex", "-1");
      message.focus();
    }
  }

  // Success. Back on this same page, the form is emptied and the live updates (live.js) bring
  // the change in without a reload, so drafts in other forms stay; they also move focus to the
  // changed section and say so. Without live updates, or on another page, the page is loaded.
  function go(url, hash, form) {
    var target = new URL(url, window.location.href);
    if (hash && !target.hash) { target.hash = hash; }
    var here = new URL(window.location.href);
    if (target.pathname !== here.pathname || target.search !== here.search) {
      window.location.assign(target.href);
      return;
    }
    if (window.sitrepLive) {
      form.reset();
      clear(form);
      if (form.contains(document.activeElement)) { document.activeElement.blur(); }
      window.sitrepLive.saved(hash);
      return;
    }
    if ("scrollRestoration" in history) { history.scrollRestoration = "manual"; }
    history.replaceState(null, "", target.href);
    window.location.reload();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() !== "post") { return; }
    // A form that answers with a file (a download) is left to the browser.
    if (form.hasAttribute("data-native")) { return; }
    if (event.defaultPrevented) { return; }
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") { return; }
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
    var multipart = (form.getAttribute("enctype") || "").toLowerCase() === "multipart/form-data";
    var body = multipart ? data : new URLSearchParams(data);
    var section = form.closest("section[id]");
    form.setAttribute("aria-busy", "true");
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.ok) {
          go(response.url, section && response.redirected && response.url.indexOf("/incidents/") >= 0 ? section.id : "", form);
          return null;
        }
        return response.text().then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var refusal = page.getElementById("refusal") || page.querySelector("[data-refusal]");
          var text = refusal ? refusal.textContent.trim() : (page.querySelector("main") || page.body).textContent.trim();
          show(form, text || "The server refused this (" + response.status + ").", refusal ? refusal.getAttribute("data-field") : "");
        });
      })
      .catch(function () {
        show(form, "The server could not be reached; nothing was sent. What you typed is still here: try again.", "");
      })
      .then(function () { form.removeAttribute("aria-busy"); });
  });
})();
