// The router: the URL fragment picks a view; each view mounts into <main> and returns a
// cleanup function (closing its streams) run before the next one mounts.
import { clearToken, renderLogin, setUnauthorizedHandler, updateLogout } from './auth.js';
import { clearBanner } from './util.js';

const view = document.getElementById('view');
let cleanup = null;
let generation = 0;

const ROUTES = [
  [/^#?\/?(?:workflows)?\/?$/, 'workflows', () => import('./list.js').then((m) => m.mountList)],
  [/^#\/workflows\/([^/]+)\/([^/]+)$/, 'workflows', () => import('./workflow.js').then((m) => m.mountWorkflow)],
  [/^#\/submit$/, 'submit', () => import('./submit.js').then((m) => m.mountSubmit)],
  [/^#\/templates\/?$/, 'templates', () => import('./templates.js').then((m) => m.mountTemplates)],
  [/^#\/templates\/([^/]+)\/([^/]+)$/, 'templates', () => import('./templates.js').then((m) => m.mountTemplate)],
  [/^#\/cluster-templates\/([^/]+)$/, 'templates', () => import('./templates.js').then((m) => m.mountClusterTemplate)],
  [/^#\/cron\/?$/, 'cron', () => import('./events.js').then((m) => m.mountCron)],
  [/^#\/events\/?$/, 'events', () => import('./events.js').then((m) => m.mountEvents)],
];

function unmount() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } }
  cleanup = null;
  view.className = '';
  view.innerHTML = '';
}

async function route() {
  const gen = ++generation;
  unmount();
  clearBanner();
  const path = location.hash.split('?')[0];
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found) { view.innerHTML = '<p class="error">No such page.</p>'; return; }
  const [re, nav, load] = found;
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
  const args = path.match(re).slice(1).map(decodeURIComponent);
  const mount = await load();
  if (gen !== generation) return;
  cleanup = mount(view, ...args) || null;
}

// Any 401: drop whatever is on screen (nothing of any workflow stays visible) and ask for a token.
setUnauthorizedHandler((message) => {
  generation++;
  unmount();
  clearBanner();
  renderLogin(view, message, () => route());
});

document.getElementById('logout').addEventListener('click', () => {
  clearToken();
  route();
});

window.addEventListener('hashchange', route);
updateLogout();
route();
