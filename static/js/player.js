// Lesson player: saves reading/video progress in the background. The page works without it
// ("Done, next lesson" posts a form); this only makes progress and resume automatic.
(function () {
  "use strict";
  var lesson = document.getElementById("lesson");
  if (!lesson || !window.fetch) return;
  var url = lesson.dataset.progressUrl;
  var tokenField = document.querySelector("input[name=csrf_token]");
  var token = tokenField ? tokenField.value : "";
  var state = document.getElementById("save-state");
  var video = lesson.querySelector("video");
  var best = 0;
  var lastSent = -1;
  var lastPosition = 0;

  function readPercent() {
    if (video && video.duration) return Math.floor((100 * video.currentTime) / video.duration);
    var rect = lesson.getBoundingClientRect();
    var seen = window.innerHeight - rect.top;
    return Math.max(0, Math.min(100, Math.floor((100 * seen) / Math.max(rect.height, 1))));
  }

  function save() {
    best = Math.max(best, readPercent());
    var position = video ? video.currentTime : 0;
    if (best === lastSent && Math.abs(position - lastPosition) < 5) return;
    lastSent = best;
    lastPosition = position;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ percent: best, position: position }),
    })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        if (state) state.textContent = (data.completed ? "✓ " : "") + (state.dataset.saved || "✓");
      })
      .catch(function () { lastSent = -1; });  // retried on the next tick
  }

  if (video) {
    var start = parseFloat(video.dataset.position || "0");
    if (start > 0) video.addEventListener("loadedmetadata", function () { video.currentTime = start; });
  }
  window.addEventListener("scroll", function () { best = Math.max(best, readPercent()); }, { passive: true });
  setInterval(save, 10000);
  document.addEventListener("visibilitychange", function () { if (document.hidden) save(); });
})();
