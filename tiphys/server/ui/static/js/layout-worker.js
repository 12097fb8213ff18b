// Lays a graph out with dagre off the main thread, so the page stays responsive while a
// 2,000-node workflow is laid out. In: {id, nodes: [[id, w, h]], edges: [[from, to, drawn]]}
// (see layout.js). Out: {id, nodes: {id: [x, y]}, edges: [[x0, y0, x1, y1, ...]] (the drawn
// ones), width, height, ms}.
//
// Big graphs (BIG nodes or more) skip dagre's crossing-reduction sweeps and keep its first,
// depth-first order (children left to right, as given): a 2,000-node layout takes about 0.6 s
// instead of 0.85 s in a fresh V8 (node 20), and workflow graphs are mostly trees, which that
// order draws without crossings. dagre's rankers (network-simplex, tight-tree, longest-path)
// cost about the same on these graphs; what made the 2,000-node layout slow (about 2 s) was its
// one rank 1,999 nodes wide, which layout.js now gives as a block of chained columns.
import dagre from '../vendor/dagre.esm.min.js';
import { NODESEP, RANKSEP } from './layout.js';

const BIG = 1000;

self.onmessage = (e) => {
  const { id, nodes, edges } = e.data;
  const t0 = performance.now();
  const big = nodes.length >= BIG;
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: NODESEP, ranksep: RANKSEP, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const [nid, width, height] of nodes) g.setNode(nid, { width, height });
  // with the sweeps, dagre places siblings left to right when their edges come in reverse
  const ordered = big ? edges : [...edges].reverse();
  for (const [a, b] of ordered) if (g.hasNode(a) && g.hasNode(b)) g.setEdge(a, b);
  dagre.layout(g, { disableOptimalOrderHeuristic: big });
  const pos = {};
  for (const nid of g.nodes()) { const n = g.node(nid); pos[nid] = [n.x, n.y]; }
  const lines = [];
  for (const [a, b, drawn] of edges) {
    const ed = drawn && g.edge(a, b);
    if (ed) lines.push(ed.points.flatMap((p) => [Math.round(p.x), Math.round(p.y)]));
  }
  const { width, height } = g.graph();
  self.postMessage({ id, nodes: pos, edges: lines, width, height, ms: performance.now() - t0 });
};
