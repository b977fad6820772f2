// Quiz attempt page. The page works without it (the server asks to confirm a submit with
// unanswered questions, and grades by its own deadline); this adds, in the browser:
// - the same confirmation before anything is sent, naming the unanswered questions;
// - a countdown to the server's deadline (remaining seconds computed by the server, so a wrong
//   phone clock doesn't matter) that warns at one minute and sends the answers at zero;
// - one send per press: a second tap while the first submit is on its way is ignored.
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) return;
  var warning = document.getElementById("quiz-unanswered");
  var confirmButton = document.getElementById("quiz-confirm");
  var sending = false;
  var confirmed = false;  // for browsers without SubmitEvent.submitter

  function filled(field) {
    if (field.type === "radio" || field.type === "checkbox") return field.checked;
    return field.value.trim() !== "";
  }

  // Answered: any field filled in, or every one inside an answer that needs them all
  // ([data-needs-every-field], e.g. the place of each item of an ordering question).
  function answered(item) {
    var whole = item.querySelector("[data-needs-every-field]");
    var fields = (whole || item).querySelectorAll("input, select, textarea");
    var any = false;
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "hidden") continue;
      if (filled(field)) any = true;
      else if (whole) return false;
    }
    return any;
  }

  function questions() {
    return Array.prototype.slice.call(form.querySelectorAll("li[data-question]"));
  }

  function unanswered() {
    return questions().filter(function (item) { return !answered(item); });
  }

  function mark(item, missing) {
    item.classList.toggle("unanswered", missing);
    var note = item.querySelector(".quiz-not-answered");
    if (note && !missing) note.remove();
    if (!note && missing) {
      // Said in words, not only by the coloured edge.
      note = document.createElement("p");
      note.className = "status warn quiz-not-answered";
      note.textContent = "! " + form.dataset.notAnswered;
      (item.querySelector("fieldset") || item).appendChild(note);
    }
  }

  function showWarning(missing) {
    var total = questions().length;
    warning.querySelector(".quiz-unanswered-count").textContent = form.dataset.unanswered
      .replace("{n}", String(missing.length))
      .replace("{total}", String(total));
    var list = warning.querySelector(".quiz-unanswered-list");
    list.textContent = "";
    missing.forEach(function (item) {
      var link = document.createElement("a");
      link.href = "#" + item.id;
      link.textContent = form.dataset.question.replace("{n}", item.dataset.question);
      var entry = document.createElement("li");
      entry.appendChild(link);
      list.appendChild(entry);
      mark(item, true);
    });
    warning.hidden = false;
    confirmButton.hidden = false;
    warning.scrollIntoView({ block: "start" });
    warning.focus({ preventScroll: true });
  }

  function send() {
    sending = true;
    // A lost connection must not leave the learner unable to press again.
    window.setTimeout(function () { sending = false; }, 15000);
  }

  form.addEventListener("change", function (event) {
    var item = event.target.closest("li[data-question]");
    if (item && item.classList.contains("unanswered") && answered(item)) mark(item, false);
  });
  form.addEventListener("input", function (event) {
    var item = event.target.closest("li[data-question]");
    if (item && item.classList.contains("unanswered") && answered(item)) mark(item, false);
  });

  confirmButton.addEventListener("click", function () { confirmed = true; });
  form.addEventListener("submit", function (event) {
    var confirming = confirmed || (event.submitter && event.submitter === confirmButton);
    confirmed = false;
    if (sending) {
      event.preventDefault();
      return;
    }
    if (!confirming) {
      var missing = unanswered();
      if (missing.length) {
        event.preventDefault();
        showWarning(missing);
        return;
      }
    }
    send();
  });

  // --- the countdown -------------------------------------------------------------------------
  var box = document.getElementById("quiz-deadline");
  if (!box) return;
  var remaining = parseInt(box.dataset.remaining, 10);
  if (isNaN(remaining)) return;
  var end = Date.now() + remaining * 1000;
  var clock = document.getElementById("quiz-countdown");
  var alertLine = document.getElementById("quiz-countdown-alert");
  var warned = false;
  var timer = null;

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function format(seconds) {
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
  }

  function timeUp() {
    window.clearInterval(timer);
    alertLine.textContent = box.dataset.timeUp;
    if (sending) return;
    // Graded as it is: no confirmation for unanswered questions once the time is up.
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "confirm";
    field.value = "1";
    form.appendChild(field);
    send();
    form.submit();
  }

  function tick() {
    var left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    clock.textContent = box.dataset.timeLeft.replace("{time}", format(left));
    if (left <= 60 && !warned) {
      warned = true;
      box.classList.add("quiz-deadline-near");
      if (left > 0) alertLine.textContent = box.dataset.lastMinute;
    }
    if (left <= 0) timeUp();
  }

  clock.hidden = false;
  tick();
  if (remaining > 0) timer = window.setInterval(tick, 250);

  // Back to a page kept in memory: its countdown would be stale, so ask the server again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });
})();
