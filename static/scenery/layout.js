// Keeping the canvas readable: Fit never zooms below readable text, a new node is brought into view
// without losing the others, Tidy up lays the graph out left to right (dagre, from npm), edges that
// run backwards go around nodes instead of behind them, and the minimap hides while there is nothing
// to map.

import { TITLE_FONT_SIZE } from "./canvas.js";

// Below this zoom the node titles are smaller than 12 px on screen: too small to read comfortably.
const READABLE_TITLE_PX = 12;
// Rounded up to a hundredth, so rounding never leaves the title a hair under.
export const READABLE_SCALE = Math.ceil((READABLE_TITLE_PX / TITLE_FONT_SIZE) * 100) / 100;
const PADDING = 48;

// Where a reader starts: the first trigger, else the first node nothing leads into, else the first.
export function startCell(graph) {
  const nodes = [...graph.getNodes()].sort((a, b) => a.getData().number - b.getData().number);
  return (
    nodes.find((cell) => cell.getData().trigger) ||
    nodes.find((cell) => !graph.getIncomingEdges(cell)?.length) ||
    nodes[0]
  );
}

export function fit(graph) {
  if (!graph.getNodes().length) return;
  graph.zoomToFit({ padding: PADDING, maxScale: 1 });
  if (graph.zoom() < READABLE_SCALE) {
    // Too big to fit readably: readable text, the start at the left, what follows it to its right.
    graph.zoomTo(READABLE_SCALE);
    const box = startCell(graph).getBBox();
    const area = graph.getGraphArea();
    graph.positionPoint({ x: box.x, y: box.center.y }, PADDING, (area.height * READABLE_SCALE) / 2);
  }
}

// Fit everything while that stays readable; else pan just enough to show the node, keeping the zoom
// and as much of the rest as possible in view.
export function reveal(graph, cell) {
  const area = graph.getGraphArea();
  const box = cell.getBBox();
  if (area.containsRect(box)) return;
  const content = graph.getContentArea();
  const scale = graph.zoom();
  const fitScale = Math.min((area.width * scale - 2 * PADDING) / content.width, (area.height * scale - 2 * PADDING) / content.height, 1);
  if (fitScale >= READABLE_SCALE) {
    fit(graph);
    return;
  }
  const pad = PADDING / scale;
  const shift = (low, high, start, end) => (high + pad > end ? end - (high + pad) : low - pad < start ? start - (low - pad) : 0);
  const dx = shift(box.x, box.x + box.width, area.x, area.x + area.width);
  const dy = shift(box.y, box.y + box.height, area.y, area.y + area.height);
  const { tx, ty } = graph.translate();
  graph.translate(tx + dx * scale, ty + dy * scale);
}

export function tidyUp(graph) {
  const dagre = window.dagre;
  const nodes = graph.getNodes();
  if (!dagre || !nodes.length) return false;
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: "LR", nodesep: 50, ranksep: 110 });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const cell of nodes) layout.setNode(cell.id, { ...cell.getSize() });
  for (const edge of graph.getEdges()) layout.setEdge(edge.getSourceCellId(), edge.getTargetCellId());
  dagre.layout(layout);
  graph.startBatch("tidy-up");
  for (const cell of nodes) {
    const placed = layout.node(cell.id);
    cell.position(Math.round(placed.x - placed.width / 2), Math.round(placed.y - placed.height / 2));
  }
  graph.stopBatch("tidy-up");
  fit(graph);
  return true;
}

// An edge whose target lies left of its source's right side would curve behind both nodes: it is
// routed around them with right angles instead.
function routeEdge(graph, edge) {
  const source = graph.getCellById(edge.getSourceCellId());
  const target = graph.getCellById(edge.getTargetCellId());
  if (!source || !target || !source.isNode() || !target.isNode()) return;
  const backwards = target.getBBox().x < source.getBBox().x + source.getBBox().width;
  const routed = Boolean(edge.getRouter());
  if (backwards && !routed) {
    edge.setRouter({ name: "manhattan", args: { padding: 24, startDirections: ["right"], endDirections: ["left"] } }, { ignoreHistory: true });
    edge.setConnector({ name: "rounded" }, { ignoreHistory: true });
  } else if (!backwards && routed) {
    edge.removeRouter({ ignoreHistory: true });
    edge.setConnector({ name: "smooth" }, { ignoreHistory: true });
  }
}

export function keepEdgesReadable(graph) {
  const all = () => graph.getEdges().forEach((edge) => routeEdge(graph, edge));
  graph.on("edge:connected", ({ edge }) => routeEdge(graph, edge));
  // Edges added whole (a load, a paste, an undo); one being drawn is routed once connected.
  graph.on("edge:added", ({ edge }) => {
    if (edge.getTargetCellId()) routeEdge(graph, edge);
  });
  graph.on("node:change:position", ({ node }) => graph.getConnectedEdges(node).forEach((edge) => routeEdge(graph, edge)));
  all();
}

export function hideEmptyMinimap(graph, minimap) {
  if (!minimap) return;
  const update = () => (minimap.hidden = graph.getNodes().length === 0);
  graph.on("node:added", update);
  graph.on("node:removed", update);
  update();
}
