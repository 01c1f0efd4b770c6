// Script of the /refresh demo page: calls GET /api/v1/me through authFetch and logs what
// happens (API results, token refreshes). Counters are mirrored on <body data-*> so that
// browser tests can read them: data-api-ok, data-api-fail, data-refreshes.
import { authFetch, getTokenExpiry } from './auth-fetch.js';

const MAX_LOG = 200;
const logEl = document.getElementById('log');
const expiryEl = document.getElementById('expiry');
const toggleEl = document.getElementById('toggle-auto');

const counts = { apiOk: 0, apiFail: 0, refreshes: 0 };

function publishCounts() {
  for (const [key, value] of Object.entries(counts)) document.body.dataset[key] = String(value);
}

function timestamp() {
  const d = new Date();
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function log(text, cls) {
  const li = document.createElement('li');
  li.className = cls;
  li.textContent = `${timestamp()} ${text}`;
  logEl.append(li);
  while (logEl.children.length > MAX_LOG) logEl.firstElementChild.remove();
  logEl.scrollTop = logEl.scrollHeight;
}

async function callApi() {
  try {
    const res = await authFetch('/api/v1/me', { headers: { Accept: 'application/json' } });
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      counts.apiOk++;
      log(`GET /api/v1/me → ${res.status} ${body.email ?? ''}`, 'ok');
    } else {
      counts.apiFail++;
      log(`GET /api/v1/me → ${res.status} ${body.error ?? res.statusText}`, 'fail');
    }
  } catch (err) {
    counts.apiFail++;
    log(`failed: ${err.message}`, 'fail');
  }
  publishCounts();
}

window.addEventListener('auth:refresh', (e) => {
  counts.refreshes++;
  log(`refresh (${e.detail?.reason})`, 'refresh');
  publishCounts();
});

window.addEventListener('auth:token', (e) => {
  log(`new token, expires in ${e.detail?.expiresIn}s`, 'refresh');
  publishCounts();
});

function updateExpiry() {
  const expiry = getTokenExpiry();
  if (expiry === null) expiryEl.textContent = 'no token yet';
  else if (expiry <= Date.now()) expiryEl.textContent = 'expired';
  else expiryEl.textContent = `${Math.ceil((expiry - Date.now()) / 1000)}s`;
}
setInterval(updateExpiry, 500);

// Automatic calls every 2 s. A tick is skipped while the previous automatic call is still
// pending, so a slow server does not pile up requests.
let auto = toggleEl.getAttribute('aria-pressed') !== 'false';
let autoPending = false;
setInterval(async () => {
  if (!auto || autoPending) return;
  autoPending = true;
  try { await callApi(); } finally { autoPending = false; }
}, 2000);

toggleEl.addEventListener('click', () => {
  auto = !auto;
  toggleEl.setAttribute('aria-pressed', String(auto));
  toggleEl.textContent = `Automatic calls: ${auto ? 'on' : 'off'}`;
});

document.getElementById('call-api').addEventListener('click', () => { callApi(); });
document.getElementById('burst').addEventListener('click', () => {
  Promise.all(Array.from({ length: 5 }, () => callApi()));
});

publishCounts();
updateExpiry();
callApi();
