// Small progressive enhancements; every page works without this script.
(function () {
  "use strict";
  // Show times in the reader's own time zone.
  // "day": a date alone ("2 Dec"), with the year only when it is not this year.
  var formats = {
    short: { dateStyle: "medium", timeStyle: "short" },
    long: { dateStyle: "full", timeStyle: "long" },
    day: { day: "numeric", month: "short" },
    "day-long": { day: "numeric", month: "long" }
  };
  // In the page's language (the server chose it), not the browser's.
  var language = document.documentElement.lang || undefined;
  var thisYear = new Date().getFullYear();
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    var format = formats[el.dataset.local];
    if (isNaN(when) || !format) return;
    if (format.day && when.getFullYear() !== thisYear) {
      format = Object.assign({ year: "numeric" }, format);
    }
    try {
      el.textContent = when.toLocaleString(language, format);
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
