// WorkflowTemplates and ClusterWorkflowTemplates: list, detail (YAML), submit with parameters.
import { enc, get } from './api.js';
import { clearBanner, esc, fmtTime, hashQuery, html, showError } from './util.js';
import { paramFields, submitFromTemplate } from './submit.js';
import { dump } from '../vendor/js-yaml.esm.min.js';

export function mountTemplates(root) {
  const ns = hashQuery().get('ns') || localStorage.getItem('tiphys.namespace') || 'default';
  const el = html(`<section>
    <form class="toolbar"><label>namespace <input name="ns" size="14"></label></form>
    <h2>WorkflowTemplates</h2>
    <table class="grid tmpl-list"><thead><tr><th>Name</th><th>Namespace</th><th>Created</th><th>Parameters</th></tr></thead><tbody></tbody></table>
    <h2>ClusterWorkflowTemplates</h2>
    <table class="grid ctmpl-list"><thead><tr><th>Name</th><th>Created</th><th>Parameters</th></tr></thead><tbody></tbody></table>
  </section>`);
  root.append(el);
  const form = el.querySelector('form');
  form.addEventListener('submit', (e) => e.preventDefault());
  form.ns.value = ns;
  const params = (t) => esc((t.spec?.arguments?.parameters || []).map((p) => p.name).join(', '));

  async function load() {
    const n = form.ns.value.trim() || 'default';
    history.replaceState(null, '', `#/templates?ns=${enc(n)}`);
    try {
      const a = await get(`/api/v1/workflow-templates/${enc(n)}`);
      el.querySelector('.tmpl-list tbody').innerHTML = (a.items || []).map((t) => `<tr>
        <td><a href="#/templates/${enc(t.metadata.namespace || n)}/${enc(t.metadata.name)}">${esc(t.metadata.name)}</a></td>
        <td>${esc(t.metadata.namespace || n)}</td><td>${fmtTime(t.metadata.creationTimestamp)}</td><td>${params(t)}</td></tr>`).join('')
        || '<tr><td colspan="4" class="muted">none</td></tr>';
      const c = await get('/api/v1/cluster-workflow-templates');
      el.querySelector('.ctmpl-list tbody').innerHTML = (c.items || []).map((t) => `<tr>
        <td><a href="#/cluster-templates/${enc(t.metadata.name)}">${esc(t.metadata.name)}</a></td>
        <td>${fmtTime(t.metadata.creationTimestamp)}</td><td>${params(t)}</td></tr>`).join('')
        || '<tr><td colspan="3" class="muted">none</td></tr>';
    } catch (err) { showError(`Cannot list templates: ${err.message}`); }
  }
  form.ns.addEventListener('change', load);
  load();
  return null;
}

function detail(root, path, kind, ns) {
  const el = html(`<section>
    <h2 class="title"></h2>
    <div class="submit-grid">
      <form class="card"><h3>Submit</h3><div class="params"></div><p><button class="primary" type="submit">Submit</button></p></form>
      <div class="card"><h3>YAML</h3><pre class="code" data-testid="template-yaml"></pre></div>
    </div></section>`);
  root.append(el);
  const form = el.querySelector('form');
  get(path).then((t) => {
    el.querySelector('.title').textContent = `${kind} ${t.metadata.name}`;
    el.querySelector('.params').innerHTML = paramFields(t);
    el.querySelector('pre').textContent = dump(t, { lineWidth: 120, noRefs: true });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearBanner();
      try {
        const wf = await submitFromTemplate(ns, kind, t.metadata.name, form);
        location.hash = `#/workflows/${enc(wf.metadata.namespace)}/${enc(wf.metadata.name)}`;
      } catch (err) { showError(`Submit failed: ${err.message}`); }
    });
  }).catch((err) => showError(`Cannot show ${kind}: ${err.message}`));
  return null;
}

export const mountTemplate = (root, ns, name) =>
  detail(root, `/api/v1/workflow-templates/${enc(ns)}/${enc(name)}`, 'WorkflowTemplate', ns);

export const mountClusterTemplate = (root, name) =>
  detail(root, `/api/v1/cluster-workflow-templates/${enc(name)}`, 'ClusterWorkflowTemplate',
    localStorage.getItem('tiphys.namespace') || 'default');
