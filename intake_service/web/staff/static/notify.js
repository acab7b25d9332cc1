// Notifications on every staff page: the count in the title, and a chime if the user asked.
// The badge element (#notify) is re-fetched by htmx; its data-total is what is new since the
// page was opened, plus urgent leads nobody has acknowledged.
(function () {
  "use strict";

  var KEY = "staff.sound";
  var baseTitle = document.title;
  var last = null;
  var toggle = document.getElementById("sound-toggle");
  var audio = null;

  function soundOn() {
    try { return window.localStorage.getItem(KEY) === "on"; } catch (e) { return false; }
  }

  function showToggle() {
    if (!toggle) return;
    var on = soundOn();
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? "Sound on" : "Sound off";
  }

  function chime() {
    if (!soundOn() || !toggle) return;
    if (!audio) audio = new Audio(toggle.getAttribute("data-src"));
    audio.currentTime = 0;
    // Browsers refuse sound before the user has touched the page; the badge still shows.
    var played = audio.play();
    if (played && played.catch) played.catch(function () {});
  }

  if (toggle) {
    toggle.addEventListener("click", function () {
      try { window.localStorage.setItem(KEY, soundOn() ? "off" : "on"); } catch (e) { return; }
      showToggle();
      if (soundOn()) chime(); // the click allows sound, and lets them hear it
    });
    showToggle();
  }

  function update() {
    var badge = document.getElementById("notify");
    if (!badge) return;
    var total = parseInt(badge.getAttribute("data-total") || "0", 10) || 0;
    document.title = total ? "(" + total + ") " + baseTitle : baseTitle;
    if (last !== null && total > last) chime();
    last = total;
  }

  document.body.addEventListener("htmx:afterSwap", update);
  document.body.addEventListener("htmx:afterSettle", update);
  update();
})();
