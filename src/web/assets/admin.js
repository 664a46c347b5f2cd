// eds-gateway admin page (/eds/admin). No inline script (CSP): this file sends the page's POSTs
// to /eds/admin/api/... as JSON with the session's CSRF token from <meta name="eds-csrf"> and
// reloads the page to show the result.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="eds-csrf"]') || {}).content || "";
  var status = document.getElementById("adm-status");
  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-EDS-CSRF": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok || !j.ok) { throw new Error((j && (j.message || j.code)) || ("HTTP " + r.status)); }
        return j;
      });
    });
  }
  function done() { window.location.reload(); }
  function fail(e) { if (status) { status.textContent = String(e.message || e); status.className = "adm-status adm-error"; } }
  function keyBody(text) {
    var t = text.trim();
    return /^[0-9]{12}$/.test(t) ? { iin: t } : { serial: t };
  }
  document.querySelectorAll(".adm-kill").forEach(function (b) {
    b.addEventListener("click", function () { post("/eds/admin/api/kill", { sid: b.dataset.sid }).then(done, fail); });
  });
  document.querySelectorAll(".adm-unblock").forEach(function (b) {
    b.addEventListener("click", function () {
      var body = {}; body[b.dataset.kind] = b.dataset.value;
      post("/eds/admin/api/unblock", body).then(done, fail);
    });
  });
  var form = document.getElementById("adm-block-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = keyBody(document.getElementById("adm-block-key").value);
      body.reason = document.getElementById("adm-block-reason").value;
      post("/eds/admin/api/block", body).then(done, fail);
    });
  }
})();
