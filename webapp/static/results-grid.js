// Keyboard entry for the marks grid (form#marks-grid), without a framework.
//
// Enter or the down arrow moves to the next student's cell, Shift+Enter or the up
// arrow to the one before; Tab moves on as usual, because the student links are out of
// the tab order. Typing "A" in a cell marks the student absent and moves down. Pasting
// several lines (a column copied from a spreadsheet) fills this cell and the ones below,
// taking the first column of each line. The server checks every mark again on saving;
// the checks here only flag a cell early.
(function () {
  "use strict";
  var form = document.getElementById("marks-grid");
  if (!form) { return; }
  var cells = Array.prototype.slice.call(form.querySelectorAll("input.mark"));
  var status = document.getElementById("grid-status");
  var maximum = parseFloat(form.dataset.max);
  var stepHundredths = Math.round(parseFloat(form.dataset.step) * 100);
  var ABSENT = /^(a|ab|abs|absent|غ|غیر ?حاضر)$/i;
  var dirty = false;

  function message(id) {
    var element = document.getElementById(id);
    return element ? element.textContent.trim() : "";
  }

  // Urdu (U+06F0..U+06F9) and Arabic-Indic (U+0660..U+0669) digits, as the server reads them.
  function asciiDigits(text) {
    return text.replace(/[\u06F0-\u06F9]/g, function (c) { return String(c.charCodeAt(0) - 0x06F0); })
      .replace(/[\u0660-\u0669]/g, function (c) { return String(c.charCodeAt(0) - 0x0660); })
      .replace(/\u066B/g, ".");
  }

  function isValid(text) {
    var value = asciiDigits(text).trim();
    if (value === "" || ABSENT.test(value)) { return true; }
    if (!/^\d+([.,]\d+)?$/.test(value)) { return false; }
    var number = parseFloat(value.replace(",", "."));
    var hundredths = number * 100;
    if (Math.abs(hundredths - Math.round(hundredths)) > 1e-6) { return false; }
    return number <= maximum && Math.round(hundredths) % stepHundredths === 0;
  }

  // A cell differs from the saved sheet when it differs from the value the page loaded
  // with (its "was-" field), also on a page shown again after a refused save.
  function differs(cell) {
    var loaded = form.elements[cell.name.replace(/^mark-/, "was-")];
    return loaded ? cell.value.trim() !== loaded.value : false;
  }

  function check(cell) {
    var valid = isValid(cell.value);
    cell.classList.toggle("is-invalid", !valid);
    cell.title = valid ? "" : message("grid-invalid");
    cell.classList.toggle("changed", differs(cell));
  }

  function changed() {
    dirty = true;
    if (status) { status.textContent = message("grid-unsaved"); }
  }

  function focusCell(index) {
    if (index < 0) { return; }
    if (index >= cells.length) {
      document.getElementById("save-marks").focus();
      return;
    }
    cells[index].focus();
    cells[index].select();
  }

  function onKeyDown(event) {
    var index = cells.indexOf(event.target);
    if (event.key === "Enter" || event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();  // Enter would otherwise submit the whole form
      var back = event.key === "ArrowUp" || (event.key === "Enter" && event.shiftKey);
      focusCell(back ? index - 1 : index + 1);
    } else if ((event.key === "a" || event.key === "A") && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      event.target.value = "A";
      check(event.target);
      changed();
      focusCell(index + 1);
    }
  }

  function onPaste(event) {
    var text = (event.clipboardData || window.clipboardData).getData("text");
    var lines = text.replace(/\r\n?/g, "\n").split("\n");
    if (lines.length && lines[lines.length - 1] === "") { lines.pop(); }  // spreadsheets end with a newline
    if (lines.length < 2) { return; }  // one value: let the browser paste it
    event.preventDefault();
    var start = cells.indexOf(event.target);
    var fitted = Math.min(lines.length, cells.length - start);
    for (var offset = 0; offset < fitted; offset += 1) {
      var cell = cells[start + offset];
      cell.value = lines[offset].split("\t")[0].trim();
      check(cell);
    }
    changed();
    if (fitted < lines.length && status) { status.textContent = message("grid-overflow"); }
    focusCell(start + fitted - 1);
  }

  cells.forEach(function (cell) {
    cell.addEventListener("keydown", onKeyDown);
    cell.addEventListener("paste", onPaste);
    cell.addEventListener("input", function () { check(cell); changed(); });
    cell.addEventListener("focus", function () { cell.select(); });
    check(cell);
  });
  if (cells.some(differs)) { changed(); }
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
})();
