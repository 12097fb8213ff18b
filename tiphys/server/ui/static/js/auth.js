// Bearer token for `tiphys server --auth-mode client`: kept in this browser's localStorage,
// sent as the Authorization header by api.js. A 401 from any call clears the view and asks.
// Artifact downloads are plain links (the browser streams the file to disk), which cannot
// carry a header: for them the token is also kept in the `authorization` cookie (which the
// server reads as the Argo UI's), sent only to /artifact-files/ and never from another site.
import { esc, html } from './util.js';

const KEY = 'tiphys.token';
export const ARTIFACT_PATH = '/artifact-files/';
let onUnauthorizedHandler = null;

export const getToken = () => localStorage.getItem(KEY) || '';

function syncCookie() {
  const t = getToken();
  const attrs = `; path=${ARTIFACT_PATH}; SameSite=Strict`;
  document.cookie = t ? `authorization=${encodeURIComponent(t)}${attrs}` : `authorization=${attrs}; max-age=0`;
}

export function setToken(raw) {
  let t = (raw || '').trim();
  if (t && !/^bearer\s/i.test(t)) t = `Bearer ${t}`;
  if (t) localStorage.setItem(KEY, t); else localStorage.removeItem(KEY);
  updateLogout();
}

export function clearToken() {
  localStorage.removeItem(KEY);
  updateLogout();
}

// The logout button and the download cookie follow the stored token.
export function updateLogout() {
  const b = document.getElementById('logout');
  if (b) b.hidden = !getToken();
  syncCookie();
}

export const setUnauthorizedHandler = (fn) => { onUnauthorizedHandler = fn; };
export function unauthorized(message) {
  if (onUnauthorizedHandler) onUnauthorizedHandler(message);
}

// The token form. `message` says why it is shown; `done` runs once a token is saved.
export function renderLogin(root, message, done) {
  root.innerHTML = '';
  const form = html(`
    <form class="login card" autocomplete="off">
      <h2>Token required</h2>
      <p>This server was started with <code>--auth-mode client</code>: paste a bearer token to see and run workflows.</p>
      ${message ? `<p class="error" data-testid="login-error">${esc(message)}</p>` : ''}
      <input type="password" name="token" placeholder="Bearer …" aria-label="token" required>
      <button class="primary" type="submit">Use token</button>
    </form>`);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(form.token.value);
    done();
  });
  root.append(form);
  form.token.focus();
}
