// The new category combo page: updates the count as categories are ticked; without it the preview button does the same.
(function () {
  "use strict";
  var form = document.getElementById("combo-form");
  var box = document.getElementById("combo-count");
  if (!form || !box) { return; }
  form.addEventListener("change", function () {
    var codes = Array.prototype.filter.call(form.querySelectorAll('input[name="categories"]'),
      function (c) { return c.checked; }).map(function (c) { return c.value; });
    if (!codes.length) { box.textContent = ""; return; }
    fetch("/api/categoryCombos/preview?" + codes.map(function (c) { return "categories=" + encodeURIComponent(c); }).join("&"),
          {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var n = data.combinations, p = document.createElement("p");
        p.className = "alert " + (n > Number(box.dataset.limit) ? "alert--error" : "alert--info");
        p.textContent = box.dataset.text.replace("{n}", n.toLocaleString()) + " " +
          (n > Number(box.dataset.limit) ? box.dataset.refused :
           n > Number(box.dataset.warnAt) ? box.dataset.warning : "");
        box.replaceChildren(p);
      });
  });
})();
