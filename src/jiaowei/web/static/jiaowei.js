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

// Scrollable boxes (.table-wrap, pre.json): a box whose content overflows it becomes a named region
// the keyboard can reach (tabindex="0", role="region", aria-label), so that it can be scrolled with the
// arrow keys (WCAG 2.1.1; axe's scrollable-region-focusable). A box that fits is left alone, so wide
// screens get no extra tab stops. Checked again when the window is resized and when a <details> opens.
// The name: the table's caption, the term of the <dd> the box is in, the nearest heading above it, or
// (none of these) the translated words on <body data-scroll-table / data-scroll-text>.
(function () {
  "use strict";

  var BOXES = ".table-wrap, pre.json";
  var MARK = "data-scroll-region";  // "named" when this script also gave the aria-label

  function overflows(box) {
    return box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
  }

  function text(node) {
    return node ? node.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function headingAbove(box) {
    var found = null;
    Array.prototype.forEach.call(document.querySelectorAll("h1, h2, h3, h4, h5, h6"), function (h) {
      if (!box.contains(h) && (h.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING)) { found = h; }
    });
    return found;
  }

  function term(box) {
    var dd = box.closest("dd");
    var dt = dd && dd.previousElementSibling;
    return dt && dt.tagName === "DT" ? dt : null;
  }

  function nameOf(box) {
    var fallback = document.body.getAttribute(box.tagName === "PRE" ? "data-scroll-text" : "data-scroll-table");
    return text(box.querySelector("caption")) || text(term(box)) || text(headingAbove(box)) || fallback || "";
  }

  function makeReachable(box) {
    var named = !box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby");
    box.setAttribute(MARK, named ? "named" : "");
    box.setAttribute("tabindex", "0");
    box.setAttribute("role", "region");
    if (named) { box.setAttribute("aria-label", nameOf(box)); }
  }

  function leave(box) {
    if (box.getAttribute(MARK) === "named") { box.removeAttribute("aria-label"); }
    ["tabindex", "role", MARK].forEach(function (name) { box.removeAttribute(name); });
  }

  function update(box) {
    var mine = box.hasAttribute(MARK);
    if (overflows(box)) {
      if (!mine && !box.hasAttribute("tabindex")) { makeReachable(box); }
    } else if (mine) {
      leave(box);
    }
  }

  function updateAll() {
    Array.prototype.forEach.call(document.querySelectorAll(BOXES), update);
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateAll();
    window.addEventListener("load", updateAll);
    window.addEventListener("resize", updateAll);
    document.addEventListener("toggle", updateAll, true);  // a <details> opened or closed
  });
})();
