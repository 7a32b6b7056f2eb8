// The data entry grid: every cell saves itself when it is left, validation problems show at
// once, Enter and the arrow keys move between cells, a focused cell shows its comment,
// follow-up flag and history. Everything goes through the public JSON API.
(function () {
  "use strict";

  var form = document.querySelector(".entry[data-ds]");
  if (!form) { return; }
  var zh = document.documentElement.lang === "zh-CN";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var inputs = Array.prototype.slice.call(form.querySelectorAll(".cell-input"));
  var current = null;
  var ruleCells = {};  // validation rule code -> the cell ("ELEMENT.COMBO") its problems point at
  try { ruleCells = JSON.parse(form.dataset.ruleCells || "{}"); } catch (e) { ruleCells = {}; }

  function key(input) {
    return { dataElement: input.dataset.de, period: form.dataset.pe, orgUnit: form.dataset.ou,
             categoryOptionCombo: input.dataset.co };
  }

  function send(method, url, body) {
    var options = { method: method, credentials: "same-origin",
                    headers: { "x-csrf-token": csrf, Accept: "application/json" } };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function problemText(data) {
    var p = (data.problems || [])[0];
    if (!p) { return data.detail || form.dataset.msgFailed; }
    if (!p.expected) { return p.message; }
    return p.message + (zh ? "（" + p.expected + "）" : " (" + p.expected + ")");
  }

  function setStatus(input, state, text) {
    var cell = input.closest(".entry-cell");
    cell.classList.remove("is-saving", "is-saved", "is-error");
    cell.classList.add("is-" + state);
    var status = cell.querySelector(".cell-status");
    status.textContent = text;
    input.setAttribute("aria-invalid", state === "error" ? "true" : "false");
    if (state === "error") { input.title = text; } else { input.removeAttribute("title"); }
  }

  function save(input, extra) {
    var body = key(input);
    body.value = input.value;
    Object.keys(extra || {}).forEach(function (k) { body[k] = extra[k]; });
    setStatus(input, "saving", form.dataset.msgSaving);
    input.dataset.pending = input.value;
    return send("POST", "/api/dataValues", body).then(function (result) {
      delete input.dataset.pending;
      if (result.ok) {
        input.dataset.saved = input.value;
        setStatus(input, "saved", form.dataset.msgSaved);
        validate();
        if (input === current) { showHistory(input); }
      } else {
        setStatus(input, "error", problemText(result.data));
      }
      return result;
    });
  }

  function validate() {
    var url = "/api/validation/dataSet/" + encodeURIComponent(form.dataset.ds) + "?pe=" +
      encodeURIComponent(form.dataset.pe) + "&ou=" + encodeURIComponent(form.dataset.ou);
    return send("GET", url).then(function (result) {
      var box = document.getElementById("violations");
      if (!result.ok) { return; }
      var found = result.data.validationRuleViolations || [];
      box.textContent = "";
      if (!found.length) {
        var none = document.createElement("p");
        none.className = "muted";
        none.textContent = form.dataset.msgNoProblems;
        box.appendChild(none);
        return;
      }
      var list = document.createElement("ul");
      list.className = "violations";
      found.forEach(function (v) {
        var item = document.createElement("li");
        item.className = "violation violation--" + String(v.importance || "").toLowerCase();
        var rule = document.createElement("strong");
        rule.textContent = (v.validationRuleDescription || v.rule || "") + ": ";
        item.appendChild(rule);
        var text = (zh ? v.message_zh : v.message_en) || v.message || "";
        var cell = problemCell(v);
        if (cell) {  // one click (or Enter) to the cell the problem names
          var link = document.createElement("a");
          link.href = "#cell-" + cell;
          link.className = "violation__cell";
          link.textContent = text;
          link.addEventListener("click", function (event) { event.preventDefault(); focusNamed("cell-" + cell); });
          item.appendChild(link);
        } else {
          item.appendChild(document.createTextNode(text));
        }
        list.appendChild(item);
      });
      box.appendChild(list);
    });
  }

  function localTime(iso) {  // a stored UTC time in the commission's zone (<meta name="time-zone">), to the minute
    var meta = document.querySelector('meta[name="time-zone"]'), zone = meta ? meta.content : undefined;
    var at = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z");  // naive means UTC
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at).forEach(function (p) {
        parts[p.type] = p.value;
      });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
    } catch (e) {
      return iso.slice(0, 16).replace("T", " ");
    }
  }

  function changeLabel(change) {  // CREATE, UPDATE, DELETE in the page's language
    return form.dataset["msg" + change.charAt(0) + change.slice(1).toLowerCase()] || change;
  }

  function showHistory(input) {
    var q = "?de=" + encodeURIComponent(input.dataset.de) + "&pe=" + encodeURIComponent(form.dataset.pe) +
      "&ou=" + encodeURIComponent(form.dataset.ou) + "&co=" + encodeURIComponent(input.dataset.co);
    return send("GET", "/api/dataValues/history" + q).then(function (result) {
      var list = document.getElementById("cell-history");
      list.textContent = "";
      ((result.data && result.data.changes) || []).forEach(function (c) {
        var item = document.createElement("li");
        item.textContent = localTime(c.at) + " · " + c.actor + " · " + changeLabel(c.change) + (zh ? "：" : ": ") +
          (c.value_before === null ? "—" : c.value_before) + " → " + (c.value_after === null ? "—" : c.value_after) +
          (c.comment ? " · " + c.comment : "");
        list.appendChild(item);
      });
      if (result.data && result.data.changes && result.data.changes.length) {
        var last = result.data.changes[0];
        document.getElementById("cell-comment").value = last.comment || "";
        document.getElementById("cell-followup").checked = !!last.followup;
      }
    });
  }

  function focusCell(input) {
    current = input;
    var panel = document.getElementById("cell-panel");
    panel.hidden = false;
    document.getElementById("cell-name").textContent = input.getAttribute("aria-label");
    document.getElementById("cell-comment").value = "";
    document.getElementById("cell-followup").checked = input.closest(".entry-cell").classList.contains("is-flagged");
    showHistory(input);
  }

  function problemCell(v) {  // the cell a validation problem names, if the form shows it
    var cell = v.data_element && v.option_combo ? v.data_element + "." + v.option_combo : ruleCells[v.rule];
    return cell && document.getElementById("cell-" + cell) ? cell : null;
  }

  function focusNamed(id) {  // focus the cell named in the URL fragment (#cell-ELEMENT.COMBO), e.g. from a problem
    var input = id && document.getElementById(id);
    if (!input || inputs.indexOf(input) < 0) { return; }
    inputs.forEach(function (other) { other.closest(".entry-cell").classList.remove("is-target"); });
    input.closest(".entry-cell").classList.add("is-target");
    if (input.scrollIntoView) { input.scrollIntoView({ block: "center" }); }
    if (input.disabled) { focusCell(input); } else { input.focus(); }
    if (window.history && window.history.replaceState) { window.history.replaceState(null, "", "#" + id); }
  }

  function fromFragment() {
    var hash = window.location.hash.slice(1);
    try { hash = decodeURIComponent(hash); } catch (e) { return; }
    if (hash.indexOf("cell-") === 0) { focusNamed(hash); }
  }

  function move(input, step) {
    var index = inputs.indexOf(input) + step;
    if (index >= 0 && index < inputs.length) { inputs[index].focus(); if (inputs[index].select) { inputs[index].select(); } }
  }

  inputs.forEach(function (input) {
    input.dataset.saved = input.value;
    input.addEventListener("focus", function () { focusCell(input); });
    input.addEventListener("change", function () {
      if (input.value !== input.dataset.saved && input.value !== input.dataset.pending) { save(input); }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === "ArrowDown") {
        event.preventDefault();
        if (input.value !== input.dataset.saved && input.value !== input.dataset.pending) { save(input); }
        move(input, event.shiftKey ? -1 : 1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        move(input, -1);
      }
    });
  });

  document.getElementById("cell-save").addEventListener("click", function () {
    if (!current) { return; }
    var flagged = document.getElementById("cell-followup").checked;
    save(current, { comment: document.getElementById("cell-comment").value, followup: flagged }).then(function (r) {
      if (r.ok) { current.closest(".entry-cell").classList.toggle("is-flagged", flagged); }
    });
  });

  document.getElementById("complete").addEventListener("click", function () {
    var status = document.getElementById("complete-status");
    send("POST", "/api/completeDataSetRegistrations", { completeDataSetRegistrations: [{
      dataSet: form.dataset.ds, period: form.dataset.pe, organisationUnit: form.dataset.ou, completed: true }] })
      .then(function (result) {
        status.textContent = result.ok ? form.dataset.msgCompleted : problemText(result.data);
      });
  });

  window.addEventListener("hashchange", fromFragment);
  fromFragment();
  validate();
})();
