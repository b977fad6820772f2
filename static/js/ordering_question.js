// Ordering questions on the quiz page (templates/learning/questions/ordering.html). Without
// JavaScript the learner gives each item its place with a select; this adds, per item, "move
// up" and "move down" buttons (big enough for a gloved thumb). Moving an item numbers every
// item in the order shown, and choosing places that put every item in its own place shows the
// items in that order, so the list and the selects always agree.
(function () {
  "use strict";

  function items(list) {
    return Array.prototype.slice.call(list.querySelectorAll(":scope > li"));
  }

  function placeOf(item) {
    return parseInt(item.querySelector("select").value, 10);
  }

  function changed(list) {
    // quiz.js listens for changes to clear a question's "not answered" mark.
    list.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function numberAsShown(list) {
    items(list).forEach(function (item, i) {
      item.querySelector("select").value = String(i + 1);
    });
    changed(list);
  }

  function showByPlace(list) {
    var all = items(list);
    var seen = {};
    for (var i = 0; i < all.length; i++) {
      var place = placeOf(all[i]);
      if (isNaN(place) || seen[place]) return; // not every item has its own place yet
      seen[place] = true;
    }
    all.sort(function (a, b) { return placeOf(a) - placeOf(b); });
    all.forEach(function (item) { list.appendChild(item); });
  }

  function move(item, step) {
    var list = item.parentNode;
    var other = step < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (!other) return;
    list.insertBefore(item, step < 0 ? other : other.nextElementSibling);
    numberAsShown(list);
  }

  function button(label, text, onPress) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "icon-button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.title = label;
    b.addEventListener("click", onPress);
    return b;
  }

  Array.prototype.forEach.call(document.querySelectorAll("ol[data-ordering]"), function (list) {
    items(list).forEach(function (item) {
      var text = item.querySelector(".ordering-text").textContent.trim();
      var moves = document.createElement("span");
      moves.className = "ordering-moves";
      moves.appendChild(button(list.dataset.moveUp.replace("{item}", text), "↑", function (event) {
        move(item, -1);
        event.currentTarget.focus();
      }));
      moves.appendChild(button(list.dataset.moveDown.replace("{item}", text), "↓", function (event) {
        move(item, 1);
        event.currentTarget.focus();
      }));
      item.appendChild(moves);
    });
    list.addEventListener("change", function (event) {
      if (event.target.tagName === "SELECT") showByPlace(list);
    });
    showByPlace(list); // back from the server with every place chosen: show them in order
  });
})();
