// Authoring keeps the author's work. Leaving a lesson or question form (data-unsaved-warning)
// with unsaved changes asks first. In the lesson editor, which without this script is one form
// whose upload buttons post the text as typed with the file, images and files upload in the
// background instead (the page and its text stay as they are), an image's Markdown goes where
// the cursor is, and a file over its limit is refused before it is sent.
(function () {
  "use strict";
  var form = document.querySelector("form[data-unsaved-warning]");
  if (!form) return;
  var tokenField = form.querySelector("input[name=csrf_token]");
  var token = tokenField ? tokenField.value : "";
  var text = form.querySelector("textarea.markdown-input");
  var textTouched = false; // a textarea never focused has no cursor the author chose
  var dirty = false;
  var uploading = 0;

  Array.prototype.forEach.call(document.querySelectorAll("[data-with-script]"), function (el) {
    el.hidden = false;
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-without-script]"), function (el) {
    el.hidden = true;
  });

  // --- unsaved changes -------------------------------------------------------------------

  function markDirty() { dirty = true; }
  form.addEventListener("input", markDirty);
  form.addEventListener("change", markDirty);
  if (text) {
    text.addEventListener("focus", function () { textTouched = true; });
  }

  // Saving is expected to leave the page; `beforeSave` (uploads, below) may stop it first.
  var beforeSave = null;
  form.addEventListener("submit", function (event) {
    if (beforeSave && !beforeSave()) {
      event.preventDefault();
      return;
    }
    dirty = false;
  });

  window.addEventListener("beforeunload", function (event) {
    if (!dirty && !uploading) return undefined;
    var message = form.dataset.unsavedWarning || "";
    event.preventDefault();
    event.returnValue = message; // browsers show their own wording
    return message;
  });

  // --- uploads (the lesson editor of an existing lesson) -----------------------------------

  if (!document.querySelector("[data-upload]") || !window.fetch || !window.FormData) return;

  // --- status next to each upload field --------------------------------------------------

  function say(box, message, isError) {
    var status = box.querySelector(".upload-status");
    if (!status) return;
    status.textContent = message || "";
    status.classList.toggle("error", Boolean(isError));
    var input = box.querySelector("input[type=file]");
    if (input) {
      if (isError) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function tooLarge(box) {
    var input = box.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    return Boolean(file && file.size > Number(box.dataset.limit));
  }

  // Saving with a chosen file sends it too: refuse one over its limit before it is sent (the
  // server would refuse it after the whole upload, or answer 413 without the text).
  beforeSave = function () {
    var boxes = document.querySelectorAll("[data-upload]");
    for (var i = 0; i < boxes.length; i++) {
      if (tooLarge(boxes[i])) {
        say(boxes[i], boxes[i].dataset.tooLarge, true);
        boxes[i].querySelector("input[type=file]").focus();
        return false;
      }
    }
    return true;
  };

  // --- the image's Markdown at the cursor --------------------------------------------------

  function insertAtCursor(area, markdown) {
    var value = area.value;
    var start = textTouched ? area.selectionStart : value.length;
    var end = textTouched ? area.selectionEnd : value.length;
    var before = value.slice(0, start);
    var after = value.slice(end);
    // The image is a paragraph of its own: a blank line before and after it.
    var lead = before === "" || /\n\n$/.test(before) ? "" : /\n$/.test(before) ? "\n" : "\n\n";
    var trail = after === "" ? "\n" : /^\n\n/.test(after) ? "" : /^\n/.test(after) ? "\n" : "\n\n";
    var inserted = before + lead + markdown + trail;
    area.value = inserted + after;
    area.setSelectionRange(inserted.length, inserted.length);
    textTouched = true;
    // The live preview refreshes, and the change counts as unsaved.
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // --- the lesson's video or document, after a background upload ---------------------------

  function showMedia(url) {
    var view = document.querySelector("[data-media-view]");
    if (!view || !url) return;
    while (view.firstChild) view.removeChild(view.firstChild);
    if (view.dataset.mediaView === "video") {
      var video = document.createElement("video");
      video.controls = true;
      video.preload = "metadata";
      video.className = "media";
      video.src = url;
      view.appendChild(video);
    } else {
      var p = document.createElement("p");
      var link = document.createElement("a");
      link.className = "button";
      link.href = url;
      link.textContent = view.dataset.open;
      p.appendChild(link);
      view.appendChild(p);
    }
    var status = document.createElement("p");
    status.className = "status ok";
    var icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "✓";
    status.appendChild(icon);
    status.appendChild(document.createTextNode(" " + view.dataset.uploaded));
    view.appendChild(status);
  }

  // --- background uploads ------------------------------------------------------------------

  function upload(box, button) {
    var kind = box.dataset.upload;
    var input = box.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    if (!file) {
      say(box, box.dataset.missing, true);
      if (input) input.focus();
      return;
    }
    if (tooLarge(box)) {
      say(box, box.dataset.tooLarge, true);
      input.focus();
      return;
    }
    var alt = kind === "image" ? box.querySelector("input[name=alt]") : null;
    var body = new FormData();
    body.append("csrf_token", token);
    body.append(input.name, file, file.name);
    if (alt) body.append("alt", alt.value);
    var progress = box.querySelector("progress");
    button.disabled = true; // one upload per click
    if (progress) progress.hidden = false;
    uploading += 1;
    say(box, form.dataset.uploading, false);
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
      body: body,
    })
      .then(function (response) {
        return response.json().then(
          function (data) { return { ok: response.ok, data: data || {} }; },
          function () { return { ok: false, data: {} }; }
        );
      })
      .then(function (answer) {
        if (!answer.ok) {
          say(box, answer.data.error || form.dataset.failed, true);
          return;
        }
        if (kind === "image" && text) {
          insertAtCursor(text, answer.data.markdown);
          if (alt) alt.value = "";
        } else {
          showMedia(answer.data.url);
        }
        input.value = "";
        say(box, answer.data.message, false);
      })
      .catch(function () { say(box, form.dataset.failed, true); })
      .then(function () {
        uploading -= 1;
        button.disabled = false;
        if (progress) progress.hidden = true;
      });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-upload]"), function (box) {
    var button = box.querySelector("button[type=submit]");
    if (!button) return;
    button.addEventListener("click", function (event) {
      event.preventDefault(); // no page load: the text stays as it is
      upload(box, button);
    });
    var input = box.querySelector("input[type=file]");
    if (input) {
      input.addEventListener("change", function () {
        say(box, tooLarge(box) ? box.dataset.tooLarge : "", tooLarge(box));
      });
    }
  });
})();
