// The daily register: live counts of each status, "mark everyone present", and the leave
// reason focused as soon as a student is marked on leave. Without JavaScript the form
// still works; only these conveniences are missing.
(function () {
  "use strict";
  var form = document.getElementById("attendance-register");
  if (!form) {
    return;
  }

  function updateCounts() {
    var counts = {};
    form.querySelectorAll("input.btn-check:checked").forEach(function (input) {
      counts[input.value] = (counts[input.value] || 0) + 1;
    });
    document.querySelectorAll("#register-counts [data-status]").forEach(function (badge) {
      badge.querySelector(".count").textContent = counts[badge.dataset.status] || 0;
    });
  }

  form.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.classList.contains("btn-check")) {
      return;
    }
    updateCounts();
    if (input.value === "leave") {
      var reason = input.closest("tr").querySelector(".leave-reason");
      if (reason) {
        reason.focus();
      }
    }
  });

  var allPresent = document.getElementById("all-present");
  if (allPresent) {
    allPresent.addEventListener("click", function () {
      form.querySelectorAll("input.status-present").forEach(function (input) {
        input.checked = true;
      });
      updateCounts();
    });
  }
})();
