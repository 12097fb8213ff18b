// The workflows list: one page at a time, only the fields the table shows, filters kept in
// the URL fragment, rows updated live from the workflow-events stream.
import { enc, get, qs, watch } from './api.js';
import { getToken } from './auth.js';
import { DONE, PHASES, duration, esc, fmtTime, hashQuery, html, phaseBadge, showError, timings } from './util.js';

const PHASE_LABEL = 'workflows.argoproj.io/phase';
const ITEM_FIELDS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.creationTimestamp',
  'metadata.labels', 'status.phase', 'status.startedAt', 'status.finishedAt', 'status.progress', 'status.message'];
const LIST_FIELDS = ['metadata.continue', 'metadata.resourceVersion', ...ITEM_FIELDS.map((f) => `items.${f}`)].join(',');
const WATCH_FIELDS = ['result.type', ...ITEM_FIELDS.map((f) => `result.object.${f}`)].join(',');
const LIMITS = [20, 50, 100, 500];

function readFilters() {
  const q = hashQuery();
  return {
    ns: q.get('ns') ?? localStorage.getItem('tiphys.namespace') ?? '',
    name: q.get('name') || '',
    label: q.get('label') || '',
    phases: new Set((q.get('phase') || '').split(',').filter(Boolean)),
    limit: Number(q.get('limit')) || 50,
  };
}

function writeFilters(f) {
  const q = new URLSearchParams();
  if (f.ns) q.set('ns', f.ns);
  if (f.name) q.set('name', f.name);
  if (f.label) q.set('label', f.label);
  if (f.phases.size) q.set('phase', [...f.phases].join(','));
  if (f.limit !== 50) q.set('limit', String(f.limit));
  const s = q.toString();
  history.replaceState(null, '', `#/workflows${s ? `?${s}` : ''}`);
  localStorage.setItem('tiphys.namespace', f.ns);
}

function selectors(f) {
  const labels = [];
  if (f.phases.size) labels.push(`${PHASE_LABEL} in (${[...f.phases].join(',')})`);
  if (f.label.trim()) labels.push(f.label.trim());
  return {
    'listOptions.labelSelector': labels.join(','),
    'listOptions.fieldSelector': f.name.trim() ? `metadata.name=${f.name.trim()}` : '',
    nameFilter: f.name.trim() ? 'Contains' : '',
  };
}

const key = (wf) => `${wf.metadata.namespace}/${wf.metadata.name}`;

function rowHtml(wf) {
  const m = wf.metadata, s = wf.status || {};
  const href = `#/workflows/${enc(m.namespace)}/${enc(m.name)}`;
  return `<tr data-key="${esc(key(wf))}" data-phase="${esc(s.phase || 'Pending')}">
    <td>${phaseBadge(s.phase)}</td>
    <td class="name"><a href="${esc(href)}" title="${esc(s.message || m.name)}">${esc(m.name)}</a></td>
    <td>${esc(m.namespace)}</td>
    <td>${fmtTime(s.startedAt || m.creationTimestamp)}</td>
    <td class="dur">${duration(s.startedAt, s.finishedAt)}</td>
    <td>${esc(s.progress || '')}</td></tr>`;
}

