// The unit picker and the period picker of the filter forms (templates/_pickers.html, decision 0016).
// Without this script both are plain text inputs that take a code; with it, the unit input offers
// units of the user's scope as they type (code, name or pinyin initials, from /api/unit-search)
// and a "Browse" panel walks the tree; the period input's list follows the chosen data set.
(function () {
  "use strict";

  if (window.jiaoweiPickers) { return; }  // the macro includes the script once per picker
  window.jiaoweiPickers = true;

  var SEARCH = "/api/unit-search";
  var LIMIT = 12;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      });
  }

  function nameOf(box, unit) {
    return box.dataset.lang === "en" ? (unit.name_en || unit.name_zh) : unit.name_zh;
  }

  function parentNameOf(box, unit) {
    return box.dataset.lang === "en" ? (unit.parent_name_en || unit.parent_name_zh) : unit.parent_name_zh;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }

  function setUpUnitPicker(box) {
    var input = box.querySelector("input");
    var list = box.querySelector(".unit-picker__options");
    var browse = box.querySelector(".unit-picker__browse");
    var tree = box.querySelector(".unit-picker__tree");
    var status = box.querySelector(".unit-picker__status");
    var found = [];
    var active = -1;
    var timer = null;
    var asked = 0;
    var trail = [];  // the parents walked down in the Browse panel

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    browse.hidden = false;

    function close() {
      list.hidden = true;
      list.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      found = [];
      active = -1;
    }

    function choose(unit) {
      input.value = unit.code;
      close();
      closeTree();
      status.textContent = nameOf(box, unit) + " (" + unit.code + ")";
      input.dispatchEvent(new Event("change", { bubbles: true }));
      var form = input.form;
      if (form && input.hasAttribute("data-submit-on-choose") && form.checkValidity()) {
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      } else {
        input.focus();
      }
    }

    function label(unit) {
      var text = nameOf(box, unit);
      var above = parentNameOf(box, unit);
      return { main: text, code: unit.code, above: above };
    }

    function optionFor(unit, index) {
      var item = element("li", "unit-picker__option");
      var shown = label(unit);
      item.id = list.id + "-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.dataset.code = unit.code;
      item.appendChild(element("span", "unit-picker__name", shown.main));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("code", "", shown.code));
      if (shown.above) { item.appendChild(element("span", "unit-picker__above muted", " · " + shown.above)); }
      item.addEventListener("mousedown", function (event) {
        event.preventDefault();  // keep the focus in the input
        choose(unit);
      });
      return item;
    }

    function show(answer) {
      list.textContent = "";
      found = answer.items;
      active = -1;
      if (!found.length) {
        list.appendChild(element("li", "unit-picker__empty muted", box.dataset.msgNone));
      }
      found.forEach(function (unit, index) { list.appendChild(optionFor(unit, index)); });
      if (answer.total > found.length) {
        list.appendChild(element("li", "unit-picker__more muted",
          format(box.dataset.msgMore, { shown: found.length, total: answer.total })));
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function search() {
      var text = input.value.trim();
      if (!text) { close(); return; }
      var mine = ++asked;
      getJson(SEARCH + "?" + new URLSearchParams({ q: text, limit: String(LIMIT) }).toString())
        .then(function (answer) { if (mine === asked) { show(answer); } })
        .catch(function () { if (mine === asked) { close(); status.textContent = box.dataset.msgFailed; } });
    }

    function highlight(index) {
      var options = list.querySelectorAll('[role="option"]');
      if (!options.length) { return; }
      active = (index + options.length) % options.length;
      Array.prototype.forEach.call(options, function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
        option.classList.toggle("is-active", i === active);
      });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 180);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) {
        if (event.key === "ArrowDown" && input.value.trim()) { search(); event.preventDefault(); }
        return;
      }
      if (event.key === "ArrowDown") { highlight(active + 1); event.preventDefault(); }
      else if (event.key === "ArrowUp") { highlight(active - 1); event.preventDefault(); }
      else if (event.key === "Escape") { close(); event.preventDefault(); }
      else if (event.key === "Enter" && active >= 0 && found[active]) {
        event.preventDefault();
        choose(found[active]);
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });

    // ---- browsing the tree: the user's highest units, then the units below the one opened

    function closeTree() {
      tree.hidden = true;
      browse.setAttribute("aria-expanded", "false");
    }

    function row(unit) {
      var item = element("li", "unit-picker__node");
      var pick = element("button", "button button--quiet unit-picker__pick");
      pick.type = "button";
      pick.appendChild(element("span", "unit-picker__name", nameOf(box, unit)));
      pick.appendChild(document.createTextNode(" "));
      pick.appendChild(element("code", "", unit.code));
      pick.setAttribute("aria-label", box.dataset.msgChoose + " " + nameOf(box, unit) + " " + unit.code);
      pick.addEventListener("click", function () { choose(unit); });
      item.appendChild(pick);
      if (unit.children > 0) {
        var down = element("button", "button button--quiet unit-picker__down",
          box.dataset.msgBelow + " (" + unit.children + ") ›");
        down.type = "button";
        down.setAttribute("aria-label", box.dataset.msgBelow + ": " + nameOf(box, unit));
        down.addEventListener("click", function () { trail.push(unit); walk(); });
        item.appendChild(down);
      }
      return item;
    }

    function walk() {
      var parent = trail.length ? trail[trail.length - 1] : null;
      var url = SEARCH + "/children" + (parent ? "?" + new URLSearchParams({ parent: parent.code }).toString() : "");
      getJson(url).then(function (answer) {
        tree.textContent = "";
        var head = element("div", "unit-picker__trail");
        if (parent) {
          var up = element("button", "button button--quiet", "‹ " + box.dataset.msgUp);
          up.type = "button";
          up.addEventListener("click", function () { trail.pop(); walk(); });
          head.appendChild(up);
          head.appendChild(element("strong", "", " " + nameOf(box, parent)));
        } else {
          head.appendChild(element("strong", "", box.dataset.msgTop));
        }
        var shut = element("button", "button button--quiet unit-picker__close", box.dataset.msgClose);
        shut.type = "button";
        shut.addEventListener("click", function () { closeTree(); browse.focus(); });
        head.appendChild(shut);
        tree.appendChild(head);
        var items = element("ul", "unit-picker__nodes");
        answer.items.forEach(function (unit) { items.appendChild(row(unit)); });
        if (!answer.items.length) { items.appendChild(element("li", "muted", box.dataset.msgNone)); }
        tree.appendChild(items);
        tree.hidden = false;
        browse.setAttribute("aria-expanded", "true");
        var first = tree.querySelector(".unit-picker__pick");
        if (first) { first.focus(); }
      }).catch(function () { status.textContent = box.dataset.msgFailed; });
    }

    browse.addEventListener("click", function () {
      if (!tree.hidden) { closeTree(); return; }
      close();
      walk();
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !tree.hidden) { closeTree(); browse.focus(); }
    });
  }

  function setUpPeriodPicker(box) {
    var input = box.querySelector("input");
    var form = input.form;
    var select = form ? form.querySelector('select[name="ds"]') : null;
    if (!select) { return; }
    function follow() {
      var option = select.options[select.selectedIndex];
      var type = option ? option.getAttribute("data-period-type") : null;
      if (type && document.getElementById(box.dataset.listPrefix + type)) {
        input.setAttribute("list", box.dataset.listPrefix + type);
      }
    }
    select.addEventListener("change", follow);
    follow();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-unit-picker]"), setUpUnitPicker);
    Array.prototype.forEach.call(document.querySelectorAll("[data-period-picker]"), setUpPeriodPicker);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
