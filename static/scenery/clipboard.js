// Copy and paste of nodes, also between scenarios: a JSON clipboard in localStorage. Pasted nodes get
// the next free numbers; their connections and the expressions naming each other follow.
import { edgeCell, NODE_HEIGHT, nodeCell, remapExpressions } from "./canvas.js";

const CLIPBOARD_KEY = "scenery:clipboard";

export function createClipboard({ graph, selection, catalog, banner, nextNumber, edgesByNumber, pasted }) {
  function copy() {
    const nodes = selection.getSelectedCells().filter((cell) => cell.isNode());
    if (!nodes.length) return false;
    const chosen = new Set(nodes.map((cell) => cell.getData().number));
    const clip = {
      scenery: 1,
      nodes: nodes.map((cell) => {
        const data = cell.getData();
        const { x, y } = cell.getPosition();
        return { number: data.number, kind: data.kind, label: data.label, params: data.params, credential: data.credential, x, y };
      }),
      edges: edgesByNumber().filter(([s, t]) => chosen.has(s) && chosen.has(t)),
    };
    localStorage.setItem(CLIPBOARD_KEY, JSON.stringify(clip));
    banner.show(`Copied ${nodes.length} node${nodes.length === 1 ? "" : "s"}. Paste here or in another scenario.`, { kind: "ok" });
    return true;
  }

  function read() {
    try {
      const clip = JSON.parse(localStorage.getItem(CLIPBOARD_KEY) || "null");
      return clip && clip.scenery === 1 && Array.isArray(clip.nodes) && clip.nodes.length ? clip : null;
    } catch {
      return null;
    }
  }

  // Below everything there is, so a paste never lands on top of existing nodes.
  function spot() {
    const nodes = graph.getNodes();
    if (!nodes.length) return { x: 80, y: 80 };
    const bottom = Math.max(...nodes.map((cell) => cell.getPosition().y));
    const left = Math.min(...nodes.map((cell) => cell.getPosition().x));
    return { x: left, y: bottom + NODE_HEIGHT + 60 };
  }

  function paste() {
    const clip = read();
    if (!clip) {
      banner.show("Nothing to paste: copy nodes first (select them, then Ctrl+C).", { kind: "warn" });
      return;
    }
    const known = clip.nodes.filter((node) => catalog.has(node.kind));
    const renumber = new Map();
    let next = nextNumber();
    known.forEach((node) => renumber.set(node.number, next++));
    const minX = Math.min(...known.map((n) => n.x));
    const minY = Math.min(...known.map((n) => n.y));
    const at = spot();
    const cells = new Map();
    graph.startBatch("paste");
    for (const node of known) {
      const entry = catalog.get(node.kind);
      const cell = graph.addNode(
        nodeCell({
          ...entry,
          id: null,
          number: renumber.get(node.number),
          label: node.label || "",
          title: node.label || entry.title,
          x: Math.round(at.x + node.x - minX),
          y: Math.round(at.y + node.y - minY),
          params: remapExpressions(node.params || {}, renumber),
          credential: node.credential,
        }),
      );
      cells.set(node.number, cell);
    }
    // An edge is [source, target] or [source, target, port] (clipboards from before ports: pairs).
    for (const [s, t, port] of clip.edges || []) {
      if (cells.has(s) && cells.has(t)) graph.addEdge(edgeCell(cells.get(s).id, cells.get(t).id, port));
    }
    graph.stopBatch("paste");
    selection.reset([...cells.values()]);
    const skipped = clip.nodes.length - known.length;
    banner.show(
      `Pasted ${known.length} node${known.length === 1 ? "" : "s"} as ${[...renumber.values()].map((n) => "$" + n).join(", ")}.` +
        (skipped ? ` ${skipped} could not be pasted (unknown node type).` : ""),
      { kind: "ok" },
    );
    pasted();
  }

  return { copy, paste };
}
