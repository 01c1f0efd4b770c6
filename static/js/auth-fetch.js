/**
 * auth-fetch.js: fetch() with a short-lived bearer token, for same-origin API calls.
 *
 * Usage (from another ES module):
 *
 *   import { authFetch } from '/static/js/auth-fetch.js';
 *   const res = await authFetch('/api/v1/me');          // same arguments as fetch()
 *   if (res.ok) console.log(await res.json());
 *
 * What it does:
 * - Gets an access token with POST /auth/token (session cookie + X-CSRF-Token read from
 *   <meta name="csrf-token">) and sends it as `Authorization: Bearer ...`. The token is
 *   kept in a module variable only: never in localStorage, sessionStorage or cookies, so
 *   a reload simply fetches a new one. It is renewed shortly (skewMs) before it expires.
 * - On a 401 `invalid_token` (expired or revoked) it refreshes once and retries the
 *   request once. Other responses, including 403 insufficient_scope, are returned as-is.
 *   Requests with a ReadableStream body cannot be replayed: their 401 is returned.
 * - Concurrent calls share a single refresh request.
 * - If /auth/token answers 401 the session is gone: it fires `auth:logged-out` on window,
 *   tells other tabs (BroadcastChannel 'hybrid-auth'), goes to /login?next=<this page>
 *   and throws an AuthRequiredError. Other refresh failures throw a TokenRefreshError
 *   (with .status, 0 for network errors) and stay on the page; a 403 (stale CSRF
 *   token after signing in again in another tab) reloads the page once a minute at most.
 * - Events on window: `auth:refresh` {reason: 'initial'|'expiring'|'retry-after-401'},
 *   `auth:token` {expiresAt, expiresIn, scope}, `auth:logged-out`.
 * - Call announceLogout() before submitting the logout form so other tabs follow.
 * - The token is only attached to same-origin URLs; cross-origin calls are plain fetch().
 */

const config = { tokenUrl: '/auth/token', loginUrl: '/login', csrfToken: null, skewMs: 10000 };

let accessToken = null;
let expiresAt = null; // ms epoch, Date.now() + expires_in * 1000 taken when the response arrived
let lifetimeMs = 0; // expires_in of the current token, in ms
let inflight = null; // the one pending refresh promise shared by all callers
let generation = 0; // bumped by clearToken() so a refresh started earlier cannot resurrect a token
let leaving = false; // already navigating to the login page

export class AuthRequiredError extends Error {
  constructor(message = 'login required') { super(message); this.name = 'AuthRequiredError'; }
}
export class TokenRefreshError extends Error {
  constructor(message, status) { super(message); this.name = 'TokenRefreshError'; this.status = status; }
}

const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('hybrid-auth') : null;
// A BroadcastChannel never delivers to the instance that posted, so this only sees other tabs.
channel?.addEventListener('message', (e) => {
  if (e.data?.type === 'logged-out') loggedOut(false);
});

export function configure(overrides = {}) {
  for (const key of Object.keys(config)) {
    if (overrides[key] !== undefined) config[key] = overrides[key];
  }
}

export function getTokenExpiry() { return accessToken ? expiresAt : null; }

export function clearToken() {
  accessToken = null;
  expiresAt = null;
  generation++;
}

/** Tell other tabs this session is ending (call before submitting the logout form). */
export function announceLogout() {
  clearToken();
  channel?.postMessage({ type: 'logged-out' });
}

function csrfToken() {
  return config.csrfToken ?? document.querySelector('meta[name="csrf-token"]')?.content ?? '';
}

function emit(name, detail) { window.dispatchEvent(new CustomEvent(name, { detail })); }

function loggedOut(broadcast) {
  clearToken();
  if (leaving) return; // several callers may hit this at once: navigate and announce once
  leaving = true;
  emit('auth:logged-out', { source: broadcast ? 'this-tab' : 'other-tab' });
  if (broadcast) channel?.postMessage({ type: 'logged-out' });
  const next = location.pathname + location.search;
  window.location.assign(config.loginUrl + '?next=' + encodeURIComponent(next));
}

