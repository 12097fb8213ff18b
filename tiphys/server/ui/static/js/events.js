// CronWorkflows, EventSources and Sensors: what is scheduled or listening, and the workflows
// each one started (found by Argo's labels: workflows.argoproj.io/cron-workflow,
// events.argoproj.io/sensor).
import { enc, get, request } from './api.js';
import { esc, fmtTime, hashQuery, html, phaseBadge, showError } from './util.js';

function namespaceForm(el, route, load) {
  const form = el.querySelector('form');
  form.addEventListener('submit', (e) => e.preventDefault());
  form.ns.value = hashQuery().get('ns') || localStorage.getItem('tiphys.namespace') || 'default';
  const run = () => {
    const n = form.ns.value.trim() || 'default';
    history.replaceState(null, '', `#/${route}?ns=${enc(n)}`);
    load(n).catch((err) => showError(`Cannot list: ${err.message}`));
  };
  form.ns.addEventListener('change', run);
  run();
}

async function runs(ns, label, value) {
  const sel = enc(`${label}=${value}`);
  const a = await get(`/api/v1/workflows/${enc(ns)}?listOptions.labelSelector=${sel}&listOptions.limit=5` +
    '&fields=items.metadata.name,items.metadata.namespace,items.status.phase');
  return (a.items || []).map((w) => `<a href="#/workflows/${enc(w.metadata.namespace)}/${enc(w.metadata.name)}">` +
    `${esc(w.metadata.name)}</a> ${phaseBadge(w.status?.phase)}`).join('<br>') || '<span class="muted">none</span>';
}

const cond = (obj, type) => {
  const c = (obj.status?.conditions || []).find((x) => x.type === type);
  if (!c) return '<span class="muted">—</span>';
  return `<span class="${c.status === 'True' ? '' : 'error'}">${c.status === 'True' ? 'yes' : 'no'}</span>` +
    (c.message ? ` <small>${esc(c.message)}</small>` : '');
};

export function mountCron(root) {
  const el = html(`<section>
    <form class="toolbar"><label>namespace <input name="ns" size="14"></label></form>
    <h2>CronWorkflows</h2>
    <table class="grid cron-list"><thead><tr><th>Name</th><th>Schedules</th><th>Timezone</th><th>Suspended</th>
      <th>Last scheduled</th><th>Active</th><th>Succeeded / Failed</th><th>Recent runs</th><th></th></tr></thead>
      <tbody></tbody></table></section>`);
  root.append(el);
  const body = el.querySelector('tbody');
  async function load(ns) {
    const a = await get(`/api/v1/cron-workflows/${enc(ns)}`);
    const items = a.items || [];
    const rows = await Promise.all(items.map(async (c) => {
      const s = c.spec || {}, st = c.status || {};
      const scheds = (s.schedules || (s.schedule ? [s.schedule] : [])).join(', ');
      return `<tr data-name="${esc(c.metadata.name)}"><td>${esc(c.metadata.name)}</td><td><code>${esc(scheds)}</code></td>
        <td>${esc(s.timezone || '')}</td><td>${s.suspend ? 'yes' : 'no'}</td><td>${fmtTime(st.lastScheduledTime)}</td>
        <td>${(st.active || []).length}</td><td>${st.succeeded || 0} / ${st.failed || 0}</td>
        <td>${await runs(ns, 'workflows.argoproj.io/cron-workflow', c.metadata.name)}</td>
        <td><button type="button" data-op="${s.suspend ? 'resume' : 'suspend'}">${s.suspend ? 'Resume' : 'Suspend'}</button></td></tr>`;
    }));
    body.innerHTML = rows.join('') || '<tr><td colspan="9" class="muted">none</td></tr>';
    for (const b of body.querySelectorAll('button[data-op]')) {
      b.addEventListener('click', async () => {
        const name = b.closest('tr').dataset.name;
        try {
          await request('PUT', `/api/v1/cron-workflows/${enc(ns)}/${enc(name)}/${b.dataset.op}`, { namespace: ns, name });
          await load(ns);
        } catch (err) { showError(`${b.dataset.op} failed: ${err.message}`); }
      });
    }
  }
  namespaceForm(el, 'cron', load);
  return null;
}

function endpoints(es) {
  const out = [];
  for (const [type, events] of Object.entries(es.spec || {})) {
    if (!events || typeof events !== 'object' || ['template', 'service'].includes(type)) continue;
    for (const [name, cfg] of Object.entries(events)) {
      const hook = type === 'github' ? (cfg?.webhook || {}) : (cfg || {});
      const where = hook.port ? ` :${hook.port}${hook.endpoint || ''}` : (cfg?.schedule || cfg?.interval || '');
      out.push(`${esc(type)}/${esc(name)} <code>${esc(where)}</code>`);
    }
  }
  return out.join('<br>');
}

export function mountEvents(root) {
  const el = html(`<section>
    <form class="toolbar"><label>namespace <input name="ns" size="14"></label></form>
    <h2>EventSources</h2>
    <table class="grid es-list"><thead><tr><th>Name</th><th>Events</th><th>Listening</th></tr></thead><tbody></tbody></table>
    <h2>Sensors</h2>
    <table class="grid sensor-list"><thead><tr><th>Name</th><th>Dependencies</th><th>Triggers</th><th>Triggers ready</th>
      <th>Workflows triggered</th></tr></thead><tbody></tbody></table></section>`);
  root.append(el);
  async function load(ns) {
    const es = (await get(`/api/v1/event-sources/${enc(ns)}`)).items || [];
    el.querySelector('.es-list tbody').innerHTML = es.map((e) => `<tr><td>${esc(e.metadata.name)}</td>
      <td>${endpoints(e)}</td><td>${cond(e, 'Deployed')}</td></tr>`).join('')
      || '<tr><td colspan="3" class="muted">none</td></tr>';
    const sensors = (await get(`/api/v1/sensors/${enc(ns)}`)).items || [];
    const rows = await Promise.all(sensors.map(async (s) => {
      const deps = (s.spec?.dependencies || []).map((d) => `${esc(d.name)} ← ${esc(d.eventSourceName)}/${esc(d.eventName)}`);
      const trig = (s.spec?.triggers || []).map((t) => {
        const tp = t.template || {};
        const kind = ['argoWorkflow', 'k8s', 'log'].find((k) => k in tp) || Object.keys(tp).find((k) => k !== 'name') || '?';
        return `${esc(tp.name || '')} (${esc(kind)})`;
      });
      return `<tr><td>${esc(s.metadata.name)}</td><td>${deps.join('<br>')}</td><td>${trig.join('<br>')}</td>
        <td>${cond(s, 'TriggersReady')}</td><td>${await runs(ns, 'events.argoproj.io/sensor', s.metadata.name)}</td></tr>`;
    }));
    el.querySelector('.sensor-list tbody').innerHTML = rows.join('') || '<tr><td colspan="5" class="muted">none</td></tr>';
  }
  namespaceForm(el, 'events', load);
  return null;
}
