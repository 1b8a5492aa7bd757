/**
 * The admin pages' only static assets: one stylesheet and one script, served from memory under
 * /static/ (the CSP allows nothing else: no inline script or style, no external resource).
 */

/** Stylesheet: readable on a phone, high contrast, visible focus. */
export const APP_CSS = `:root{color-scheme:light;--fg:#1a202c;--muted:#4a5568;--accent:#1f5fa8;--bad:#b42318;\
--ok:#1e6b3a;--line:#d9dee5}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe\
 UI",Roboto,sans-serif;color:var(--fg);background:#f6f7f9}
header{background:#10243e;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;\
align-items:center;justify-content:space-between}
header a,header button{color:#fff}header .muted{color:#d5dce6}\
header nav{display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
main{max-width:44rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.15rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}\
input{width:100%;font:inherit;padding:.55rem;border:1px solid #8a94a6;border-radius:6px}
input:focus,button:focus,a:focus{outline:3px solid #f5b400;outline-offset:2px}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);\
color:#fff;cursor:pointer;margin-top:.75rem}
button.secondary{background:#fff;color:var(--accent)}\
.linklike{background:none;border:none;text-decoration:underline;padding:0;margin:0}
.error{color:var(--bad);font-weight:600}.notice{color:var(--ok);font-weight:600}.muted{color:var(--muted)}
.card.warning{border:2px solid var(--bad)}.card.warning h2{color:var(--bad);margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{font-weight:600}\
dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;font-size:.9rem}\
th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}
.cap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem;border-top:1px solid\
 var(--line);padding:.5rem 0}
.cap form{display:inline}.value{font-weight:700}meter{width:100%;height:1rem}ul.reasons{margin:.25rem\
 0;padding-left:1.2rem}
.table-wrap{overflow-x:auto}button.danger{background:var(--bad);border-color:var(--bad)}
td.when{white-space:nowrap}td.when .day,details summary{white-space:nowrap}\
td.bad{color:var(--bad)}caption{text-align:left;font-weight:700;padding:.25rem 0}
dl.raw{grid-template-columns:max-content 1fr;font-size:.85rem}details summary{cursor:pointer;color:var(--accent)}
nav.tabs,nav.paging{display:flex;gap:1rem;align-items:center;margin:.5rem 0}form.filter{margin:0 0 1rem}
a.button{display:inline-block;font:inherit;padding:.5rem 1rem;border-radius:6px;margin-top:.75rem;\
text-decoration:none;border:1px solid var(--bad);color:var(--bad);background:#fff}
ul.devices{list-style:none;padding:0;margin:0}ul.devices li{border-top:1px solid var(--line);padding:.5rem 0}
svg.chart{width:100%;height:auto;background:#fff}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
label.check{display:flex;align-items:baseline;gap:.5rem}label.check input{width:auto;flex:none;margin:0}
/* Phones: a list's labels stack above their values and the journal's time takes two lines, so nothing needs a\
 sideways scroll. */
@media (max-width:36rem){dl,dl.raw{grid-template-columns:1fr;gap:0}dd{margin:0 0 .5rem}\
td.when{white-space:normal}}
`;

/**
 * Script: live password strength on the change-password and setup forms (pages work without it),
 * and the upload of an update file on the software page (fetch() with the raw file and the CSRF token).
 */
export const APP_JS = `'use strict';
(function () {
  var input = document.getElementById('new-password');
  var meter = document.getElementById('strength-meter');
  var out = document.getElementById('strength-text');
  var form = input && input.form;
  if (!input || !meter || !out || !form) return;
  var csrf = form.querySelector('input[name=csrf]');
  var timer = null, seq = 0;
  function show(result) {
    meter.value = result.score === null ? 0 : result.score;
    out.textContent = '';
    var head = document.createElement('p');
    head.textContent = result.ok ? 'Strong enough.' : 'Not accepted yet:';
    head.className = result.ok ? 'notice' : 'error';
    out.appendChild(head);
    if (result.reasons.length) {
      var ul = document.createElement('ul'); ul.className = 'reasons';
      result.reasons.forEach(function (r) { var li = document.createElement('li'); li.textContent = r.message;
      ul.appendChild(li); });
      out.appendChild(ul);
    }
  }
  input.addEventListener('input', function () {
    clearTimeout(timer);
    var mine = ++seq;
    timer = setTimeout(function () {
      fetch(form.getAttribute('data-strength-url'), {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'accept': 'application/json',
        'x-csrf-token': csrf ? csrf.value : '' },
        body: JSON.stringify({ password: input.value })
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (j) { if (j && mine === seq)\
 show(j); }).catch(function () {});
    }, 250);
  });
})();
(function () {
  var form = document.getElementById('update-file-form');
  var input = document.getElementById('update-file');
  var out = document.getElementById('update-file-result');
  if (!form || !input || !out) return;
  var csrf = form.querySelector('input[name=csrf]');
  var button = form.querySelector('button');
  var max = Number(form.getAttribute('data-max-bytes'));
  function say(text, ok) {
    out.textContent = '';
    var p = document.createElement('p');
    p.className = ok ? 'notice' : 'error';
    p.textContent = text;
    out.appendChild(p);
  }
  function tell(status, j) {
    if (j.outcome === 'installed') return say('Installed ' + j.version + '. The unit restarts into it now.', true);
    if (j.outcome === 'up-to-date') return say('Nothing to install: ' + (j.detail || j.version) + '.', true);
    if (j.outcome) return say('Not installed (' + (j.code || j.outcome) + '): ' + (j.detail || ''), false);
    var e = j.error || {};
    say('Not installed (' + (e.code || status) + '): ' + (e.message || 'the unit refused the upload'), false);
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var file = input.files && input.files[0];
    if (!file) return say('Choose the update file first.', false);
    if (max && file.size > max) return say('That file is larger than this unit accepts.', false);
    button.disabled = true;
    say('Uploading and checking ' + file.name + '...', true);
    fetch(form.getAttribute('action'), {
      method: 'POST', credentials: 'same-origin', body: file,
      headers: { 'content-type': 'application/octet-stream', 'accept': 'application/json',
      'x-csrf-token': csrf ? csrf.value : '' }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { tell(r.status, j); });
    }).catch(function () { say('The upload did not complete: check the connection and try again.', false); })
      .then(function () { button.disabled = false; });
  });
})();
`;
