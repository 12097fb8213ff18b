// Small helpers shared by the views: escaping, times and durations, the banner.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

export const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Error'];
export const DONE = new Set(['Succeeded', 'Failed', 'Error']);

export function phaseBadge(phase) {
  const p = phase || 'Pending';
  return `<span class="phase phase-${esc(p)}" data-phase="${esc(p)}">${esc(p)}</span>`;
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return esc(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function seconds(start, end) {
  if (!start) return null;
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : Date.now();
  return Number.isNaN(a) || Number.isNaN(b) ? null : Math.max(0, (b - a) / 1000);
}

export function fmtDuration(sec) {
  if (sec == null) return '';
  sec = Math.round(sec);
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export const duration = (start, end) => fmtDuration(seconds(start, end));

export function html(text) {
  const t = document.createElement('template');
  t.innerHTML = text.trim();
  return t.content.firstElementChild;
}

// The banner under the header: errors from the API, shown plainly.
export function showError(message) {
  const b = document.getElementById('banner');
  b.className = '';
  b.textContent = message;
  b.hidden = false;
}
export function showInfo(message) {
  const b = document.getElementById('banner');
  b.className = 'info';
  b.textContent = message;
  b.hidden = false;
}
export function clearBanner() {
  const b = document.getElementById('banner');
  b.hidden = true;
  b.textContent = '';
}

export function hashQuery() {
  const h = location.hash;
  const i = h.indexOf('?');
  return new URLSearchParams(i >= 0 ? h.slice(i + 1) : '');
}

// Timings the browser tests read (performance.now() values, ms since navigation).
export const timings = (window.__tiphysTimings = window.__tiphysTimings || {});
