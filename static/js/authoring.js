// Live Markdown preview for the lesson editor. The page works without it: the "Preview"
// button posts the form and the server renders the same sanitised HTML.
(function () {
  "use strict";
  var preview = document.getElementById("markdown-preview");
  var input = document.querySelector("textarea.markdown-input");
  if (!preview || !input || !window.fetch || !window.FormData) return;
  var url = preview.dataset.previewUrl;
  var tokenField = document.querySelector("#lesson-form input[name=csrf_token]");
  var token = tokenField ? tokenField.value : "";
  var timer = null;
  var sent = 0;

  function refresh() {
    var ticket = ++sent;
    var body = new FormData();
    body.append("body", input.value);
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token },
      body: body,
    })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        // The server returns HTML sanitised by nh3 (render_markdown); only the newest answer counts.
        if (ticket === sent) preview.innerHTML = data.html;
      })
      .catch(function () { /* keep the last preview; the Preview button still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
