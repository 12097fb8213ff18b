// The workflow graph: every node of status.nodes, edges from `children`, laid out by dagre
// (in a worker; what it is given, including big loops as blocks, is layout.js's) once per
// change of structure; phase changes only recolour. Drawn as one SVG moved and scaled by a
// single CSS transform set at most once per animation frame, whatever the number of wheel or
// pointer events (composited while it moves; no node element is touched and nothing is
// measured per event); far out, labels are hidden by one class on the svg.
import { BOUNDARY_TYPES, GROUP_TYPES, groups, layoutInput, size } from './layout.js';
import { esc } from './util.js';

const FAR = 0.4;

function label(node) {
  const t = node.displayName || node.name || node.id;
  return t.length > 24 ? `${t.slice(0, 23)}…` : t;
}

function nodeClass(node, selected) {
  const kind = GROUP_TYPES.has(node.type) ? ' grp' : BOUNDARY_TYPES.has(node.type) ? ' bnd' : '';
  const suspend = node.type === 'Suspend' ? ' suspend' : '';
  return `n p-${node.phase || 'Pending'}${kind}${suspend}${selected ? ' sel' : ''}`;
}

export function structureKey(nodes) {
  const ids = Object.keys(nodes).sort();
  let k = '';
  for (const id of ids) k += `${id}>${(nodes[id].children || []).join(',')};`;
  return k;
}

export class Graph {
  constructor(container, { onSelect } = {}) {
    this.container = container;
    this.onSelect = onSelect || (() => {});
    this.nodes = {};
    this.key = null;
    this.els = new Map();
    this.selected = null;
    this.view = { x: 0, y: 0, k: 1 };
    this.follow = 'start';  // the view after a relayout: 'start' (initialView), 'fit', null (left as it is)
    this.size = { width: 0, height: 0 };
    this.layoutId = 0;
    this.worker = new Worker(new URL('./layout-worker.js', import.meta.url), { type: 'module' });
    this.pendingLayout = null;
    this.worker.onmessage = (e) => this.pendingLayout?.(e.data);
    container.innerHTML = `<div class="graph-wrap"><svg class="graph" xmlns="http://www.w3.org/2000/svg" data-testid="graph"><g class="vp"></g></svg></div>
      <div class="graph-status muted"></div>
      <div class="graph-tools"><button type="button" data-z="in" title="zoom in">+</button><button type="button" data-z="out" title="zoom out">−</button><button type="button" data-z="fit">Fit</button></div>
      <div class="graph-legend">scroll to zoom · drag to pan · click a node</div>`;
    this.wrap = container.querySelector('.graph-wrap');
    this.svg = container.querySelector('svg');
    this.vp = this.svg.querySelector('.vp');
    this.status = container.querySelector('.graph-status');
    this.box = null;  // the wrap's client rect, measured again only after it resized
    this.resized = new ResizeObserver(() => { this.box = null; });
    this.resized.observe(this.wrap);
    this.bindPanZoom();
    container.querySelector('.graph-tools').addEventListener('click', (e) => {
      const z = e.target.dataset.z;
      const r = this.rect();
      if (z === 'fit') { this.follow = 'fit'; this.fit(); } else this.zoomAt(r.width / 2, r.height / 2, z === 'in' ? 1.4 : 1 / 1.4);
    });
  }

  destroy() { this.worker.terminate(); this.resized.disconnect(); this.pendingLayout = null; clearTimeout(this.rest); }

  rect() { return this.box || (this.box = this.wrap.getBoundingClientRect()); }

  // New node map: relayout when nodes or edges changed, otherwise recolour what changed.
  async update(nodes) {
    const key = structureKey(nodes);
    if (key === this.key) {
      for (const [id, n] of Object.entries(nodes)) {
        if (this.nodes[id]?.phase !== n.phase) this.els.get(id)?.setAttribute('class', nodeClass(n, id === this.selected));
      }
      this.nodes = nodes;
      return { relaid: false };
    }
    this.key = key;
    this.nodes = nodes;
    const id = ++this.layoutId;
    if (!this.els.size) this.status.textContent = `laying out ${Object.keys(nodes).length} nodes…`;
    const { blocks, ...msg } = layoutInput(nodes);
    msg.id = id;
    this.blocks = blocks;
    const result = await new Promise((resolve) => {
      this.pendingLayout = (data) => { if (data.id === this.layoutId) resolve(data); };
      this.worker.postMessage(msg);
    });
    if (id !== this.layoutId) return { relaid: false };
    this.draw(result, this.nodes);
    this.status.textContent = '';
    return { relaid: true, layoutMs: result.ms };
  }

