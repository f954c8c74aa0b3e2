// The scenario editor: wires the canvas to the server (autosave, inspector, outline) and to live runs.
import { Autosave, Banner } from "./autosave.js";
import {
  createGraph,
  edgeCell,
  NODE_HEIGHT,
  NODE_WIDTH,
  nodeCell,
  remapExpressions,
  setNodeStatus,
  setNodeTitle,
} from "./canvas.js";
import { LiveSocket, RunPanel } from "./live.js";
import { initPanels } from "./panels.js";

const CLIPBOARD_KEY = "scenery:clipboard";
const root = document.getElementById("editor");
const canEdit = root.dataset.canEdit === "true";
const initial = JSON.parse(document.getElementById("graph-data").textContent);
const catalog = new Map(
  [...document.querySelectorAll(".catalog-item")].map((item) => [
    item.dataset.kind,
    {
      kind: item.dataset.kind,
      title: item.querySelector(".catalog-title").textContent,
      app: item.closest(".catalog-group").dataset.app,
      color: item.querySelector(".node-icon").style.getPropertyValue("--app-color").trim(),
      icon: item.dataset.icon,
      trigger: item.dataset.trigger === "true",
    },
  ]),
);

const banner = new Banner(document.getElementById("banner"));
const { graph, history, selection, keyboard } = createGraph({
  container: document.getElementById("canvas"),
  minimap: document.getElementById("minimap"),
  canEdit,
  checkConnection: (source, target) => connectionProblem(source, target),
});

// -- reading the graph ------------------------------------------------------------------------------

function cellByNumber(number) {
  return graph.getNodes().find((cell) => cell.getData().number === number) || null;
}

function cellByNodeId(id) {
  return graph.getNodes().find((cell) => cell.getData().id === id) || null;
}

function numbers() {
  return graph.getNodes().map((cell) => cell.getData().number);
}

function edgesByNumber() {
  return graph
    .getEdges()
    .filter((edge) => edge.getSourceCell() && edge.getTargetCell())
    .map((edge) => [edge.getSourceCell().getData().number, edge.getTargetCell().getData().number]);
}

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

// The same rules as the server (scenarios/canvas.py), checked here for instant feedback.
function connectionProblem(sourceCell, targetCell, ignoreEdge = null) {
  if (!sourceCell || !targetCell) return "Drop the connection on a node's input.";
  const source = sourceCell.getData().number;
  const target = targetCell.getData().number;
  if (source === target) return `$${source} cannot be connected to itself.`;
  if (targetCell.getData().trigger) return `$${target} is a trigger: a scenario starts there, so nothing can connect into it.`;
  const edges = graph
    .getEdges()
    .filter((edge) => edge !== ignoreEdge && edge.getSourceCell() && edge.getTargetCell())
    .map((edge) => [edge.getSourceCell().getData().number, edge.getTargetCell().getData().number]);
  if (edges.some(([s, t]) => s === source && t === target)) return `$${source} is already connected to $${target}.`;
  if (reaches(target, source, edges)) return `Connecting $${source} to $${target} would make a cycle: a scenario runs from its trigger forward.`;
  return null;
}

// -- saving ---------------------------------------------------------------------------------------------

const autosave = new Autosave({
  url: root.dataset.graphUrl,
  version: initial.version,
  banner,
  indicator: document.getElementById("save-state"),
  collect() {
    return {
      nodes: graph.getNodes().map((cell) => {
        const data = cell.getData();
        const { x, y } = cell.getPosition();
        return {
          key: cell.id,
          id: data.id,
          number: data.number,
          kind: data.kind,
          label: data.label,
          x: Math.round(x),
          y: Math.round(y),
          params: data.params,
          credential: data.credential,
        };
      }),
      edges: graph
        .getEdges()
        .filter((edge) => edge.getSourceCellId() && edge.getTargetCellId())
        .map((edge) => ({ source: edge.getSourceCellId(), target: edge.getTargetCellId() })),
    };
  },
  onSaved(result) {
    for (const saved of result.nodes) {
      const cell = graph.getCellById(saved.key);
      if (cell && cell.getData().id !== saved.id) cell.setData({ id: saved.id }, { ignoreHistory: true });
    }
    showProblems(result.problems || []);
    document.body.dispatchEvent(new CustomEvent("scenery:outlineStale"));
    document.getElementById("canvas-empty")?.remove();
    afterSave.splice(0).forEach((callback) => callback());
  },
});
const afterSave = [];

