// Small progressive enhancements; every page works without this script.
(function () {
  "use strict";
  // Show times in the reader's own time zone.
  var short = { dateStyle: "medium", timeStyle: "short" };
  var long = { dateStyle: "full", timeStyle: "long" };
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    try {
      el.textContent = when.toLocaleString(undefined, el.dataset.local === "long" ? long : short);
      el.title = when.toString();
    } catch (e) { /* keep the server's text */ }
  });
  // "Select all" in the inbox.
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      box.form.querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = box.checked; });
    });
  });
  // Ask before deleting.
  document.querySelectorAll("button.danger").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
