// Submitting: a Workflow pasted or uploaded as YAML, or one made from a WorkflowTemplate
// with its parameters filled in.
import { enc, get, post } from './api.js';
import { clearBanner, esc, hashQuery, html, showError } from './util.js';
import { loadAll } from '../vendor/js-yaml.esm.min.js';

const defaultNs = () => localStorage.getItem('tiphys.namespace') || 'default';

// The Workflow document of a YAML text; a clear message when there is none or it is not YAML.
export function parseWorkflow(text) {
  let docs;
  try { docs = loadAll(text).filter((d) => d != null); } catch (err) {
    throw new Error(`the YAML does not parse: ${err.message}`);
  }
  const wfs = docs.filter((d) => typeof d === 'object' && (d.kind === 'Workflow' || d.kind === undefined));
  if (!wfs.length) throw new Error('the YAML has no document of kind Workflow');
  if (wfs.length > 1) throw new Error(`the YAML has ${wfs.length} Workflow documents: submit one at a time`);
  return wfs[0];
}

const goTo = (wf) => { location.hash = `#/workflows/${enc(wf.metadata.namespace)}/${enc(wf.metadata.name)}`; };

// The parameter inputs of a template (enum -> select).
export function paramFields(tmpl) {
  const ps = tmpl.spec?.arguments?.parameters || [];
  if (!ps.length) return '<p class="muted">This template takes no parameters.</p>';
  return ps.map((p) => {
    const v = p.value ?? p.default ?? '';
    const id = `param-${p.name}`;
    const input = p.enum
      ? `<select id="${esc(id)}" data-param="${esc(p.name)}">${p.enum.map((o) => `<option${String(o) === String(v) ? ' selected' : ''}>${esc(o)}</option>`).join('')}</select>`
      : `<input id="${esc(id)}" data-param="${esc(p.name)}" value="${esc(v)}">`;
    return `<label for="${esc(id)}">${esc(p.name)}${p.description ? ` <span class="muted">${esc(p.description)}</span>` : ''}</label>${input}`;
  }).join('');
}

export async function submitFromTemplate(ns, kind, name, root) {
  const parameters = [...root.querySelectorAll('[data-param]')].map((i) => `${i.dataset.param}=${i.value}`);
  return post(`/api/v1/workflows/${enc(ns)}/submit`, { resourceKind: kind, resourceName: name, submitOptions: { parameters } });
}

export function mountSubmit(root) {
  const q = hashQuery();
  const el = html(`<section class="submit-grid">
    <form class="card yaml-form">
      <h2>Workflow YAML</h2>
      <div class="toolbar"><input type="file" name="file" accept=".yaml,.yml,.json" aria-label="upload YAML">
        <label>namespace <input name="ns" size="12" placeholder="from the YAML or default"></label></div>
      <textarea name="yaml" spellcheck="false" aria-label="workflow YAML" placeholder="apiVersion: argoproj.io/v1alpha1&#10;kind: Workflow&#10;…"></textarea>
      <p><button type="submit" class="primary">Submit</button></p>
    </form>
    <form class="card tmpl-form">
      <h2>From a WorkflowTemplate</h2>
      <div class="toolbar"><label>namespace <input name="ns" size="12"></label>
        <select name="template" aria-label="template"><option value="">— pick a template —</option></select></div>
      <div class="params"></div>
      <p><button type="submit" class="primary" disabled>Submit from template</button></p>
    </form></section>`);
  root.append(el);
  const yf = el.querySelector('.yaml-form');
  const tf = el.querySelector('.tmpl-form');
  tf.ns.value = q.get('ns') || defaultNs();
  let templates = [];

  yf.file.addEventListener('change', async () => {
    const f = yf.file.files[0];
    if (f) yf.yaml.value = await f.text();
  });
  yf.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearBanner();
    let wf;
    try { wf = parseWorkflow(yf.yaml.value); } catch (err) { showError(`Cannot submit: ${err.message}`); return; }
    const ns = yf.ns.value.trim() || wf.metadata?.namespace || defaultNs();
    try { goTo(await post(`/api/v1/workflows/${enc(ns)}`, { workflow: wf })); } catch (err) { showError(`Submit failed: ${err.message}`); }
  });

  async function loadTemplates() {
    const ns = tf.ns.value.trim() || 'default';
    try {
      const [a, c] = await Promise.all([get(`/api/v1/workflow-templates/${enc(ns)}`), get('/api/v1/cluster-workflow-templates').catch(() => ({}))]);
      templates = [...(a.items || []).map((t) => ['WorkflowTemplate', t]), ...(c.items || []).map((t) => ['ClusterWorkflowTemplate', t])];
    } catch (err) { showError(`Cannot list templates: ${err.message}`); templates = []; }
    tf.template.innerHTML = '<option value="">— pick a template —</option>' + templates.map(([k, t], i) =>
      `<option value="${i}">${esc(t.metadata.name)}${k === 'ClusterWorkflowTemplate' ? ' (cluster)' : ''}</option>`).join('');
    const want = q.get('template');
    const i = templates.findIndex(([, t]) => t.metadata.name === want);
    if (i >= 0) { tf.template.value = String(i); pick(); }
  }
  function pick() {
    const found = templates[Number(tf.template.value)];
    tf.querySelector('.params').innerHTML = found && tf.template.value !== '' ? paramFields(found[1]) : '';
    tf.querySelector('button[type=submit]').disabled = !found || tf.template.value === '';
  }
  tf.template.addEventListener('change', pick);
  tf.ns.addEventListener('change', loadTemplates);
  tf.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearBanner();
    const [kind, t] = templates[Number(tf.template.value)];
    try { goTo(await submitFromTemplate(tf.ns.value.trim() || 'default', kind, t.metadata.name, tf)); } catch (err) { showError(`Submit failed: ${err.message}`); }
  });
  loadTemplates();
  return null;
}
