// Key tasks pages (progressive enhancement; every form works without this script):
// - a field marked data-shown-when="<select id>" is shown only while that select has a value, so the
//   review form asks for a reason only when the reviewer also marks a status;
// - a select marked data-submit submits its form when changed (the board's year and view pickers).
(function () {
  "use strict";

  function follow(field) {
    var select = document.getElementById(field.getAttribute("data-shown-when"));
    if (!select) { return; }
    var update = function () {
      var invalid = field.classList.contains("field--invalid");
      field.hidden = !select.value && !invalid;  // a field with an error stays in view
    };
    select.addEventListener("change", update);
    update();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-shown-when]"), follow);
    Array.prototype.forEach.call(document.querySelectorAll("select[data-submit]"), function (select) {
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
