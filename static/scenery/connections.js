// Connections on the canvas: the rules a connection must follow (the same as the server's, in
// scenarios/canvas.py, checked here for instant feedback), the message when a drop is refused, and
// the remove button of the connection under the pointer.
import { DEFAULT_PORT, portName } from "./canvas.js";

const PORT_REACH = 10;

function reaches(from, to, edges) {
  const children = new Map();
  edges.forEach(([s, t]) => children.set(s, [...(children.get(s) || []), t]));
  const stack = [from];
  const seen = new Set();
  while (stack.length) {
    const current = stack.pop();
    if (current === to) return true;
    if (seen.has(current)) continue;
    seen.add(current);
    stack.push(...(children.get(current) || []));
  }
  return false;
}

// `port` is the source's output port the connection leaves from; one connection per port and target.
export function connectionProblem(graph, sourceCell, targetCell, { port = DEFAULT_PORT, ignoreEdge = null } = {}) {
  if (!sourceCell || !targetCell) return "Drop the connection on a node's input.";
  const source = sourceCell.getData().number;
  const target = targetCell.getData().number;
  if (source === target) return `$${source} cannot be connected to itself.`;
  if (targetCell.getData().trigger) return `$${target} is a trigger: a scenario starts there, so nothing can connect into it.`;
  const edges = graph
    .getEdges()
    .filter((edge) => edge !== ignoreEdge && edge.getSourceCell() && edge.getTargetCell())
    .map((edge) => [edge.getSourceCell().getData().number, edge.getTargetCell().getData().number, portName(edge.getSourcePortId())]);
  if (edges.some(([s, t, p]) => s === source && t === target && p === port)) {
    const several = (sourceCell.getData().outputs || []).length > 1;
    return several ? `$${source}'s port '${port}' is already connected to $${target}.` : `$${source} is already connected to $${target}.`;
  }
  if (reaches(target, source, edges)) return `Connecting $${source} to $${target} would make a cycle: a scenario runs from its trigger forward.`;
  return null;
}

export function watchConnections({ graph, history, banner, canEdit, changed }) {
  graph.on("edge:connected", ({ edge, isNew }) => {
    const problem = connectionProblem(graph, edge.getSourceCell(), edge.getTargetCell(), {
      port: portName(edge.getSourcePortId()),
      ignoreEdge: edge,
    });
    if (problem) {
      history.cancel();
      if (graph.hasCell(edge)) edge.remove({ ignoreHistory: true });
      banner.show(problem, { kind: "warn" });
      return;
    }
    if (isNew) changed();
  });

  // Dropping a new connection on a node it may not join says why (X6 itself drops the edge, and has
  // forgotten its source by the time the mouse is released, so the source is noted when it starts).
  let dragSource = null;
  let dragPort = DEFAULT_PORT;
  graph.on("edge:added", ({ edge }) => {
    if (edge.getTargetCellId()) return;
    dragSource = edge.getSourceCellId();
    dragPort = portName(edge.getSourcePortId());
  });
  graph.on("edge:mouseup", ({ edge, e }) => {
    const source = graph.getCellById(dragSource);
    dragSource = null;
    if (!source || (graph.hasCell(edge) && edge.getTargetCellId())) return;
    // The node under the pointer, by geometry (an arrowhead may cover its input port), with the
    // ports' reach around it.
    const point = graph.clientToLocal(e.clientX, e.clientY);
    const target = graph.getNodes().find((node) => node.getBBox().inflate(PORT_REACH).containsPoint(point)) || null;
    if (!target) return;
    const problem = connectionProblem(graph, source, target, { port: dragPort });
    if (problem) setTimeout(() => banner.show(problem, { kind: "warn" }), 0);
  });

  // The connection under the pointer shows a remove button. (X6 3.1.8 emits no mouseenter/leave for
  // cells here, so hovering is followed through mouseover: the edge, its tools, a node or the blank.)
  let hovered = null;
  function unhover() {
    if (hovered && graph.hasCell(hovered) && hovered.hasTools()) hovered.removeTools({ ignoreHistory: true });
    hovered = null;
  }
  graph.on("cell:mouseover", ({ cell }) => {
    if (cell === hovered) return;
    unhover();
    if (!canEdit || !cell.isEdge() || !cell.getTargetCellId()) return;
    hovered = cell;
    cell.addTools([{ name: "button-remove", args: { distance: "50%" } }], { ignoreHistory: true });
  });
  graph.on("blank:mouseover", unhover);
  // A click on a connection selects it (so Delete removes it), whatever the selection plugin decided.
  graph.on("edge:click", ({ edge }) => {
    const selection = graph.getPlugin("selection");
    if (selection && !selection.isSelected(edge)) selection.select(edge);
  });
  graph.container.addEventListener("mouseleave", unhover);
}
