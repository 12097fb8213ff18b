// Bearer token for `tiphys server --auth-mode client`: kept in this browser's localStorage,
// sent as the Authorization header by api.js. A 401 from any call clears the view and asks.
import { esc, html } from './util.js';

const KEY = 'tiphys.token';
let onUnauthorizedHandler = null;

export const getToken = () => localStorage.getItem(KEY) || '';

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

export function updateLogout() {
  const b = document.getElementById('logout');
  if (b) b.hidden = !getToken();
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
