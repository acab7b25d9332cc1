// Moves focus to the error summary after a failed send, so a screen reader reads every error
// first and a keyboard user starts from the list of links to the fields. The summary also has
// the autofocus attribute, which does the same where this script does not run.
(function () {
  "use strict";
  function focusSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary && document.activeElement !== summary) {
      summary.focus();
    }
  }
  // A link in the summary moves focus into its field, not just the scroll position (Safari
  // scrolls to a fragment without focusing the input).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-error-summary] a[href^='#']");
    if (!link) {
      return;
    }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      event.preventDefault();
      target.focus();
      target.scrollIntoView({ block: "center" });
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
})();
