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

// Columns for a block of `n` items, each `wide` nodes wide and `deep` ranks deep (a single Pod:
// 1 and 1), whose width:height is about ASPECT.
export function columns(n, wide = 1, deep = 1) {
  const colW = wide * (POD[0] + NODESEP), rowH = deep * (POD[1] + RANKSEP);
  return Math.max(1, Math.min(n, Math.ceil(Math.sqrt((n * ASPECT * rowH) / colW))));
}

// The nodes of one loop item: its root and what only it leads to (a node joins when all its
// parents have). -> {ids, exits: nodes leading out of it (or leaves), next: where they lead, wide, deep}.
function itemTree(nodes, root, parents) {
  const depth = new Map([[root, 0]]);
  const order = [root];
  const count = new Map();
  for (let i = 0; i < order.length; i++) {
    const id = order[i];
    for (const c of kidsOf(nodes, nodes[id])) {
      const k = (count.get(c) || 0) + 1;
      count.set(c, k);
      depth.set(c, Math.max(depth.get(c) ?? 0, depth.get(id) + 1));
      if (k === parents.get(c)) order.push(c);
    }
  }
  const ids = new Set(order);
  const exits = [], next = new Set(), perDepth = new Map();
  for (const id of order) {
    const d = depth.get(id);
    perDepth.set(d, (perDepth.get(d) || 0) + 1);
    const kids = kidsOf(nodes, nodes[id]);
    const out = kids.filter((c) => !ids.has(c));
    if (out.length || !kids.length) exits.push(id);
    for (const c of out) next.add(c);
  }
  return { ids, exits, next, wide: Math.max(...perDepth.values()), deep: perDepth.size };
}

// A loop that can be drawn as a block: many items, each leading (apart from its own nodes)
// only to the few nodes that follow the whole loop.
function compactable(nodes, group, parents) {
  if (group.kind !== 'loop' || group.kids.length < COMPACT_MIN) return null;
  const trees = [];
  const next = new Set();
  let wide = 1, deep = 1;
  for (const id of group.kids) {
    if (parents.get(id) !== 1) return null;
    const t = itemTree(nodes, id, parents);
    if (t.ids.has(group.id)) return null;
    for (const c of t.next) next.add(c);
    if (next.size > COMPACT_MAX_NEXT) return null;
    wide = Math.max(wide, t.wide);
    deep = Math.max(deep, t.deep);
    trees.push(t);
  }
  for (const c of next) if (group.kids.includes(c)) return null;
  return { cols: columns(trees.length, wide, deep), deep, next: [...next], trees, kids: group.kids };
}

// -> {nodes: [[id, w, h]], edges: [[from, to, drawn]]} for the worker (nodes include placeholders), each node's edges in the
// order of its children (left to right), and blocks: {groupId: {cols, members}} (the loops laid
// out as blocks, with every node of their items).
export function layoutInput(nodes) {
  const parents = new Map();
  for (const n of Object.values(nodes)) for (const c of kidsOf(nodes, n)) parents.set(c, (parents.get(c) || 0) + 1);
  const blocks = new Map();  // group id -> block
  const inBlock = new Set();
  for (const g of groups(nodes)) {
    if (inBlock.has(g.id)) continue;  // a loop inside an item of a block: drawn as it is
    const b = compactable(nodes, g, parents);
    if (!b) continue;
    blocks.set(g.id, b);
    for (const t of b.trees) for (const id of t.ids) inBlock.add(id);
  }
  const edges = [], pads = [];
  for (const n of Object.values(nodes)) {
    const block = blocks.get(n.id);
    if (block) blockEdges(nodes, n.id, block, edges, pads);
    else if (!inBlock.has(n.id)) for (const c of kidsOf(nodes, n)) edges.push([n.id, c, 1]);
  }
  const out = {};
  for (const [id, b] of blocks) out[id] = { cols: b.cols, members: b.trees.flatMap((t) => [...t.ids]) };
  return { nodes: [...Object.values(nodes).map((n) => [n.id, ...size(n)]), ...pads], edges, blocks: out };
}

// A block of items in `cols` columns: the group above the first row, each column a chain (item
// k above item k + cols; a last row that is not full padded with placeholders, so that every
// column is as long and dagre ranks the block without slack, quickly), the last of each column
// above every node that follows the loop. Drawn: each item's own edges, the group's edge to the
// middle of the first row, the edges out of the middle column (or the nearest that ends in an item).
function blockEdges(nodes, groupId, { cols, deep, next, trees, kids }, edges, pads) {
  const n = kids.length, width = Math.min(cols, n), rows = Math.ceil(n / width);
  const mid = Math.floor((width - 1) / 2);
  const rest = n % width;
  const out = rest === 0 || mid < rest ? mid : rest - 1;
  for (let c = 0; c < width; c++) {
    edges.push([groupId, kids[c], c === mid ? 1 : 0]);
    let ends = [];
    for (let k = c; k < rows * width; k += width) {
      if (k >= n) {
        for (let d = 0; d < deep; d++) {  // as deep as the deepest item
          const pad = `${groupId}\u0000pad${c}.${d}`;
          pads.push([pad, ...POD]);
          for (const e of ends) edges.push([e, pad, 0]);
          ends = [pad];
        }
        continue;
      }
      const t = trees[k];
      for (const e of ends) edges.push([e, kids[k], 0]);
      for (const id of t.ids) for (const x of kidsOf(nodes, nodes[id])) if (t.ids.has(x)) edges.push([id, x, 1]);
      ends = t.exits;
    }
    for (const e of ends) {
      const real = new Set(nodes[e] ? kidsOf(nodes, nodes[e]) : []);
      for (const s of next) edges.push([e, s, c === out && real.has(s) ? 1 : 0]);
    }
  }
}
