// Small progressive enhancements; every page works without this script.
(function () {
  "use strict";
  // Show times in the reader's own time zone.
  // "day": a date alone ("2 Dec"), with the year only when it is not this year.
  // "brief": a list's date, see brief() below.
  var formats = {
    short: { dateStyle: "medium", timeStyle: "short" },
    long: { dateStyle: "full", timeStyle: "long" },
    day: { day: "numeric", month: "short" },
    "day-long": { day: "numeric", month: "long" }
  };
  // In the page's language (the server chose it), not the browser's.
  var language = document.documentElement.lang || undefined;
  var now = new Date();
  var thisYear = now.getFullYear();
  function dayNumber(d) { return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) / 864e5; }
  var today = dayNumber(now);
  // A date as a mail app's list shows it: the time today ("14:05"), "Yesterday"
  // (the server's word, in data-yesterday), else the day ("3 Dec"), with the year
  // when not this year. The same rule as the `brief` template filter, which
  // writes the page in the portal's time zone; this is the reader's own.
  function brief(el, when) {
    var days = today - dayNumber(when);
    var text;
    if (days === 0) {
      text = when.toLocaleTimeString(language, { timeStyle: "short" });
    } else if (days === 1 && el.dataset.yesterday) {
      text = el.dataset.yesterday;
    } else {
      text = when.toLocaleDateString(language, when.getFullYear() === thisYear ?
        formats.day : Object.assign({ year: "numeric" }, formats.day));
    }
    // The full date and time on hover, and for screen readers instead of the short form.
    var full = when.toLocaleString(language, { dateStyle: "full", timeStyle: "short" });
    var shown = document.createElement("span");
    shown.setAttribute("aria-hidden", "true");
    shown.textContent = text;
    var spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    spoken.textContent = full;
    el.replaceChildren(shown, spoken);
    el.title = full;
  }
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    var kind = el.dataset.local;
    var format = formats[kind];
    if (isNaN(when) || !(format || kind === "brief")) return;
    try {
      if (kind === "brief") {
        brief(el, when);
        return;
      }
      if (format.day && when.getFullYear() !== thisYear) {
        format = Object.assign({ year: "numeric" }, format);
      }
      el.textContent = when.toLocaleString(language, format);
      el.title = when.toString();
    } catch (e) { /* keep the server's text */ }
  });
  // The inbox's selection: "Select all", the count ("2 selected", for screen
  // readers too), and the actions, shown only while something is ticked.
  // Without script every action is shown and the server asks for a selection.
  document.querySelectorAll("[data-selection]").forEach(function (bar) {
    var all = bar.querySelector("[data-select-all]");
    var count = bar.querySelector("[data-counts]");
    var actions = bar.querySelector("[data-selection-actions]");
    var counts = [];
    try { counts = JSON.parse(count.dataset.counts); } catch (e) { /* the number alone */ }
    var boxes = bar.closest("form").querySelectorAll("input[name=ids]");
    function update() {
      var ticked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
      bar.classList.toggle("selecting", ticked > 0);
      actions.hidden = ticked === 0;
      count.textContent = ticked ? counts[ticked] || String(ticked) : "";
    }
    all.closest("label").hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    // A toolbar's arrow keys: left and right move between its controls (mirrored right to left).
    bar.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      var controls = Array.prototype.filter.call(bar.querySelectorAll("input, button"), function (c) {
        return c.offsetParent !== null;
      });
      var at = controls.indexOf(document.activeElement);
      if (at < 0) return;
      var forward = (event.key === "ArrowRight") !== (getComputedStyle(bar).direction === "rtl");
      var next = controls[(at + (forward ? 1 : controls.length - 1)) % controls.length];
      next.focus();
      event.preventDefault();
    });
    update();
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