export function mountList(root) {
  const f = readFilters();
  const pageTokens = [''];  // continue token of each page seen; the last is the current page
  let rows = [];            // the workflows shown, newest first
  let live = null;
  let ticker = null;
  let pending = new Map();
  let flush = 0;
  let loadSeq = 0;

  const el = html(`<section>
    <form class="toolbar">
      <input name="ns" placeholder="namespace (all)" size="14" aria-label="namespace">
      <input name="name" placeholder="name contains" size="18" aria-label="name">
      <input name="label" placeholder="labels: key=value,…" size="24" aria-label="labels">
      <span class="phases">${PHASES.map((p) => `<label><input type="checkbox" name="phase" value="${p}">${p}</label>`).join(' ')}</span>
      <select name="limit" aria-label="page size">${LIMITS.map((n) => `<option>${n}</option>`).join('')}</select>
      <span class="muted count"></span>
    </form>
    <table class="grid wf-list"><thead><tr><th>Phase</th><th>Name</th><th>Namespace</th><th>Started</th><th>Duration</th><th>Progress</th></tr></thead>
    <tbody></tbody></table>
    <p class="muted empty" hidden>No workflows.</p>
    <div class="pager"><button type="button" class="prev">‹ Newer</button><span class="muted page"></span><button type="button" class="next">Older ›</button></div>
  </section>`);
  root.append(el);
  const form = el.querySelector('form');
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('submit', (e) => e.preventDefault());
  const tbody = el.querySelector('tbody');
  form.ns.value = f.ns; form.name.value = f.name; form.label.value = f.label; form.limit.value = String(f.limit);
  for (const c of form.querySelectorAll('[name=phase]')) c.checked = f.phases.has(c.value);

  const base = () => (f.ns ? `/api/v1/workflows/${enc(f.ns)}` : '/api/v1/workflows');

  function render() {
    tbody.innerHTML = rows.map(rowHtml).join('');
    el.querySelector('.empty').hidden = rows.length > 0;
    el.querySelector('.page').textContent = `page ${pageTokens.length}`;
    el.querySelector('.prev').disabled = pageTokens.length <= 1;
  }

  async function load() {
    const seq = ++loadSeq;
    live?.close();
    const token = pageTokens[pageTokens.length - 1];
    const t0 = performance.now();
    let answer;
    try {
      answer = await get(base() + qs({
        ...selectors(f), 'listOptions.limit': f.limit, 'listOptions.continue': token, fields: LIST_FIELDS,
      }));
    } catch (err) {
      if (seq === loadSeq) { showError(`Cannot list workflows: ${err.message}`); rows = []; render(); }
      return;
    }
    if (seq !== loadSeq) return;
    rows = answer.items || [];
    const next = answer.metadata?.continue || '';
    el.querySelector('.next').disabled = !next;
    el.querySelector('.next').dataset.token = next;
    render();
    const rendered = performance.now();
    requestAnimationFrame(() => {
      timings.listRequestMs = rendered - t0;
      if (timings.listFirstPage === undefined) timings.listFirstPage = performance.now();
      el.dataset.loaded = String(seq);
    });
    startWatch(answer.metadata?.resourceVersion);
  }

  // Live updates: rows on this page change in place; on the first page new workflows appear
  // on top. Events are applied once per frame.
  function startWatch(resourceVersion) {
    live = watch(`/api/v1/workflow-events/${enc(f.ns)}` + qs({
      ...selectors(f), 'listOptions.resourceVersion': resourceVersion, fields: WATCH_FIELDS,
    }), (ev) => {
      if (!ev?.object?.metadata) return;
      pending.set(key(ev.object), ev);
      if (!flush) flush = requestAnimationFrame(applyEvents);
    });
  }

  function applyEvents() {
    flush = 0;
    const events = pending;
    pending = new Map();
    const first = pageTokens.length === 1;
    const newest = rows.length ? rows[0].metadata.creationTimestamp || '' : '';
    const byKey = new Map(rows.map((r, i) => [key(r), i]));
    let added = false;
    for (const [k, ev] of events) {
      const i = byKey.get(k);
      if (ev.type === 'DELETED') {
        if (i !== undefined) { rows[i] = null; }
        continue;
      }
      if (i !== undefined) {
        rows[i] = ev.object;
        const tr = tbody.querySelector(`tr[data-key="${CSS.escape(k)}"]`);
        if (tr) tr.outerHTML = rowHtml(ev.object);
      } else if (first && (ev.object.metadata.creationTimestamp || '') >= newest) {
        rows.unshift(ev.object);
        added = true;
      }
    }
    const before = rows.length;
    rows = rows.filter(Boolean);
    if (added || rows.length !== before) {
      rows.sort((a, b) => (b.metadata.creationTimestamp || '').localeCompare(a.metadata.creationTimestamp || ''));
      rows = rows.slice(0, f.limit);
      render();
    }
  }

  let debounce = 0;
  form.addEventListener('input', (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      f.ns = form.ns.value.trim(); f.name = form.name.value; f.label = form.label.value;
      f.limit = Number(form.limit.value);
      f.phases = new Set([...form.querySelectorAll('[name=phase]:checked')].map((c) => c.value));
      writeFilters(f);
      pageTokens.length = 1;
      load();
    }, e.target.type === 'checkbox' || e.target.tagName === 'SELECT' ? 0 : 300);
  });
  el.querySelector('.next').addEventListener('click', (e) => { pageTokens.push(e.target.dataset.token); load(); });
  el.querySelector('.prev').addEventListener('click', () => { pageTokens.pop(); load(); });

  // Durations of running workflows tick.
  ticker = setInterval(() => {
    for (const tr of tbody.querySelectorAll('tr[data-phase="Running"], tr[data-phase="Pending"]')) {
      const wf = rows.find((r) => key(r) === tr.dataset.key);
      if (wf && !DONE.has(wf.status?.phase)) tr.querySelector('.dur').textContent = duration(wf.status?.startedAt, null);
    }
  }, 1000);

  // A token limited to some namespaces may not list them all: start in its first one.
  if (!f.ns && getToken()) {
    get('/api/v1/userinfo').then((u) => {
      const nss = (u?.groups || []).filter((g) => g.startsWith('namespace:')).map((g) => g.slice(10));
      if (nss.length && !nss.includes('*')) { f.ns = nss[0]; form.ns.value = f.ns; writeFilters(f); }
      load();
    }).catch(() => load());
  } else {
    load();
  }
  return () => { loadSeq++; live?.close(); clearInterval(ticker); clearTimeout(debounce); cancelAnimationFrame(flush); };
}
