// Progressive enhancement for the unit tree: open a node in place instead of reloading.
// Without this script the toggles are ordinary links that reload the page with ?open=.
(function () {
  "use strict";

  function openCodes(tree) {
    return Array.prototype.map.call(
      tree.querySelectorAll('.tree__toggle[aria-expanded="true"]'),
      function (a) { return a.closest(".tree__node").dataset.code; }
    );
  }

  function remember(tree) {
    var codes = openCodes(tree).join(",");
    var hidden = document.querySelector('form.toolbar input[name="open"]');
    if (hidden) { hidden.value = codes; }
    var url = new URL(window.location.href);
    url.searchParams.set("open", codes);
    url.searchParams.set("as_of", tree.dataset.asOf);
    window.history.replaceState(null, "", url);
  }

  function setLabel(toggle, open) {
    var label = toggle.getAttribute(open ? "data-label-close" : "data-label-open");
    if (label) { toggle.setAttribute("aria-label", label); }
  }

  function toggleNode(tree, toggle) {
    var node = toggle.closest(".tree__node");
    var list = node.querySelector(":scope > .tree__level");
    var opening = toggle.getAttribute("aria-expanded") !== "true";
    if (!opening) {
      if (list) { list.hidden = true; }
      toggle.setAttribute("aria-expanded", "false");
      setLabel(toggle, false);
      remember(tree);
      return Promise.resolve();
    }
    if (list) {
      list.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      setLabel(toggle, true);
      remember(tree);
      return Promise.resolve();
    }
    toggle.setAttribute("aria-busy", "true");
    return fetch(toggle.dataset.fragment, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        node.insertAdjacentHTML("beforeend", html);
        toggle.setAttribute("aria-expanded", "true");
        setLabel(toggle, true);
        remember(tree);
      })
      .catch(function () { window.location.href = toggle.href; })
      .finally(function () { toggle.removeAttribute("aria-busy"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tree = document.querySelector(".tree[data-as-of]");
    if (!tree) { return; }
    tree.addEventListener("click", function (event) {
      var toggle = event.target.closest(".tree__toggle");
      if (!toggle || !toggle.dataset.fragment) { return; }
      event.preventDefault();
      toggleNode(tree, toggle);
    });
  });
})();
