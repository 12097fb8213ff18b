// Workflow actions, with Argo Server's paths and bodies. Each answers the API's result or
// throws ApiError, whose message the caller shows as it is.
import { del, put, wfPath } from './api.js';
import { DONE } from './util.js';

const running = (wf) => !DONE.has(wf.status?.phase);
const suspended = (wf) => Boolean(wf.spec?.suspend) ||
  Object.values(wf.status?.nodes || {}).some((n) => n.type === 'Suspend' && n.phase === 'Running');

// [name, label, enabled(wf), confirm question or null, run(wf) -> Promise]
export const ACTIONS = [
  ['retry', 'Retry', (wf) => ['Failed', 'Error'].includes(wf.status?.phase), null,
    (wf) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/retry'), { name: wf.metadata.name, namespace: wf.metadata.namespace })],
  ['resubmit', 'Resubmit', () => true, null,
    (wf) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/resubmit'), { name: wf.metadata.name, namespace: wf.metadata.namespace, memoized: false })],
  ['suspend', 'Suspend', (wf) => running(wf) && !suspended(wf), null,
    (wf) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/suspend'), { name: wf.metadata.name, namespace: wf.metadata.namespace })],
  ['resume', 'Resume', (wf) => running(wf) && suspended(wf), null,
    (wf) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/resume'), { name: wf.metadata.name, namespace: wf.metadata.namespace })],
  ['stop', 'Stop', running, 'Stop this workflow (exit handlers still run)?',
    (wf) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/stop'), { name: wf.metadata.name, namespace: wf.metadata.namespace })],
  ['terminate', 'Terminate', running, 'Terminate this workflow now?',
    (wf) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/terminate'), { name: wf.metadata.name, namespace: wf.metadata.namespace })],
  ['delete', 'Delete', () => true, 'Delete this workflow?',
    (wf) => del(wfPath(wf.metadata.namespace, wf.metadata.name))],
];

// Retry from one node: that node and what follows run again, successful nodes before it are kept.
export const retryFromNode = (wf, nodeId) => put(wfPath(wf.metadata.namespace, wf.metadata.name, '/retry'), {
  name: wf.metadata.name, namespace: wf.metadata.namespace, restartSuccessful: true, nodeFieldSelector: `id=${nodeId}`,
});

export function actionButtons() {
  return ACTIONS.map(([name, label]) => `<button type="button" data-action="${name}"${name === 'delete' || name === 'terminate' ? ' class="danger"' : ''}>${label}</button>`).join('');
}

export function refreshButtons(root, wf) {
  for (const [name, , enabled] of ACTIONS) {
    const b = root.querySelector(`[data-action="${name}"]`);
    if (b) b.disabled = !enabled(wf);
  }
}

export async function runAction(name, wf) {
  const found = ACTIONS.find(([n]) => n === name);
  if (!found) throw new Error(`unknown action ${name}`);
  const [, label, , question, run] = found;
  if (question && !window.confirm(question)) return { cancelled: true, label };
  return { result: await run(wf), label };
}
