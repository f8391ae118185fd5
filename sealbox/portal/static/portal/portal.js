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
  // Recovery codes: download as a text file, or copy, without them leaving the page.
  var codes = document.querySelector("[data-codes]");
  if (codes) {
    var text = Array.prototype.map.call(codes.querySelectorAll("code"), function (c) { return c.textContent; }).join("\n");
    var download = document.querySelector("[data-codes-download]");
    if (download) {
      download.hidden = false;
      download.addEventListener("click", function () {
        var blob = new Blob([download.dataset.heading + "\n\n" + text + "\n"], { type: "text/plain" });
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = download.dataset.filename;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
      });
    }
    var copy = document.querySelector("[data-codes-copy]");
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(text).then(function () { copy.textContent = copy.dataset.done; });
      });
    }
  }
  // Ask before deleting.
  document.querySelectorAll("button.danger").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
