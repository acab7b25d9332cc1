// The admin app's behaviour: click-to-insert variables in the template editor.
// No inline scripts anywhere, so the Content-Security-Policy can forbid them.
(function () {
  "use strict";

  var last = null;
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-template-part]")) last = e.target;
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-insert]");
    if (!button || button.disabled) return;
    e.preventDefault();
    var field = last || document.querySelector("[data-template-part]");
    if (!field) return;
    var text = button.getAttribute("data-insert");
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    field.setRangeText(text, start, end, "end");
    field.focus();
    // The preview listens for typing; an insertion is typing too.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