  draw(layout, nodes) {
    const parts = [];
    let d = '';
    for (const pts of layout.edges) {
      d += `M${pts[0]} ${pts[1]}`;
      for (let i = 2; i < pts.length; i += 2) d += `L${pts[i]} ${pts[i + 1]}`;
    }
    for (const g of groups(nodes)) {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const c of this.blocks[g.id]?.members || g.kids) {
        const p = layout.nodes[c];
        if (!p) continue;
        const [w, h] = size(nodes[c]);
        x0 = Math.min(x0, p[0] - w / 2); x1 = Math.max(x1, p[0] + w / 2);
        y0 = Math.min(y0, p[1] - h / 2); y1 = Math.max(y1, p[1] + h / 2);
      }
      if (x0 === Infinity) continue;
      parts.push(`<rect class="box ${g.kind}" x="${x0 - 8}" y="${y0 - 16}" width="${x1 - x0 + 16}" height="${y1 - y0 + 24}" rx="8"/>`,
        `<text class="box-label ${g.kind}" x="${x0 - 4}" y="${y0 - 5}">${esc(g.label)}</text>`);
    }
    parts.push(`<path class="edges" d="${d}"/>`);
    for (const n of Object.values(nodes)) {
      const p = layout.nodes[n.id];
      if (!p) continue;
      const [w, h] = size(n);
      const cls = nodeClass(n, n.id === this.selected);
      const shape = GROUP_TYPES.has(n.type)
        ? `<circle r="${w / 2}"/>${n.type === 'Retry' ? '<text x="12" y="4">retry</text>' : ''}`
        : `<rect x="${-w / 2}" y="${-h / 2}" width="${w}" height="${h}" rx="${BOUNDARY_TYPES.has(n.type) ? h / 2 : 5}"/><text x="${-w / 2 + 9}" y="4">${esc(label(n))}</text>`;
      parts.push(`<g class="${cls}" data-id="${esc(n.id)}" transform="translate(${p[0]},${p[1]})">${shape}</g>`);
    }
    this.vp.innerHTML = parts.join('');
    this.els = new Map([...this.vp.querySelectorAll('g[data-id]')].map((g) => [g.dataset.id, g]));
    this.size = { width: layout.width, height: layout.height };
    this.svg.setAttribute('width', Math.ceil(layout.width));
    this.svg.setAttribute('height', Math.ceil(layout.height));
    // until the view is moved by hand it follows the growing graph
    if (this.follow === 'fit') this.fit();
    else if (this.follow === 'start') this.initialView(layout, nodes);
  }

  // Small graphs fit the view; a big one starts readable (labels shown) at its top, centred
  // on its first root: zoom out to see all of it.
  initialView(layout, nodes) {
    this.fit();
    if (this.view.k >= FAR) return;
    const children = new Set(Object.values(nodes).flatMap((n) => n.children || []));
    const root = Object.keys(nodes).find((id) => !children.has(id) && layout.nodes[id]);
    if (!root) return;
    const r = this.rect();
    const k = 0.6;
    const [x, y] = layout.nodes[root];
    this.view = { k, x: r.width / 2 - x * k, y: 40 - (y - 20) * k };
    this.apply();
  }

  select(id) {
    if (this.selected) this.els.get(this.selected)?.classList.remove('sel');
    this.selected = id;
    if (id) this.els.get(id)?.classList.add('sel');
  }

  // -- pan and zoom: one CSS transform on the svg, applied once per frame; while it moves the
  // svg is its own compositor layer, and is drawn afresh (sharp) once it rests --
  apply() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const { x, y, k } = this.view;
      this.wrap.classList.add('moving');
      this.svg.style.transform = `translate(${x}px,${y}px) scale(${k})`;
      this.svg.classList.toggle('far', k < FAR);
      clearTimeout(this.rest);
      this.rest = setTimeout(() => this.wrap.classList.remove('moving'), 200);
    });
  }

  fit() {
    const r = this.rect();
    const { width, height } = this.size;
    if (!width || !r.width) return;
    const k = Math.max(0.02, Math.min(1, r.width / width, r.height / height));
    this.view = { k, x: (r.width - width * k) / 2, y: Math.max(0, (r.height - height * k) / 2) };
    this.apply();
  }

  zoomAt(px, py, factor) {
    this.follow = null;
    const { x, y, k } = this.view;
    const nk = Math.max(0.02, Math.min(3, k * factor));
    this.view = { k: nk, x: px - ((px - x) * nk) / k, y: py - ((py - y) * nk) / k };
    this.apply();
  }

  bindPanZoom() {
    let drag = null;
    const w = this.wrap;
    w.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = this.rect();
      this.zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    w.addEventListener('pointerdown', (e) => {
      drag = { sx: e.clientX, sy: e.clientY, x: this.view.x, y: this.view.y, moved: false };
      w.setPointerCapture(e.pointerId);
    });
    w.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.sx, dy = e.clientY - drag.sy;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      this.follow = null;
      w.classList.add('dragging');
      this.view = { ...this.view, x: drag.x + dx, y: drag.y + dy };
      this.apply();
    });
    w.addEventListener('pointerup', (e) => {
      const wasDrag = drag?.moved;
      drag = null;
      w.classList.remove('dragging');
      if (wasDrag) return;
      const hit = document.elementFromPoint(e.clientX, e.clientY)?.closest?.('g[data-id]');
      if (hit) { this.select(hit.dataset.id); this.onSelect(hit.dataset.id); }
    });
  }
}
