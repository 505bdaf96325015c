// Takedown's one script beside htmx (the CSP allows scripts from this site only).
(function () {
  "use strict";
  // 1. Times in the reader's own time zone: the browser's setting is told to the
  //    server once, in a cookie; the footer's form changes it.
  var cookie = "takedown_tz";
  if (document.cookie.split("; ").every(function (c) { return c.indexOf(cookie + "=") !== 0; })) {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
        document.cookie = cookie + "=" + zone + "; path=/; max-age=31536000; samesite=lax";
      }
    } catch (e) { /* an old browser: the server's zone is used */ }
  }
  // 2. The queue refreshes itself, but never under a handler who is filling in
  //    one of its forms (the refresh would throw the typing away).
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var queue = document.getElementById("queue");
    if (!queue || evt.detail.elt !== queue) { return; }
    var active = document.activeElement;
    var typing = active && active !== document.body && queue.contains(active);
    if (typing || queue.querySelector("details[open]")) { evt.preventDefault(); }
  });
})();
