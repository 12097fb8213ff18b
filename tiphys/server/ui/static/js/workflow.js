// One workflow: header, actions, the graph (live), YAML and parameters tabs, the node panel.
import { actionButtons, refreshButtons, retryFromNode, runAction } from './actions.js';
import { enc, get, qs, watch, wfPath } from './api.js';
import { Graph } from './graph.js';
import { Latest } from './latest.js';
import { NodePanel } from './nodepanel.js';
import { clearBanner, duration, esc, fmtTime, html, phaseBadge, showError, showInfo, timings } from './util.js';
import { dump } from '../vendor/js-yaml.esm.min.js';

const THROTTLE_MS = 300;

function manifest(wf) {
  const { status, ...rest } = wf;
  const meta = { ...(rest.metadata || {}) };
  for (const k of ['managedFields', 'resourceVersion']) delete meta[k];
  return { ...rest, metadata: meta };
}

function parametersHtml(wf) {
  const rows = (list) => (list || []).map((p) => `<tr><th>${esc(p.name)}</th><td>${esc(p.value ?? p.default ?? '')}</td></tr>`).join('');
  const args = rows(wf.spec?.arguments?.parameters);
  const outs = rows(wf.status?.outputs?.parameters);
  return `<h3>Arguments</h3>${args ? `<table class="kv">${args}</table>` : '<p class="muted">none</p>'}
    <h3>Global outputs</h3>${outs ? `<table class="kv">${outs}</table>` : '<p class="muted">none</p>'}`;
}

export function mountWorkflow(root, ns, name) {
  const t0 = performance.now();
  root.className = 'full';
  const el = html(`<div style="display:contents">
    <div class="wf-head">
      <h1 data-testid="wf-name">${esc(name)}</h1><span class="phase-slot"></span>
      <span class="muted started"></span><span class="muted dur"></span><span class="muted progress"></span>
      <span class="msg"></span><span class="spacer"></span>
      <div class="actions">${actionButtons()}</div>
    </div>
    <div class="wf-body">
      <div class="wf-main">
        <div class="tabs"><button type="button" data-tab="graph" class="on">Graph</button><button type="button" data-tab="yaml">YAML</button><button type="button" data-tab="params">Parameters</button></div>
        <div class="wf-tab graph-tab" data-pane="graph"></div>
        <div class="wf-tab" data-pane="yaml" hidden><pre class="code" data-testid="yaml"></pre></div>
        <div class="wf-tab" data-pane="params" hidden></div>
      </div>
      <aside class="node-panel" hidden></aside>
    </div></div>`);
  root.append(el);
  const head = el.querySelector('.wf-head');
  let wf = null;
  let tab = 'graph';
  let closed = false;
  let live = null;

  const panel = new NodePanel(el.querySelector('aside'), {
    namespace: ns, name,
    onRetryNode: async (nodeId) => {
      try {
        await retryFromNode(wf, nodeId);
        showInfo(`Retrying ${name} from ${wf.status?.nodes?.[nodeId]?.displayName || nodeId}`);
      } catch (err) { showError(`Retry failed: ${err.message}`); }
    },
  });
  const graph = new Graph(el.querySelector('[data-pane=graph]'), {
    onSelect: (id) => { panel.show(id, wf); history.replaceState(null, '', `#/workflows/${enc(ns)}/${enc(name)}?node=${enc(id)}`); },
  });

  function renderHead() {
    const s = wf.status || {};
    head.querySelector('.phase-slot').innerHTML = phaseBadge(s.phase);
    head.querySelector('.started').textContent = s.startedAt ? `started ${fmtTime(s.startedAt)}` : '';
    head.querySelector('.dur').textContent = s.startedAt ? duration(s.startedAt, s.finishedAt) : '';
    head.querySelector('.progress').textContent = s.progress ? `progress ${s.progress}` : '';
    head.querySelector('.msg').textContent = s.message || '';
    head.querySelector('.msg').title = s.message || '';
    refreshButtons(head, wf);
  }

  function renderTab() {
    if (tab === 'yaml') el.querySelector('[data-testid=yaml]').textContent = dump(manifest(wf), { lineWidth: 120, noRefs: true });
    if (tab === 'params') el.querySelector('[data-pane=params]').innerHTML = parametersHtml(wf);
  }

  async function apply(next) {
    wf = next;
    renderHead();
    renderTab();
    panel.update(wf);
    const nodes = wf.status?.nodes || {};
    const r = await graph.update(nodes);
    if (closed) return;
    if (r.relaid) {
      requestAnimationFrame(() => {
        if (timings.graphRendered === undefined) {
          timings.graphRendered = performance.now() - t0;
          timings.graphNodes = Object.keys(nodes).length;
          timings.graphLayoutMs = r.layoutMs;
        }
        el.querySelector('[data-pane=graph]').dataset.nodes = String(Object.keys(nodes).length);
      });
    }
    el.querySelector('[data-pane=graph]').dataset.phase = wf.status?.phase || '';
  }

  const shown = new Latest(apply, THROTTLE_MS);   // watch events and action answers, in order

  el.querySelector('.tabs').addEventListener('click', (e) => {
    const t = e.target.dataset.tab;
    if (!t) return;
    tab = t;
    for (const b of el.querySelectorAll('[data-tab]')) b.classList.toggle('on', b.dataset.tab === t);
    for (const p of el.querySelectorAll('[data-pane]')) p.hidden = p.dataset.pane !== t;
    if (wf) renderTab();
  });

  head.querySelector('.actions').addEventListener('click', async (e) => {
    const name_ = e.target.dataset.action;
    if (!name_ || !wf) return;
    clearBanner();
    const mark = shown.begin();
    try {
      const { result, cancelled, label } = await runAction(name_, wf);
      if (cancelled) return;
      if (name_ === 'delete') { location.hash = `#/workflows`; return; }
      if (name_ === 'resubmit' && result?.metadata?.name) {
        location.hash = `#/workflows/${enc(result.metadata.namespace)}/${enc(result.metadata.name)}`;
        return;
      }
      shown.answer(mark, result);
      showInfo(`${label}: done`);
    } catch (err) {
      showError(`${e.target.textContent} failed: ${err.message}`);
    }
  });

  (async () => {
    try {
      const first = await get(wfPath(ns, name));
      if (closed) return;
      await shown.now(first);
      const nodeId = new URLSearchParams(location.hash.split('?')[1] || '').get('node');
      if (nodeId && wf.status?.nodes?.[nodeId]) { graph.select(nodeId); panel.show(nodeId, wf); }
    } catch (err) {
      if (!closed) { showError(`Cannot show workflow ${ns}/${name}: ${err.message}`); el.querySelector('.wf-body').hidden = true; }
      return;
    }
    if (closed) return;
    // No resourceVersion: the server then sends the workflow as it is first (one object), so
    // a change between the GET above (or before a reconnect) and the watch is not missed.
    live = watch(`/api/v1/workflow-events/${enc(ns)}` + qs({
      'listOptions.fieldSelector': `metadata.name=${name}`,
    }), (ev) => {
      if (ev.object?.metadata?.name !== name) return;
      if (ev.type === 'DELETED') { showError(`Workflow ${name} was deleted.`); return; }
      shown.event(ev.object);
    }, { onError: (err) => { if (err.status === 403) showError(err.message); } });
  })();

  const tick = setInterval(() => { if (wf && !wf.status?.finishedAt) renderHead(); }, 1000);
  return () => { closed = true; live?.close(); shown.close(); clearInterval(tick); graph.destroy(); panel.close(); };
}
