// The message page: the body flows with the page, and the "More" menu closes on Escape.
// Without this script the frame has a fixed height and scrolls inside; the menu is a
// plain <details>. Nothing here runs in the frame: its sandbox has no allow-scripts.
// allow-same-origin lets this script read the frame's document to measure it
// (docs/reading.md explains why that is safe).
(function () {
  "use strict";

  // The "More" menu: Escape closes it and gives the focus back to its button;
  // a click elsewhere closes it too.
  document.querySelectorAll("details[data-menu]").forEach(function (menu) {
    var summary = menu.querySelector("summary");
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        summary.focus();
        event.preventDefault();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
    // An item chosen (a download stays on the page): the menu closes after it acts.
    menu.querySelectorAll(".item").forEach(function (item) {
      item.addEventListener("click", function () {
        setTimeout(function () { menu.open = false; }, 0);
      });
    });
  });

  var frame = document.querySelector("iframe.message-frame");
  if (!frame) return;
  // Smallest scale a wide message is shrunk to; wider still, it scrolls sideways inside its frame.
  var MIN_SCALE = 0.3;
  // Growth that answers only the frame's own new height (a message sized in
  // "vh") would never end: after this many such steps in a row, the height stays.
  var MAX_CHAIN = 4;
  var chain = 0;
  var observer = null;
  var pending = false;

  function documentOf() {
    try {
      var doc = frame.contentDocument;
      return doc && doc.documentElement && doc.body ? doc : null;
    } catch (e) {
      return null; // a browser that keeps the frame apart from the page: it stays as it is
    }
  }

  // Scale a message wider than the frame down to its width, as mail apps do.
  function fitWidth(doc) {
    var root = doc.documentElement;
    if (!("zoom" in root.style)) return;
    root.style.zoom = "";
    var wide = root.scrollWidth;
    var room = root.clientWidth;
    if (wide > room + 1) {
      root.style.zoom = String(Math.max(MIN_SCALE, Math.floor((room / wide) * 1000) / 1000));
    }
  }

  function fitHeight(doc) {
    var root = doc.documentElement;
    var outer = frame.getBoundingClientRect().height;
    // The frame's borders, and a sideways scroll bar (a message too wide even
    // scaled), take room from what the frame shows.
    var height = Math.ceil(root.scrollHeight + Math.max(0, outer - root.clientHeight));
    if (Math.abs(height - outer) < 1) return false;
    frame.style.height = height + "px";
    return height > outer;
  }

  function fit(fromObserver) {
    var doc = documentOf();
    if (!doc) return;
    if (!fromObserver) chain = 0;
    else if (chain >= MAX_CHAIN) return;
    fitWidth(doc);
    var grew = fitHeight(doc);
    if (fromObserver && grew) chain += 1;
    frame.classList.add("sized");
  }

  function later(fromObserver) {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      fit(fromObserver);
    });
  }

  function watch() {
    var doc = documentOf();
    if (!doc) return;
    fit(false);
    // Images load after the document; each one may change its height.
    doc.querySelectorAll("img").forEach(function (img) {
      if (!img.complete) img.addEventListener("load", function () { later(false); });
    });
    if (doc.fonts && doc.fonts.ready) doc.fonts.ready.then(function () { later(false); });
    // The reader opened something in the message (a <details>): its growth is wanted.
    doc.addEventListener("click", function () { chain = 0; });
    if (observer) observer.disconnect();
    if (window.ResizeObserver) {
      observer = new ResizeObserver(function () { later(true); });
      observer.observe(doc.body);
    }
  }

  frame.addEventListener("load", watch);
  // The frame may have loaded before this script ran.
  var ready = documentOf();
  if (ready && ready.readyState === "complete" && ready.URL !== "about:blank") watch();
  window.addEventListener("resize", function () { later(false); });
})();
