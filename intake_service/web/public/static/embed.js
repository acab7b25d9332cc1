// An embedded form (/embed/...) tells the clinic's page around it how tall it is, so the iframe
// can fit it without a scroll bar of its own, and that the form was sent, so the site can count
// a conversion. The messages carry no health information: {type: "intake:resize", height} and
// {type: "intake:submitted"}. They go only to a parent whose origin is in data-parent-origins
// (EMBED_ORIGINS), named as postMessage's targetOrigin, never "*".
(function () {
  "use strict";
  var body = document.body;
  var allowed = (body.getAttribute("data-parent-origins") || "").split(" ").filter(Boolean);
  if (window.parent === window || allowed.length === 0) {
    return; // not in a frame, or no site may frame this page
  }

  function originOf(url) {
    try {
      return new URL(url).origin;
    } catch (error) {
      return null;
    }
  }

  function isAllowed(origin) {
    return Boolean(origin) && allowed.indexOf(origin) !== -1;
  }

  function parentOrigin() {
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length > 0) {
      // Chromium and Safari say who the parent is: trust that, and nothing else.
      return isAllowed(ancestors[0]) ? ancestors[0] : null;
    }
    var referrer = originOf(document.referrer);
    if (isAllowed(referrer)) {
      return referrer;
    }
    // After a post (or the language switch) the referrer is this site's own page: the first
    // page passed the origin on, and the server gave it back only if it is in the list.
    var carried = body.getAttribute("data-parent-origin");
    return isAllowed(carried) ? carried : null;
  }

  var target = parentOrigin();
  if (!target) {
    return;
  }
  function tell(message) {
    window.parent.postMessage(message, target);
  }

  // Pass the origin on to the next page in this frame, for browsers without ancestorOrigins.
  Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), function (form) {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "parent_origin";
    field.value = target;
    form.appendChild(field);
  });
  Array.prototype.forEach.call(document.querySelectorAll("a.lang"), function (link) {
    var url = new URL(link.href);
    url.searchParams.set("parent_origin", target);
    link.href = url.toString();
  });

  var lastHeight = -1;
  function reportHeight() {
    // The html element is as tall as the content (the embedded body has no min-height), so
    // the frame growing to fit does not make the page taller again.
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      tell({ type: "intake:resize", height: height });
    }
  }

  reportHeight();
  if (typeof window.ResizeObserver === "function") {
    new window.ResizeObserver(reportHeight).observe(document.documentElement);
  } else {
    window.addEventListener("resize", reportHeight);
  }
  window.addEventListener("load", reportHeight); // fonts and images settled
  if (body.hasAttribute("data-intake-submitted")) {
    tell({ type: "intake:submitted" });
  }
})();
