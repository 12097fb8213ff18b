// The client of Tiphys' Argo-shaped REST API: JSON calls and newline-delimited streams
// (watches and logs). Every call carries the bearer token when there is one.
import { getToken, unauthorized } from './auth.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(json) {
  const h = {};
  const t = getToken();
  if (t) h.Authorization = t;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

async function failure(res) {
  const text = await res.text().catch(() => '');
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  const message = (data && (data.message || data.error)) || text || `${res.status} ${res.statusText}`;
  if (res.status === 401) unauthorized(message);
  return new ApiError(res.status, data && data.code, message);
}

export async function request(method, path, body, { signal } = {}) {
  const res = await fetch(path, {
    method, signal, headers: headers(body !== undefined),
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body) => request('POST', path, body ?? {});
export const put = (path, body) => request('PUT', path, body ?? {});
export const del = (path) => request('DELETE', path);

// `?a=1&b=2` from an object, leaving out empty values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
export const wfPath = (ns, name, suffix = '') => `/api/v1/workflows/${enc(ns)}/${enc(name)}${suffix}`;

// Read a newline-delimited JSON stream, calling onItem(result) per line; resolves at its end.
export async function stream(path, onItem, { signal } = {}) {
  const res = await fetch(path, { headers: headers(false), signal });
  if (!res.ok) throw await failure(res);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const obj = JSON.parse(line);
      if (obj.error) throw new ApiError(500, obj.error.code, obj.error.message || JSON.stringify(obj.error));
      onItem(obj.result ?? obj);
    }
  }
  if (buf.trim()) onItem(JSON.parse(buf).result);
}

// A watch that reconnects (with backoff) until closed. onEvent({type, object}).
export function watch(path, onEvent, { onError } = {}) {
  const ctl = new AbortController();
  let delay = 500;
  let closed = false;
  (async () => {
    while (!closed) {
      try {
        await stream(path, (ev) => { delay = 500; onEvent(ev); }, { signal: ctl.signal });
      } catch (err) {
        if (closed || err.name === 'AbortError') return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) { onError?.(err); return; }
        onError?.(err);
      }
      if (closed) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  })();
  return { close() { closed = true; ctl.abort(); } };
}
