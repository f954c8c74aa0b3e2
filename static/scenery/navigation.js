// The canvas without a mouse: arrow keys go from node to node (the nearest one that way), Shift and
// an arrow move the selected node, Enter goes to its details; a live region says where you are.
import { DEFAULT_PORT, portName, statusText } from "./canvas.js";

const STEP = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] };
const MOVE = 16;

function centre(cell) {
  const { x, y, width, height } = cell.getBBox();
  return { x: x + width / 2, y: y + height / 2 };
}

// The nearest node in direction (dx, dy): ahead of `from`, closer along the way than across it.
export function nearest(from, cells, [dx, dy]) {
  let best = null;
  let bestScore = Infinity;
  for (const cell of cells) {
    const point = centre(cell);
    const along = (point.x - from.x) * dx + (point.y - from.y) * dy;
    const across = Math.abs((point.x - from.x) * dy - (point.y - from.y) * dx);
    if (along <= 0 || across > along * 2) continue;
    const score = along + across * 2;
    if (score < bestScore) {
      best = cell;
      bestScore = score;
    }
  }
  return best;
}

export function describe(graph, cell) {
  const data = cell.getData();
  const name = (c) => `$${c.getData().number}`;
  const from = graph.getIncomingEdges(cell)?.map((edge) => edge.getSourceCell()).filter(Boolean) || [];
  // A connection from a port other than "main" says which: "before $3 (true), $4 (false)".
  const to = (graph.getOutgoingEdges(cell) || [])
    .filter((edge) => edge.getTargetCell())
    .map((edge) => {
      const port = portName(edge.getSourcePortId());
      return name(edge.getTargetCell()) + (port === DEFAULT_PORT ? "" : ` (${port})`);
    });
  const parts = [`$${data.number} ${data.label || data.title || data.kind}`, cell.attr("status/text") || statusText(null)];
  parts.push(from.length ? `after ${from.map(name).join(", ")}` : "nothing before it");
  parts.push(to.length ? `before ${to.join(", ")}` : "nothing after it");
  return parts.join(", ") + ".";
}

export function watchKeyboard({ graph, selection, keyboard, canEdit, announcer, inspector }) {
  const selectedNode = () => {
    const nodes = selection.getSelectedCells().filter((cell) => cell.isNode());
    return nodes.length === 1 ? nodes[0] : null;
  };

  function go(cell) {
    selection.reset([cell]);
    const area = graph.getGraphArea();
    if (!area.containsRect(cell.getBBox())) graph.centerCell(cell);
    announcer.textContent = describe(graph, cell);
  }

  function bind(keys, action) {
    keyboard.bindKey(keys, (event) => {
      event.preventDefault?.();
      action();
      return false;
    });
  }

  for (const [key, step] of Object.entries(STEP)) {
    bind(key, () => {
      const nodes = graph.getNodes();
      if (!nodes.length) return;
      const current = selectedNode();
      if (!current) {
        go(nodes.reduce((a, b) => (a.getData().number <= b.getData().number ? a : b)));
        return;
      }
      const next = nearest(centre(current), nodes.filter((cell) => cell !== current), step);
      if (next) go(next);
      else announcer.textContent = `Nothing further ${key} of $${current.getData().number}.`;
    });
    if (canEdit) {
      bind(`shift+${key}`, () => {
        const current = selectedNode();
        if (current) current.translate(step[0] * MOVE, step[1] * MOVE);
      });
    }
  }

  // Enter: on to the node's details (its inspector form, once loaded).
  bind("enter", () => {
    const current = selectedNode();
    if (!current || !current.getData().id) return;
    const focusFirst = () => {
      const form = inspector.querySelector(`#inspector[data-node-id="${current.getData().id}"]`);
      // The first field of the node's form, else (a viewer's read-only details) the first control.
      const field =
        form?.querySelector("form input:not([type=hidden]), form select, form textarea") ||
        form?.querySelector("a[href], button");
      field?.focus();
      return Boolean(field);
    };
    if (!focusFirst()) document.body.addEventListener("htmx:afterSettle", focusFirst, { once: true });
  });
}
