// The staff app's behaviour: the inbox's live rows and keyboard (notify.js has the badge).
// No inline scripts anywhere, so a strict Content-Security-Policy can forbid them.
(function () {
  "use strict";

  var table = document.getElementById("leads");
  if (!table) return;
  var newRows = document.getElementById("new-rows");
  var live = document.getElementById("live");
  var hovered = null;
  var anchor = null;

  function rows() { return Array.prototype.slice.call(table.querySelectorAll("tr.lead-row")); }
  function selected() { return table.querySelector("tr.lead-row.selected"); }

  // Rows arrive at the top; keep the row under the pointer (or the selected one) where it
  // was on screen, by scrolling as much as the new rows pushed it down.
  table.addEventListener("mouseover", function (e) { hovered = e.target.closest("tr.lead-row"); });
  table.addEventListener("mouseleave", function () { hovered = null; });

  document.body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target !== newRows) return;
    var keep = hovered || selected();
    anchor = keep ? { row: keep, top: keep.getBoundingClientRect().top } : null;
  });

  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target !== newRows) return;
    // A lead already on the page (an overlap between polls) keeps its first row.
    var seen = {};
    rows().forEach(function (row) {
      var id = row.getAttribute("data-lead-id");
      if (seen[id]) { row.remove(); } else { seen[id] = true; }
    });
    if (anchor && document.body.contains(anchor.row)) {
      var moved = anchor.row.getBoundingClientRect().top - anchor.top;
      if (moved) window.scrollBy(0, moved);
    }
    anchor = null;
    var fresh = newRows.querySelectorAll("tr.is-fresh:not(.counted)");
    if (fresh.length) {
      var empty = document.getElementById("empty");
      if (empty) empty.remove();
      Array.prototype.forEach.call(fresh, function (r) { r.classList.add("counted"); });
    }
  });

  // "due in 12 min" counts down while the page stays open, and becomes the overdue badge when
  // the deadline passes. Counted from the seconds left when the server rendered the row, so a
  // wrong clock on this computer changes nothing. Same wording as inbox.due_label.
  var seenAt = new WeakMap();
  function dueLabel(left) {
    if (left < 60) return "due in under a minute";
    if (left < 3600) return "due in " + Math.floor(left / 60) + " min";
    if (left < 86400) return "due in " + Math.floor(left / 3600) + " h";
    var days = Math.floor(left / 86400);
    return "due in " + days + " day" + (days !== 1 ? "s" : "");
  }
  function tickDue() {
    var now = Date.now();
    Array.prototype.forEach.call(table.querySelectorAll(".due[data-left]"), function (hint) {
      if (!seenAt.has(hint)) seenAt.set(hint, now);
      var left = parseInt(hint.getAttribute("data-left"), 10) - (now - seenAt.get(hint)) / 1000;
      if (left > 0) {
        var text = dueLabel(left);
        if (hint.textContent !== text) hint.textContent = text;
        return;
      }
      var badge = document.createElement("span");
      badge.className = "badge overdue";
      badge.textContent = "overdue";
      badge.title = (hint.getAttribute("title") || "").replace("First contact due", "First contact was due");
      hint.replaceWith(badge);
    });
  }
  tickDue();
  window.setInterval(tickDue, 20000);
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target === newRows) tickDue();
  });

  function setLive(ok) {
    if (!live) return;
    live.classList.toggle("offline", !ok);
    var text = live.querySelector(".live-text");
    var now = new Date();
    var hhmm = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    text.textContent = ok ? "Live · checked " + hhmm : "Offline · retrying";
  }
  document.body.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.elt && e.detail.elt.id === "inbox-poller") setLive(e.detail.successful);
  });
  document.body.addEventListener("htmx:sendError", function () { setLive(false); });

  // Keyboard: j/k move, Enter opens, c claims, / searches, ? shows the list. Off while typing.
  var dialog = document.getElementById("keys");
  var showKeys = document.getElementById("show-keys");
  if (showKeys && dialog) showKeys.addEventListener("click", function () { dialog.showModal(); });

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function select(row) {
    var old = selected();
    if (old) old.classList.remove("selected");
    if (!row) return;
    row.classList.add("selected");
    var link = row.querySelector("a.open");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (dialog && dialog.open && e.key !== "?") return;
    var all = rows();
    var current = selected();
    var at = current ? all.indexOf(current) : -1;
    if (e.key === "j") { select(all[Math.min(at + 1, all.length - 1)]); e.preventDefault(); }
    else if (e.key === "k") { select(all[Math.max(at - 1, 0)]); e.preventDefault(); }
    else if (e.key === "Enter" && current && e.target === document.body) {
      var link = current.querySelector("a.open"); if (link) link.click();
    }
    else if (e.key === "c" && current) {
      var claim = current.querySelector("form.claim button");
      if (claim) { claim.click(); e.preventDefault(); }
    }
    else if (e.key === "/") { var q = document.getElementById("q"); if (q) { q.focus(); e.preventDefault(); } }
    else if (e.key === "?") {
      if (dialog) { if (dialog.open) dialog.close(); else dialog.showModal(); }
      e.preventDefault();
    }
  });

  // Focus moving into a row (Tab, or a click) selects it, so c claims what you are on.
  table.addEventListener("focusin", function (e) {
    var row = e.target.closest("tr.lead-row");
    if (row && row !== selected()) {
      var old = selected(); if (old) old.classList.remove("selected");
      row.classList.add("selected");
    }
  });
})();