// What would stop the scenario from running (from the engine's checks), said after every save.
const problemsButton = document.getElementById("problems-button");
const problemsList = document.getElementById("problems-list");
function showProblems(problems) {
  problemsButton.hidden = problems.length === 0;
  problemsButton.textContent = `${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  problemsList.replaceChildren(
    ...problems.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }),
  );
  if (!problems.length) problemsList.hidden = true;
}
problemsButton.addEventListener("click", () => {
  problemsList.hidden = !problemsList.hidden;
  problemsButton.setAttribute("aria-expanded", String(!problemsList.hidden));
});

function changed() {
  if (canEdit) autosave.schedule();
}

graph.on("cell:added", ({ cell }) => {
  if (cell.isNode()) changed();
});
graph.on("cell:removed", ({ cell }) => {
  // A connection dragged to nowhere is dropped by X6; it was never part of the scenario.
  if (cell.isEdge() && !(cell.getSourceCellId() && cell.getTargetCellId())) return;
  changed();
});
graph.on("node:change:position", () => changed());
graph.on("edge:connected", ({ edge, isNew }) => {
  const problem = connectionProblem(edge.getSourceCell(), edge.getTargetCell(), edge);
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
graph.on("edge:added", ({ edge }) => {
  if (!edge.getTargetCellId()) dragSource = edge.getSourceCellId();
});
graph.on("edge:mouseup", ({ edge, e }) => {
  const source = graph.getCellById(dragSource);
  dragSource = null;
  if (!source || (graph.hasCell(edge) && edge.getTargetCellId())) return;
  const under = document.elementFromPoint(e.clientX, e.clientY)?.closest("#canvas g.x6-node");
  const target = under ? graph.getCellById(under.getAttribute("data-cell-id")) : null;
  if (!target) return;
  const problem = target.getData().trigger
    ? `$${target.getData().number} is a trigger: a scenario starts there, so nothing can connect into it.`
    : connectionProblem(source, target);
  if (problem) setTimeout(() => banner.show(problem, { kind: "warn" }), 0);
});
// An edge under the pointer shows a remove button. (X6 3.1.8 does not emit mouseenter/leave for cells
// here, so hovering is followed through mouseover: the edge, its tools, a node or blank canvas.)
let hoveredEdge = null;
function unhover() {
  if (hoveredEdge && graph.hasCell(hoveredEdge) && hoveredEdge.hasTools()) hoveredEdge.removeTools({ ignoreHistory: true });
  hoveredEdge = null;
}
graph.on("cell:mouseover", ({ cell }) => {
  if (cell === hoveredEdge) return;
  unhover();
  if (!canEdit || !cell.isEdge() || !cell.getTargetCellId()) return;
  hoveredEdge = cell;
  cell.addTools([{ name: "button-remove", args: { distance: "50%" } }], { ignoreHistory: true });
});
graph.on("blank:mouseover", unhover);
document.getElementById("canvas").addEventListener("mouseleave", unhover);

// htmx requests that change the scenario wait for pending canvas saves, carry the version, and pick
// up the new one, so the canvas and the inspector never trip over each other's saves.
document.body.addEventListener("htmx:confirm", (event) => {
  if (event.detail.verb === "get" || !autosave.busy) return;
  event.preventDefault();
  autosave.flush().then(() => event.detail.issueRequest(true));
});
document.body.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.verb !== "get") event.detail.parameters.version = autosave.version;
});
document.body.addEventListener("htmx:afterRequest", (event) => {
  const xhr = event.detail.xhr;
  if (!xhr) return;
  const version = xhr.getResponseHeader("X-Scenario-Version");
  if (xhr.status === 409) {
    autosave.conflict(
      "This scenario was changed elsewhere (another tab or person) since you opened it. Reload to see the latest version; your change was not saved.",
    );
  } else if (version && xhr.status < 300) {
    autosave.version = Math.max(autosave.version, Number(version));
  }
});

// -- adding, deleting, copying ---------------------------------------------------------------------

function nextNumber() {
  return Math.max(0, ...numbers()) + 1;
}

function freeSpot() {
  const selected = selection.getSelectedCells().filter((cell) => cell.isNode());
  const anchor = selected[selected.length - 1];
  if (anchor) {
    const { x, y } = anchor.getPosition();
    return { x: x + NODE_WIDTH + 64, y };
  }
  const nodes = graph.getNodes();
  if (!nodes.length) {
    const area = graph.getGraphArea();
    return { x: Math.round(area.x + 80), y: Math.round(area.y + area.height / 2 - NODE_HEIGHT) };
  }
  const rightmost = nodes.reduce((a, b) => (a.getPosition().x >= b.getPosition().x ? a : b));
  const { x, y } = rightmost.getPosition();
  return { x: x + NODE_WIDTH + 64, y };
}

function addNode(kind, position) {
  const entry = catalog.get(kind);
  if (!entry || !canEdit) return null;
  const number = nextNumber();
  const cell = graph.addNode(
    nodeCell(
      {
        id: null,
        number,
        kind,
        label: "",
        title: entry.title,
        app: entry.app,
        color: entry.color,
        icon: entry.icon,
        trigger: entry.trigger,
        x: Math.round(position.x),
        y: Math.round(position.y),
        params: null,
      },
      undefined,
    ),
  );
  selection.reset([cell]);
  reveal(cell);
  openWhenSaved(cell);
  autosave.flush();
  return cell;
}

// Keep a new node in view: fit everything while that stays readable, else pan to the node.
function reveal(cell) {
  if (graph.getGraphArea().containsRect(cell.getBBox())) return;
  const content = graph.getContentArea();
  const area = graph.getGraphArea();
  const scale = graph.zoom();
  const fitScale = Math.min((area.width * scale - 96) / content.width, (area.height * scale - 96) / content.height, 1);
  if (fitScale >= 0.6) graph.zoomToFit({ padding: 48, maxScale: 1 });
  else graph.centerCell(cell);
}

function deleteSelection() {
  if (!canEdit) return;
  const cells = selection.getSelectedCells();
  if (!cells.length) return;
  graph.startBatch("delete");
  graph.removeCells(cells);
  graph.stopBatch("delete");
  selection.clean();
  panels.closeInspector();
}

function copySelection() {
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

function paste() {
  if (!canEdit) return;
  let clip;
  try {
    clip = JSON.parse(localStorage.getItem(CLIPBOARD_KEY) || "null");
  } catch {
    clip = null;
  }
  if (!clip || clip.scenery !== 1 || !Array.isArray(clip.nodes) || !clip.nodes.length) {
    banner.show("Nothing to paste: copy nodes first (select them, then Ctrl+C).", { kind: "warn" });
    return;
  }
  const known = clip.nodes.filter((node) => catalog.has(node.kind));
  const renumber = new Map();
  let next = nextNumber();
  known.forEach((node) => renumber.set(node.number, next++));
  const minX = Math.min(...known.map((n) => n.x));
  const minY = Math.min(...known.map((n) => n.y));
  const spot = freeSpotForPaste();
  const cells = new Map();
  graph.startBatch("paste");
  for (const node of known) {
    const entry = catalog.get(node.kind);
    const cell = graph.addNode(
      nodeCell({
        id: null,
        number: renumber.get(node.number),
        kind: node.kind,
        label: node.label || "",
        title: node.label || entry.title,
        app: entry.app,
        color: entry.color,
        icon: entry.icon,
        trigger: entry.trigger,
        x: Math.round(spot.x + node.x - minX),
        y: Math.round(spot.y + node.y - minY),
        params: remapExpressions(node.params || {}, renumber),
        credential: node.credential,
      }),
    );
    cells.set(node.number, cell);
  }
  for (const [s, t] of clip.edges || []) {
    if (cells.has(s) && cells.has(t)) graph.addEdge(edgeCell(cells.get(s).id, cells.get(t).id));
  }
  graph.stopBatch("paste");
  selection.reset([...cells.values()]);
  const skipped = clip.nodes.length - known.length;
  banner.show(
    `Pasted ${known.length} node${known.length === 1 ? "" : "s"} as ${[...renumber.values()].map((n) => "$" + n).join(", ")}.` +
      (skipped ? ` ${skipped} could not be pasted (unknown node type).` : ""),
    { kind: "ok" },
  );
  autosave.schedule();
}

function freeSpotForPaste() {
  const nodes = graph.getNodes();
  if (!nodes.length) return { x: 80, y: 80 };
  const bottom = Math.max(...nodes.map((cell) => cell.getPosition().y));
  const left = Math.min(...nodes.map((cell) => cell.getPosition().x));
  return { x: left, y: bottom + NODE_HEIGHT + 60 };
}

// -- keyboard and toolbar --------------------------------------------------------------------------

const actions = {
  undo: () => history.undo(),
  redo: () => history.redo(),
  delete: deleteSelection,
  copy: copySelection,
  paste,
  "zoom-in": () => graph.zoom(0.15),
  "zoom-out": () => graph.zoom(-0.15),
  fit: () => fit(),
};

function fit() {
  if (graph.getNodes().length) graph.zoomToFit({ padding: 48, maxScale: 1 });
}

function bind(keys, action) {
  keyboard.bindKey(keys, (event) => {
    event.preventDefault?.();
    action();
    return false;
  });
}
if (canEdit) {
  bind(["ctrl+z", "meta+z"], actions.undo);
  bind(["ctrl+shift+z", "meta+shift+z", "ctrl+y"], actions.redo);
  bind(["delete", "backspace"], actions.delete);
  bind(["ctrl+c", "meta+c"], actions.copy);
  bind(["ctrl+v", "meta+v"], actions.paste);
  bind(["ctrl+a", "meta+a"], () => selection.reset(graph.getNodes()));
}
bind(["shift+1"], fit);
bind(["ctrl+=", "meta+="], actions["zoom-in"]);
bind(["ctrl+-", "meta+-"], actions["zoom-out"]);

root.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (button && actions[button.dataset.action]) {
    actions[button.dataset.action]();
    document.getElementById("canvas").focus({ preventScroll: true });
  }
});

function updateUndoButtons() {
  const undo = root.querySelector('[data-action="undo"]');
  const redo = root.querySelector('[data-action="redo"]');
  if (undo) undo.disabled = !history.canUndo();
  if (redo) redo.disabled = !history.canRedo();
}
history.on("change", updateUndoButtons);
history.on("undo", updateUndoButtons);
history.on("redo", updateUndoButtons);
history.on("add", updateUndoButtons);
updateUndoButtons();

// -- the catalog: click or drag to add ---------------------------------------------------------------

for (const item of document.querySelectorAll(".catalog-item")) {
  item.addEventListener("click", () => addNode(item.dataset.kind, freeSpot()));
  item.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("application/x-scenery-kind", item.dataset.kind);
    event.dataTransfer.effectAllowed = "copy";
  });
}
const canvasElement = document.getElementById("canvas");
canvasElement.addEventListener("dragover", (event) => {
  if (event.dataTransfer.types.includes("application/x-scenery-kind")) {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }
});
canvasElement.addEventListener("drop", (event) => {
  const kind = event.dataTransfer.getData("application/x-scenery-kind");
  if (!kind) return;
  event.preventDefault();
  const point = graph.clientToLocal({ x: event.clientX, y: event.clientY });
  addNode(kind, { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 });
});

// -- selection opens the inspector -------------------------------------------------------------------

function openWhenSaved(cell) {
  if (cell.getData().id) panels.openInspector(cell.getData().id);
  else afterSave.push(() => graph.hasCell(cell) && cell.getData().id && panels.openInspector(cell.getData().id));
}

selection.on("selection:changed", ({ selected }) => {
  const nodes = selection.getSelectedCells().filter((cell) => cell.isNode());
  if (nodes.length === 1 && selected.includes(nodes[0])) openWhenSaved(nodes[0]);
});
graph.on("node:click", ({ node }) => {
  if (selection.getSelectedCells().length <= 1) openWhenSaved(node);
});

// -- loading the graph ------------------------------------------------------------------------------

function load(data) {
  history.disable();
  graph.startBatch("load");
  graph.resetCells([
    ...data.nodes.map((node) => graph.createNode(nodeCell(node))),
    ...data.edges.map((edge) => graph.createEdge(edgeCell(edge.source, edge.target))),
  ]);
  graph.stopBatch("load");
  history.enable();
  if (!canEdit) history.disable();
  autosave.version = data.version;
}

async function reload() {
  const response = await fetch(root.dataset.graphUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  load(await response.json());
  history.clean();
}

document.body.addEventListener("scenery:graphChanged", () => reload());
document.body.addEventListener("scenery:nodeSaved", (event) => {
  const node = event.detail;
  const cell = cellByNodeId(node.id);
  if (cell) {
    cell.setData({ label: node.label, title: node.title, params: node.params, credential: node.credential }, { ignoreHistory: true });
    setNodeTitle(cell, node.title);
  }
});

// -- live runs -----------------------------------------------------------------------------------------

const panel = new RunPanel(document.getElementById("live-panel"), (number) => cellByNumber(number)?.getData().title);
const liveStatus = new Map();
let overlay = null; // a past execution shown on the canvas instead of the live state

function paint(number, last) {
  const cell = cellByNumber(number);
  if (cell) setNodeStatus(cell, last);
}

function applyRun(run) {
  liveStatus.set(run.node, run);
  if (!overlay) paint(run.node, run);
  panel.showNode(run);
}

// The latest seq applied per node of the followed execution: an older frame is stale and ignored.
const seqs = new Map();

const live = new LiveSocket(
  root.dataset.wsPath,
  (message) => {
    if (message.type === "state") {
      seqs.clear();
      if (message.execution) {
        const going = ["queued", "running"].includes(message.execution.status);
        panel.reset(message.execution, going || (panel.revealed && panel.executionId === message.execution.id));
        (message.nodes || []).forEach(applyRun);
      }
    } else if (message.type === "execution") {
      if (message.execution.id !== panel.executionId) {
        seqs.clear();
        panel.reset(message.execution);
        document.body.dispatchEvent(new CustomEvent("scenery:newExecution"));
      } else {
        panel.showExecution(message.execution);
      }
    } else if (message.type === "node") {
      if (message.execution_id !== panel.executionId) {
        seqs.clear();
        panel.reset({ id: message.execution_id, status: "running", trigger: "" });
      }
      const number = message.node.node;
      if ((seqs.get(number) || 0) > message.seq) return;
      seqs.set(number, message.seq);
      applyRun(message.node);
    }
  },
  (status) => root.classList.toggle("is-offline", status === "closed"),
);
live.connect();

const panels = initPanels({
  root,
  canEdit,
  autosave,
  banner,
  showOverlay(statuses) {
    overlay = statuses;
    document.getElementById("live-panel").dataset.covered = "true";
    graph.getNodes().forEach((cell) => setNodeStatus(cell, statuses[String(cell.getData().number)] || null));
  },
  clearOverlay() {
    overlay = null;
    delete document.getElementById("live-panel").dataset.covered;
    graph.getNodes().forEach((cell) => {
      const number = cell.getData().number;
      const last = liveStatus.get(number) || initialLast.get(number) || null;
      setNodeStatus(cell, last);
    });
  },
  selectNode(id) {
    const cell = cellByNodeId(id);
    if (cell) {
      selection.reset([cell]);
      graph.centerCell(cell);
    }
    panels.openInspector(id);
  },
});

const initialLast = new Map(initial.nodes.map((node) => [node.number, node.last]));
load(initial);
showProblems(initial.problems || []);
history.clean();
updateUndoButtons();
requestAnimationFrame(() => fit());

window.addEventListener("beforeunload", (event) => {
  if (canEdit && autosave.busy && !autosave.stopped) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// For the browser tests and for debugging from the console.
window.scenery = { graph, history, selection, autosave, live, cellByNumber, connectionProblem, edgesByNumber };
