// Load the chart bundle only when asked (worker pages keep their script budget small).
(function () {
  "use strict";
  var loader = document.getElementById("chart-loader");
  var buttons = document.querySelectorAll("[data-load-charts]");
  if (!loader) return;
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      Array.prototype.forEach.call(buttons, function (b) { b.hidden = true; });
      var script = document.createElement("script");
      script.src = loader.dataset.src;
      document.head.appendChild(script);
    });
  });
})();
