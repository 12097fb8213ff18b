// What the graph view gives dagre to lay out (pure: no DOM, used by graph.js; the layout itself
// runs in layout-worker.js). Node sizes, the groups drawn as boxes, and "compact" loops: a loop
// of many single-node items (a fan-out of Pods) is given to dagre as columns of chained items,
// so dagre stacks it as a block of rows instead of one rank thousands of nodes wide (a
// 2,000-item loop: about 6,000 px square instead of a strip 370,000 px wide). Only the edges
// that mean something are drawn: the group's edge into the block, the block's edges out.

export const POD = [170, 34];
export const GROUP = [18, 18];
export const BOUNDARY = [150, 26];
export const GROUP_TYPES = new Set(['StepGroup', 'TaskGroup', 'Retry']);
export const BOUNDARY_TYPES = new Set(['DAG', 'Steps']);
export const NODESEP = 14;
export const RANKSEP = 42;
const LOOP_ITEM = /\(\d+:/;
export const COMPACT_MIN = 24;  // loops with fewer items stay in one row
const COMPACT_MAX_NEXT = 8;     // at most this many distinct successors of the items
const ASPECT = 1.6;             // the block's width : height, about a screen's

export function size(node) {
  if (GROUP_TYPES.has(node.type)) return GROUP;
  if (BOUNDARY_TYPES.has(node.type)) return BOUNDARY;
  return POD;
}

const kidsOf = (nodes, n) => (n.children || []).filter((c) => nodes[c]);

// Groups drawn as a box around their members: loops (a group whose children are loop items)
// and retries (a Retry node's attempts).
export function groups(nodes) {
  const out = [];
  for (const n of Object.values(nodes)) {
    const kids = kidsOf(nodes, n);
    if (!kids.length) continue;
    if (n.type === 'Retry') out.push({ id: n.id, kind: 'retry', label: `retry ${n.displayName || ''} (${kids.length})`, kids });
    else if ((n.type === 'TaskGroup' || n.type === 'StepGroup') && kids.some((c) => LOOP_ITEM.test(nodes[c].displayName || ''))) {
      out.push({ id: n.id, kind: 'loop', label: `loop ${n.displayName || ''} (${kids.length})`, kids });
    }
  }
  return out;
}

// Columns for a block of `n` items of size POD whose width:height is about ASPECT.
export function columns(n) {
  const colW = POD[0] + NODESEP, rowH = POD[1] + RANKSEP;
  return Math.max(1, Math.min(n, Math.ceil(Math.sqrt((n * ASPECT * rowH) / colW))));
}

// A loop that can be drawn as a block: many items, each a leaf of the loop (no child of its
// own inside the workflow but the few nodes that follow the whole loop), none with another parent.
function compactable(nodes, group, parents) {
  if (group.kind !== 'loop' || group.kids.length < COMPACT_MIN) return null;
  const items = new Set(group.kids);
  const next = new Set();
  for (const id of group.kids) {
    if ((parents.get(id) || 0) !== 1) return null;
    for (const c of kidsOf(nodes, nodes[id])) {
      if (items.has(c) || c === group.id) return null;
      next.add(c);
      if (next.size > COMPACT_MAX_NEXT) return null;
    }
  }
  return { cols: columns(group.kids.length), next: [...next] };
}

// -> {nodes: [[id, w, h]], edges: [[from, to, drawn]], compact: {groupId: cols}} for the worker,
// each node's edges in the order of its children (left to right).
export function layoutInput(nodes) {
  const parents = new Map();
  for (const n of Object.values(nodes)) for (const c of kidsOf(nodes, n)) parents.set(c, (parents.get(c) || 0) + 1);
  const blocks = new Map();  // group id -> {cols, next}
  const inBlock = new Set();
  for (const g of groups(nodes)) {
    const b = compactable(nodes, g, parents);
    if (!b) continue;
    blocks.set(g.id, { ...b, kids: g.kids });
    for (const k of g.kids) inBlock.add(k);
  }
  const edges = [];
  for (const n of Object.values(nodes)) {
    const block = blocks.get(n.id);
    if (block) { blockEdges(n.id, block, edges); continue; }
    if (inBlock.has(n.id)) continue;
    const kids = kidsOf(nodes, n);
    for (const c of kids) edges.push([n.id, c, 1]);
  }
  const compact = {};
  for (const [id, b] of blocks) compact[id] = b.cols;
  return { nodes: Object.values(nodes).map((n) => [n.id, ...size(n)]), edges, compact };
}

// A block of items in `cols` columns: the group above the first row, each column a chain
// (item k above item k + cols), each column's last item above every successor of the loop.
// Drawn: the group's edge to the middle of the first row, the middle column's edges out.
function blockEdges(groupId, { cols, next, kids }, edges) {
  const mid = Math.floor((Math.min(cols, kids.length) - 1) / 2);
  for (let c = 0; c < Math.min(cols, kids.length); c++) {
    edges.push([groupId, kids[c], c === mid ? 1 : 0]);
    let k = c;
    for (; k + cols < kids.length; k += cols) edges.push([kids[k], kids[k + cols], 0]);
    for (const s of next) edges.push([kids[k], s, c === mid ? 1 : 0]);
  }
}
