// Lays a graph out with dagre off the main thread, so the page stays responsive while a
// 2,000-node workflow is laid out. In: {id, nodes: [[id, w, h]], edges: [[from, to]]}.
// Out: {id, nodes: {id: [x, y]}, edges: [[x0, y0, x1, y1, ...]], width, height, ms}.
import dagre from '../vendor/dagre.esm.min.js';

self.onmessage = (e) => {
  const { id, nodes, edges } = e.data;
  const t0 = performance.now();
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 14, ranksep: 42, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const [nid, width, height] of nodes) g.setNode(nid, { width, height });
  for (const [a, b] of edges) if (g.hasNode(a) && g.hasNode(b)) g.setEdge(a, b);
  dagre.layout(g);
  const pos = {};
  for (const nid of g.nodes()) { const n = g.node(nid); pos[nid] = [n.x, n.y]; }
  const lines = g.edges().map((ed) => g.edge(ed).points.flatMap((p) => [Math.round(p.x), Math.round(p.y)]));
  const { width, height } = g.graph();
  self.postMessage({ id, nodes: pos, edges: lines, width, height, ms: performance.now() - t0 });
};
