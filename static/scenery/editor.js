// The scenario editor: wires the canvas to the server (autosave, inspector, outline) and to live runs.
import { Autosave, Banner } from "./autosave.js";
import { createGraph, edgeCell, edgeNumbers, NODE_HEIGHT, NODE_WIDTH, nodeCell, portName, setNodeTitle, setOutputs, setPortLabels } from "./canvas.js";
import { createClipboard } from "./clipboard.js";
import { connectionProblem, watchConnections } from "./connections.js";
import { followRuns } from "./live.js";
import { watchKeyboard } from "./navigation.js";
import { fit as fitGraph, hideEmptyMinimap, keepEdgesReadable, reveal as revealCell, tidyUp } from "./layout.js";
import { initPanels } from "./panels.js";

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
      outputs: (item.dataset.outputs || "main").split(" "),
    },
  ]),
);

const banner = new Banner(document.getElementById("banner"));
const { graph, history, selection, keyboard } = createGraph({
  container: document.getElementById("canvas"),
  minimap: document.getElementById("minimap"),
  canEdit,
  checkConnection: (source, target, port) => connectionProblem(graph, source, target, { port }),
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

// [source, target], or [source, target, port] from a port other than "main".
function edgesByNumber() {
  return graph
    .getEdges()
    .filter((edge) => edge.getSourceCell() && edge.getTargetCell())
    .map(edgeNumbers);
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
          former_id: data.formerId || null,
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
        .map((edge) => ({ source: edge.getSourceCellId(), target: edge.getTargetCellId(), port: portName(edge.getSourcePortId()) })),
    };
  },
  onSaved(result) {
    highestNumber = Math.max(highestNumber, result.highest_number || 0);
    const renumbered = [];
    for (const saved of result.nodes) {
      const cell = graph.getCellById(saved.key);
      if (!cell) continue;
      const data = cell.getData();
      if (data.id !== saved.id) cell.setData({ id: saved.id, formerId: null }, { ignoreHistory: true });
      if (data.number !== saved.number) {
        // The server never gives a number twice (a deleted node's, after an undo): take the new one.
        renumbered.push(`$${data.number} is now $${saved.number}`);
        cell.setData({ number: saved.number }, { ignoreHistory: true });
        cell.attr("num/text", `$${saved.number}`, { ignoreHistory: true });
      }
    }
    if (renumbered.length) {
      banner.show(`${renumbered.join(", ")}: a deleted node's number is never given to another node.`, { kind: "warn" });
    }
    panels.showProblems(result.problems || []);
    document.body.dispatchEvent(new CustomEvent("scenery:outlineStale"));
    const edges = JSON.stringify(graph.getEdges().map((edge) => [edge.getSourceCellId(), edge.getTargetCellId()]).sort());
    if (edges !== savedEdges) {
      savedEdges = edges;
      const nodeIds = graph.getNodes().map((cell) => cell.getData().id);
      document.body.dispatchEvent(new CustomEvent("scenery:edgesChanged", { detail: { nodeIds } }));
    }
    document.getElementById("canvas-empty")?.remove();
    afterSave.splice(0).forEach((callback) => callback());
  },
});
const afterSave = [];
let savedEdges = null;

function changed() {
  if (canEdit) autosave.schedule();
}

graph.on("cell:added", ({ cell }) => {
  if (!cell.isNode() || loading) return;
  // A node that comes back (undo of a delete, redo of an add) was deleted on the server: it gets a new
  // id when saved, and until then it has none (so nothing asks the server for the old one).
  // Its old id still names it, so the server gives it back its number, which nothing else took.
  const { id } = cell.getData();
  if (id) cell.setData({ id: null, formerId: id }, { ignoreHistory: true });
  changed();
});
// Keyboard shortcuts belong to the canvas: whatever is pressed on it gives it the focus.
graph.on("cell:mousedown", () => canvasElement.focus({ preventScroll: true }));
graph.on("blank:mousedown", () => canvasElement.focus({ preventScroll: true }));
graph.on("cell:removed", ({ cell }) => {
  // A connection dragged to nowhere is dropped by X6; it was never part of the scenario.
  if (cell.isEdge() && !(cell.getSourceCellId() && cell.getTargetCellId())) return;
  changed();
});
graph.on("node:change:position", () => changed());
watchConnections({ graph, history, banner, canEdit, changed });

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

// Numbers are never reused, even a deleted node's: {{$3}} and the past runs of $3 keep their meaning.
let highestNumber = initial.highest_number || 0;

function nextNumber() {
  return Math.max(highestNumber, ...numbers()) + 1;
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
        outputs: entry.outputs,
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

const reveal = (cell) => revealCell(graph, cell);

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

const clipboard = createClipboard({
  graph,
  selection,
  catalog,
  banner,
  nextNumber,
  edgesByNumber,
  pasted: () => autosave.schedule(),
});

// -- keyboard and toolbar --------------------------------------------------------------------------

const actions = {
  undo: () => history.undo(),
  redo: () => history.redo(),
  delete: deleteSelection,
  copy: clipboard.copy,
  paste: () => canEdit && clipboard.paste(),
  "zoom-in": () => graph.zoom(0.15),
  "zoom-out": () => graph.zoom(-0.15),
  fit: () => fit(),
  tidy: () => canEdit && tidyUp(graph),
};

const fit = () => fitGraph(graph);

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
watchKeyboard({
  graph,
  selection,
  keyboard,
  canEdit,
  announcer: document.getElementById("canvas-announce"),
  inspector: document.getElementById("inspector-panel"),
});
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
// An undo or redo changes the graph, even when no other event says so (a connection comes back with
// its target set after it was added, so neither "added" nor "connected" reports it).
history.on("undo", () => changed());
history.on("redo", () => changed());
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

let loading = false;
function load(data) {
  loading = true;
  history.disable();
  graph.startBatch("load");
  graph.resetCells([
    ...data.nodes.map((node) => graph.createNode(nodeCell(node))),
    ...data.edges.map((edge) => graph.createEdge(edgeCell(edge.source, edge.target, edge.port))),
  ]);
  graph.stopBatch("load");
  history.enable();
  if (!canEdit) history.disable();
  autosave.version = data.version;
  loading = false;
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
    setOutputs(cell, node.outputs, node.port_labels);
    setPortLabels(cell, node.port_labels);
  }
});

// -- live runs -----------------------------------------------------------------------------------------

const initialLast = new Map(initial.nodes.map((node) => [node.number, node.last]));
const runs = followRuns({ root, graph, cellByNumber, initialLast });

const panels = initPanels({
  root,
  canEdit,
  autosave,
  banner,
  showOverlay: runs.showOverlay,
  clearOverlay: runs.clearOverlay,
  selectNode(id) {
    const cell = cellByNodeId(id);
    if (cell) {
      selection.reset([cell]);
      graph.centerCell(cell);
    }
    panels.openInspector(id);
  },
});

load(initial);
keepEdgesReadable(graph);
hideEmptyMinimap(graph, document.getElementById("minimap"));
panels.showProblems(initial.problems || []);
history.clean();
updateUndoButtons();
requestAnimationFrame(() => {
  fit();
  window.scenery.ready = true;
});

window.addEventListener("beforeunload", (event) => {
  if (canEdit && autosave.busy && !autosave.stopped) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// For the browser tests and for debugging from the console.
window.scenery = { graph, history, selection, autosave, live: runs.live, cellByNumber, edgesByNumber };
