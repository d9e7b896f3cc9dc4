// Live updates: re-fetch the server-rendered fragment every second and swap it in.
// Writes: confirm when asked to, and send JOBSVIEW_API_TOKEN when the server needs one.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var live = document.getElementById("live");

  function poll() {
    if (!live || live.dataset.active !== "true" || document.hidden) {
      return schedule();
    }
    fetch(live.dataset.live, { headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && html !== live.dataset.last) {
          live.dataset.last = html;
          live.innerHTML = html;
          // A finished job stops changing; the list keeps polling for new jobs.
          if (live.querySelector(".summary") && !live.querySelector("form[action$='/cancel']")) {
            live.dataset.active = "false";
          }
        }
      })
      .catch(function () {})
      .then(schedule);
  }
  function schedule() { window.setTimeout(poll, POLL_MS); }
  if (live) { schedule(); }

  function token() {
    var saved = window.sessionStorage.getItem("jobsview-token");
    if (!saved) {
      saved = window.prompt("This server needs its API token (JOBSVIEW_API_TOKEN) for changes:");
      if (saved) { window.sessionStorage.setItem("jobsview-token", saved); }
    }
    return saved || "";
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("write")) { return; }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (document.body.dataset.tokenRequired === "true") {
      var field = form.querySelector("input[name=token]");
      if (field) { field.value = token(); }
    }
  });
})();