// A 403 from the token endpoint usually means this page's CSRF token is stale:
// the user signed in again in another tab, which starts a new session with a new
// token. Reloading fetches the page with the current one. The guard (a timestamp
// in sessionStorage, nothing secret) stops a reload loop when the cause is
// something else, such as PUBLIC_URL not matching this origin.
function reloadForFreshCsrf() {
  const key = 'hybrid-auth:csrf-reload';
  let last = 0;
  try { last = Number(sessionStorage.getItem(key) || 0); } catch { return false; }
  if (Date.now() - last < 60000) return false;
  try { sessionStorage.setItem(key, String(Date.now())); } catch { return false; }
  location.reload();
  return true;
}

async function requestToken(reason) {
  emit('auth:refresh', { reason });
  const gen = generation;
  let res;
  try {
    res = await fetch(config.tokenUrl, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'X-CSRF-Token': csrfToken(), Accept: 'application/json' },
    });
  } catch (err) {
    throw new TokenRefreshError(`token request failed: ${err.message}`, 0);
  }
  const receivedAt = Date.now();
  if (res.status === 401) {
    loggedOut(true);
    throw new AuthRequiredError();
  }
  if (res.status === 403 && reloadForFreshCsrf()) {
    throw new TokenRefreshError('reloading the page for a fresh CSRF token', 403);
  }
  if (!res.ok) {
    const err = new TokenRefreshError(`token request failed with HTTP ${res.status}`, res.status);
    const retryAfter = Number(res.headers.get('Retry-After'));
    if (retryAfter > 0) err.retryAfter = retryAfter; // seconds, sent with 503
    throw err;
  }
  const body = await res.json().catch(() => null);
  if (typeof body?.access_token !== 'string' || !(body.expires_in > 0)) {
    throw new TokenRefreshError('malformed token response', res.status);
  }
  const expiry = receivedAt + body.expires_in * 1000;
  if (gen === generation) { // not cleared (logout, other tab) while the request was out
    accessToken = body.access_token;
    expiresAt = expiry;
    lifetimeMs = body.expires_in * 1000;
  }
  emit('auth:token', { expiresAt: expiry, expiresIn: body.expires_in, scope: body.scope });
  return body.access_token;
}

/** A usable token: the current one, or the result of the (shared) refresh. */
function getToken(reasonIfRefresh) {
  // Renew skewMs before expiry, or at 80% of the lifetime for very short-lived tokens.
  const skew = Math.min(config.skewMs, lifetimeMs / 5);
  if (accessToken && expiresAt - Date.now() > skew) return Promise.resolve(accessToken);
  if (!inflight) {
    const reason = reasonIfRefresh ?? (accessToken ? 'expiring' : 'initial');
    inflight = requestToken(reason).finally(() => { inflight = null; });
  }
  return inflight;
}

function send(input, init, token) {
  // Same precedence as fetch(): init.headers replaces the Request's own headers.
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

async function isInvalidToken(res) {
  if (/error\s*=\s*"?invalid_token"?/i.test(res.headers.get('WWW-Authenticate') ?? '')) return true;
  if (!(res.headers.get('Content-Type') ?? '').includes('json')) return false;
  // Read a clone so the caller can still consume the body of the response we return.
  const body = await res.clone().json().catch(() => null);
  return body?.error === 'invalid_token';
}

function isSameOrigin(input) {
  const url = new URL(input instanceof Request ? input.url : String(input), location.href);
  return url.origin === location.origin;
}

export async function authFetch(input, init) {
  init = init ?? {};
  if (!isSameOrigin(input)) return fetch(input, init); // never leak the token to other origins

  const replayable = !(typeof ReadableStream === 'function' && init.body instanceof ReadableStream);
  // fetch() consumes a Request's body, so keep an untouched copy for the retry.
  const spare = replayable && input instanceof Request ? input.clone() : null;

  const token = await getToken();
  const res = await send(input, init, token);
  if (res.status !== 401 || !replayable || !(await isInvalidToken(res))) return res;

  // Drop the token only if it is still the one that failed: a concurrent caller may
  // already have replaced it, and then we just reuse the new one. Not clearToken(): a
  // refresh another caller already has in flight must still be allowed to store its token.
  if (accessToken === token) { accessToken = null; expiresAt = null; }
  const fresh = await getToken('retry-after-401');
  return send(spare ?? input, init, fresh); // second 401 is returned as-is: no loop
}
