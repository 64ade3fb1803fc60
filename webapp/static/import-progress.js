// Poll an import job's progress once a second and reload the page when it ends.
(function () {
  "use strict";
  var box = document.getElementById("progress-box");
  if (!box) { return; }
  var bar = document.getElementById("progress-bar");
  var phase = document.getElementById("progress-phase");
  var count = document.getElementById("progress-count");

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.finished) { window.location.reload(); return; }
        bar.value = data.percent;
        phase.textContent = data.phase;
        count.textContent = data.total ? data.done + " / " + data.total : "";
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
