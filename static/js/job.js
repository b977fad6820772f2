// Poll a background job's status and update the progress bar; reload the page when it ends.
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status]");
  if (!box || box.dataset.jobState === "done" || box.dataset.jobState === "failed") return;
  var bar = box.querySelector("progress");
  function poll() {
    fetch(box.dataset.jobStatus, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (bar) { bar.value = s.percent; bar.textContent = s.percent + "%"; }
        if (s.finished) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
