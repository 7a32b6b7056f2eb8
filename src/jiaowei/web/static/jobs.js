// A job's page (jobs/templates/job.html): poll /api/jobs/{id} and move the progress bar; when the
// job has ended, load the page again, which then shows the result (or the problems).
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.getAttribute("data-finished") === "true") return;
  var bar = document.getElementById("job-progress");
  var line = document.getElementById("job-stage");
  var delay = 300;

  function show(job) {
    if (job.percent === null || job.percent === undefined) {
      bar.removeAttribute("value");  // an indeterminate bar while the total is unknown
    } else {
      bar.value = job.percent;
      bar.textContent = job.percent + "%";
    }
    line.textContent = job.message;
  }

  function poll() {
    fetch(box.getAttribute("data-poll"), {headers: {accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (job && (job.status === "succeeded" || job.status === "failed")) {
          if (bar) { bar.value = 100; }
          window.location.reload();
          return;
        }
        if (job) show(job);
        delay = Math.min(Math.round(delay * 1.5), 2000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }

  window.setTimeout(poll, delay);
})();
