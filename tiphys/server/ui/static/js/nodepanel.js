// The side panel of one node: summary, inputs, outputs, artifacts (download), logs (streamed
// while the node runs), and "retry from here".
import { enc, stream, wfPath } from './api.js';
import { ARTIFACT_PATH } from './auth.js';
import { DONE, duration, esc, fmtTime, phaseBadge } from './util.js';

const MAX_VALUE = 2000;
const clip = (v) => { const t = String(v); return t.length > MAX_VALUE ? `${t.slice(0, MAX_VALUE)}… (${t.length} characters)` : t; };

function kv(rows) {
  const body = rows.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v, raw]) => `<tr><th>${esc(k)}</th><td>${raw ? v : esc(clip(v))}</td></tr>`).join('');
  return body ? `<table class="kv">${body}</table>` : '<p class="muted">none</p>';
}

function params(list) {
  return kv((list || []).map((p) => [p.name, p.value ?? p.default ?? '']));
}

export class NodePanel {
  constructor(aside, { namespace, name, onRetryNode }) {
    this.aside = aside;
    this.ns = namespace;
    this.wfName = name;
    this.onRetryNode = onRetryNode;
    this.nodeId = null;
    this.logs = null;
    this.lastKey = '';
    aside.addEventListener('click', (e) => this.click(e));
  }

  close() {
    this.logs?.abort();
    this.logs = null;
    this.nodeId = null;
    this.aside.hidden = true;
    this.aside.innerHTML = '';
  }

  show(nodeId, wf) {
    if (nodeId !== this.nodeId) { this.logs?.abort(); this.logs = null; this.lastKey = ''; }
    this.nodeId = nodeId;
    this.update(wf);
  }

  // Re-render when the node changed (keeping the log view as it is).
  update(wf) {
    if (!this.nodeId) return;
    const node = wf.status?.nodes?.[this.nodeId];
    if (!node) { this.close(); return; }
    const k = JSON.stringify(node) + (wf.status?.phase || '');
    if (k === this.lastKey) return;
    this.lastKey = k;
    this.wf = wf;
    this.node = node;
    const logsPre = this.aside.querySelector('pre.logs');
    const inp = node.inputs || {}, out = node.outputs || {};
    const href = (a) => `${ARTIFACT_PATH}${enc(this.ns)}/workflows/${enc(this.wfName)}/${enc(node.id)}/outputs/${enc(a)}`;
    const outArtifacts = (out.artifacts || []).map((a) => `<li>${esc(a.name)}${a.path ? ` <span class="muted">${esc(a.path)}</span>` : ''}
      <a class="button" href="${esc(href(a.name))}" download="${esc(a.name)}" data-artifact="${esc(a.name)}">Download</a></li>`).join('');
    const inArtifacts = (inp.artifacts || []).map((a) => `<li>${esc(a.name)}${a.path ? ` <span class="muted">${esc(a.path)}</span>` : ''}</li>`).join('');
    const failedWf = ['Failed', 'Error'].includes(wf.status?.phase);
    const isPod = node.type === 'Pod' || node.podName;
    this.aside.hidden = false;
    this.aside.innerHTML = `
      <h2 data-testid="node-title">${esc(node.displayName || node.name)}</h2>
      <div class="actions"><button type="button" data-close>Close</button>
        <button type="button" data-retry-node ${failedWf ? '' : 'disabled'} title="retry the workflow from this node">Retry from here</button></div>
      <h3>Summary</h3>
      ${kv([['Phase', phaseBadge(node.phase), true], ['Message', node.message], ['Type', node.type], ['Template', node.templateName],
    ['Started', fmtTime(node.startedAt)], ['Finished', fmtTime(node.finishedAt)], ['Duration', duration(node.startedAt, node.finishedAt)],
    ['Exit code', out.exitCode], ['Pod', node.podName], ['ID', node.id], ['Name', node.name]])}
      <h3>Inputs</h3>${params(inp.parameters)}${inArtifacts ? `<ul>${inArtifacts}</ul>` : ''}
      <h3>Outputs</h3>${kv([...(out.parameters || []).map((p) => [p.name, p.value ?? '']), ['result', out.result]])}
      <h3>Artifacts</h3>${outArtifacts ? `<ul class="artifacts">${outArtifacts}</ul>` : '<p class="muted">none</p>'}
      ${isPod ? `<h3>Logs</h3><button type="button" data-logs>${this.logs ? 'Reload logs' : 'Show logs'}</button>` : ''}
      <div class="log-box"></div>`;
    if (logsPre) this.aside.querySelector('.log-box').append(logsPre);
  }

  click(e) {
    const t = e.target;
    if (t.matches('[data-close]')) this.close();
    else if (t.matches('[data-logs]')) this.showLogs();
    else if (t.matches('[data-retry-node]')) this.onRetryNode(this.nodeId);
  }

  // Stream the node's log lines; follow while the node has not finished.
  showLogs() {
    this.logs?.abort();
    const ctl = new AbortController();
    this.logs = ctl;
    const box = this.aside.querySelector('.log-box');
    box.innerHTML = '<pre class="logs" data-testid="logs"></pre>';
    const pre = box.querySelector('pre');
    const node = this.node;
    const follow = !DONE.has(node.phase) && node.phase !== 'Skipped' && node.phase !== 'Omitted';
    const path = wfPath(this.ns, this.wfName, '/log') + `?podName=${enc(node.podName || node.id)}&logOptions.container=main` +
      (follow ? '&logOptions.follow=true' : '');
    let lines = 0;
    stream(path, (r) => {
      lines += 1;
      pre.append(`${r.content}\n`);
      if (pre.scrollHeight - pre.scrollTop - pre.clientHeight < 60) pre.scrollTop = pre.scrollHeight;
    }, { signal: ctl.signal }).then(() => {
      if (!lines && this.logs === ctl) pre.textContent = '(no log lines)';
      pre.dataset.done = 'true';
    }).catch((err) => {
      if (err.name !== 'AbortError') pre.append(`\n[cannot read logs: ${err.message}]`);
    });
  }
}
