// The X6 canvas: node shape, plugins (history, selection, keyboard, minimap, snaplines), and the
// graph operations the editor needs (load, add, delete, copy/paste, status badges).
const X6 = window.X6;

export const NODE_WIDTH = 272;
export const NODE_HEIGHT = 68;
// The node title's font size, in canvas units (Fit keeps it readable on screen: layout.js).
export const TITLE_FONT_SIZE = 13.5;

const ICONS = {
  openai: "M12 2.5 14.4 9.6 21.5 12l-7.1 2.4L12 21.5l-2.4-7.1L2.5 12l7.1-2.4z",
  webhook: "M13 2 3 14h9l-1 8 10-12h-9z",
  response: "M9 14 4 9l5-5M20 20v-7a4 4 0 0 0-4-4H4",
  branch: "M6 3v12M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM18 9a9 9 0 0 1-9 9",
  filter: "M22 3H2l8 9.46V19l4 2v-8.54z",
  merge: "M18 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM6 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM6 21V9a9 9 0 0 0 9 9",
  manual: "m6 3 14 9-14 9z",
  code: "m16 18 6-6-6-6M8 6l-6 6 6 6",
  edit: "M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z",
  globe: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM2 12h20M12 2a15 15 0 0 1 0 20 15 15 0 0 1 0-20z",
  loop: "m17 2 4 4-4 4M3 11v-1a4 4 0 0 1 4-4h14M7 22l-4-4 4-4M21 13v1a4 4 0 0 1-4 4H3",
  clock: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 2",
  schedule: "M4 6h16v14H4zM4 10h16M8 3v4M16 3v4",
  unknown: "M12 4a8 8 0 1 0 0 16 8 8 0 0 0 0-16z",
};

export const STATUS_COLORS = {
  queued: "#9aa3af",
  running: "#2f6fed",
  succeeded: "#12a150",
  failed: "#d93a3a",
  skipped: "#b5bcc6",
  cancelled: "#b5bcc6",
  waiting: "#7c5cd6",
  none: "#c9ced6",
};

const PORT = { r: 7, stroke: "#8a93a3", strokeWidth: 2, fill: "#fff" };

let registered = false;
function register() {
  if (registered) return;
  registered = true;
  X6.Graph.registerNode(
    "scenery-node",
    {
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      markup: [
        { tagName: "rect", selector: "body" },
        { tagName: "rect", selector: "iconBg" },
        { tagName: "path", selector: "icon" },
        { tagName: "text", selector: "title" },
        { tagName: "rect", selector: "numBg" },
        { tagName: "text", selector: "num" },
        { tagName: "circle", selector: "dot" },
        { tagName: "text", selector: "status" },
      ],
      attrs: {
        body: { width: NODE_WIDTH, height: NODE_HEIGHT, rx: 12, ry: 12, fill: "#ffffff", stroke: "#d5dae1", strokeWidth: 1.5 },
        iconBg: { x: 12, y: 14, width: 40, height: 40, rx: 10, ry: 10, fill: "#10a37f" },
        icon: {
          transform: "translate(20 22) scale(1)",
          fill: "none",
          stroke: "#ffffff",
          strokeWidth: 2,
          strokeLinecap: "round",
          strokeLinejoin: "round",
          d: ICONS.unknown,
        },
        title: { x: 64, y: 31, fontSize: TITLE_FONT_SIZE, fontWeight: 600, fill: "#1d2330", text: "" },
        numBg: { x: 64, y: 39, width: 40, height: 18, rx: 6, ry: 6, fill: "#eef1f6" },
        num: { x: 84, y: 52, fontSize: 11.5, fontWeight: 700, fill: "#485163", textAnchor: "middle", text: "" },
        dot: { cx: 116, cy: 48, r: 4, fill: STATUS_COLORS.none },
        status: { x: 126, y: 52, fontSize: 11.5, fill: "#697386", text: "not run" },
      },
      ports: {
        groups: {
          // The input port is smaller than the outputs, so the arrowhead arriving at it shows.
          in: { position: "left", attrs: { circle: { ...PORT, r: 5, magnet: "passive" } } },
          out: {
            position: "right",
            attrs: { circle: { ...PORT, magnet: true }, text: { fontSize: 11, fontWeight: 600, fill: "#485163" } },
            label: { position: { name: "right", args: { x: 10, y: -9 } } },
          },
        },
      },
    },
    true,
  );
}

function shorten(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

export function statusText(last) {
  if (!last || !last.status) return "not run";
  if (last.status === "waiting" && last.wake_at) {
    return `waiting until ${new Date(last.wake_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  }
  let text = last.status;
  if (last.duration_ms !== null && last.duration_ms !== undefined && last.status !== "running") {
    text += ` · ${formatDuration(last.duration_ms)}`;
  }
  if (Number.isInteger(last.items)) text += ` · ${last.items} item${last.items === 1 ? "" : "s"}`; // in a loop
  return text;
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

// Output ports. A node type names its outputs (["main"] for most; ["true", "false"] for an IF); the
// "main" port keeps the id "out", the others are "out:<name>". Ports are labelled when there are
// several, so the user sees which route a connection leaves from.
export const DEFAULT_PORT = "main";

export function portId(name) {
  return !name || name === DEFAULT_PORT ? "out" : `out:${name}`;
}

export function portName(id) {
  return id && id.startsWith("out:") ? id.slice(4) : DEFAULT_PORT;
}

// An edge by node numbers, as snapshots and exports write it: [source, target], or
// [source, target, port] when it leaves from a port other than "main".
export function edgeNumbers(edge) {
  const pair = [edge.getSourceCell().getData().number, edge.getTargetCell().getData().number];
  const port = portName(edge.getSourcePortId());
  return port === DEFAULT_PORT ? pair : [...pair, port];
}

// `labels`: a node's own names for some ports (a Switch's routes: port "route1" shows "urgent").
function outPorts(outputs, labels = {}) {
  const names = outputs && outputs.length ? outputs : [DEFAULT_PORT];
  const labelled = names.length > 1;
  return names.map((name) => ({
    id: portId(name),
    group: "out",
    attrs: { text: { text: labelled ? shorten(labels[name] || name, 16) : "" }, circle: { "data-port-name": name } },
  }));
}

// After the inspector saved a node: its ports' own labels (a Switch's route names) may have changed.
export function setPortLabels(cell, labels) {
  const outputs = cell.getData().outputs || [DEFAULT_PORT];
  if (outputs.length < 2) return;
  cell.setData({ port_labels: labels || {} }, { ignoreHistory: true });
  for (const name of outputs) {
    cell.setPortProp(portId(name), "attrs/text/text", shorten((labels || {})[name] || name, 16), { ignoreHistory: true });
  }
}

// After the inspector saved a node: its ports may have changed (an action's "On error" setting adds
// or removes its "error" port). The server refuses to drop a port that is connected.
export function setOutputs(cell, outputs, labels) {
  const names = outputs && outputs.length ? outputs : [DEFAULT_PORT];
  const current = cell.getData().outputs || [DEFAULT_PORT];
  if (current.join(" ") === names.join(" ")) return;
  const wanted = outPorts(names, labels || {});
  for (const port of cell.getPorts()) {
    if (port.group === "out" && !wanted.some((w) => w.id === port.id)) cell.removePort(port.id, { ignoreHistory: true });
  }
  for (const port of wanted) {
    if (cell.hasPort(port.id)) cell.setPortProp(port.id, "attrs/text/text", port.attrs.text.text, { ignoreHistory: true });
    else cell.addPort(port, { ignoreHistory: true });
  }
  cell.setData({ outputs: names }, { ignoreHistory: true });
  cell.resize(cell.getSize().width, nodeHeight(names), { ignoreHistory: true });
}

// A node with many output ports (a Switch) grows taller so its ports stay apart.
const PORT_SPACING = 20;
export function nodeHeight(outputs) {
  return Math.max(NODE_HEIGHT, (outputs ? outputs.length : 1) * PORT_SPACING + 8);
}

// The cell description of a node as the server sends it.
export function nodeCell(node, id) {
  const outputs = node.outputs && node.outputs.length ? node.outputs : [DEFAULT_PORT];
  const labels = node.port_labels || {};
  const ports = node.trigger ? outPorts(outputs, labels) : [{ id: "in", group: "in" }, ...outPorts(outputs, labels)];
  const last = node.last || null;
  const height = nodeHeight(outputs);
  return {
    id: id || node.id,
    shape: "scenery-node",
    x: node.x,
    y: node.y,
    width: NODE_WIDTH,
    height,
    ports: { items: ports },
    data: {
      id: node.id || null,
      number: node.number,
      kind: node.kind,
      label: node.label || "",
      title: node.title,
      app: node.app,
      color: node.color,
      icon: node.icon,
      trigger: !!node.trigger,
      outputs,
      params: node.params || {},
      credential: node.credential || null,
      port_labels: labels,
    },
    attrs: {
      body: { height },
      iconBg: { fill: node.color },
      icon: { d: ICONS[node.icon] || ICONS.unknown },
      title: { text: shorten(node.title || node.kind, 27) },
      num: { text: `$${node.number}` },
      dot: { fill: STATUS_COLORS[(last && last.status) || "none"] || STATUS_COLORS.none },
      status: { text: statusText(last) },
    },
  };
}

export function edgeCell(source, target, port = DEFAULT_PORT) {
  return { shape: "scenery-edge", source: { cell: source, port: portId(port) }, target: { cell: target, port: "in" } };
}

const EDGE_COLOR = "#8a93a3";
const EDGE_NOT_TAKEN = "#cdd2da";

// Every edge ends in an arrowhead on the rim of the input port (not under it), so its direction shows.
X6.Graph.registerEdge(
  "scenery-edge",
  {
    inherit: "edge",
    attrs: {
      line: {
        stroke: EDGE_COLOR,
        strokeWidth: 2,
        targetMarker: { name: "block", width: 12, height: 10 },
      },
    },
    connector: { name: "smooth" },
    target: { connectionPoint: { name: "boundary" } },
    zIndex: 0,
  },
  true,
);

// A run's routes: an edge whose source ended without firing its port is greyed and dashed; `taken`
// null puts it back (the run is going, or there is no run to show).
export function setEdgeTaken(edge, taken) {
  const notTaken = taken === false;
  edge.attr(
    {
      line: {
        stroke: notTaken ? EDGE_NOT_TAKEN : EDGE_COLOR,
        strokeDasharray: notTaken ? "5 4" : null,
      },
    },
    { ignoreHistory: true },
  );
  edge.setData({ notTaken }, { ignoreHistory: true });
}

// Whether a node's run fired the output port `name`: true, false, or null while it is not decided.
export function fired(run, name) {
  if (!run || !run.status) return null;
  if (run.status === "skipped") return false;
  if (run.status !== "succeeded" && run.status !== "failed") return null;
  // Runs stored before ports existed fired every route of a success.
  if (!Array.isArray(run.ports)) return run.status === "succeeded" ? name !== "error" : false;
  return run.ports.includes(name);
}

// History keeps what the user did to the graph (add, remove, move, connect); status badges, titles and
// data written by the app are not undoable steps.
const UNDOABLE = new Set(["cell:added", "cell:removed", "cell:change:position", "cell:change:source", "cell:change:target"]);

export function createGraph({ container, minimap, canEdit, checkConnection }) {
  register();
  const graph = new X6.Graph({
    container,
    autoResize: true,
    virtual: true,
    background: { color: "#f6f7f9" },
    grid: { visible: true, size: 16, type: "dot", args: { color: "#cfd5de", thickness: 1 } },
    panning: { enabled: true, eventTypes: ["rightMouseDown", "mouseWheel"] },
    mousewheel: { enabled: true, modifiers: ["ctrl", "meta"], zoomAtMousePosition: true, minScale: 0.2, maxScale: 2 },
    scaling: { min: 0.2, max: 2 },
    preventDefaultContextMenu: true,
    interacting: {
      nodeMovable: canEdit,
      edgeMovable: false,
      edgeLabelMovable: false,
      magnetConnectable: canEdit,
      arrowheadMovable: false,
      vertexMovable: false,
      vertexAddable: false,
      vertexDeletable: false,
    },
    highlighting: {
      magnetAvailable: { name: "stroke", args: { padding: 3, attrs: { stroke: "#2f6fed", strokeWidth: 2 } } },
      magnetAdsorbed: { name: "stroke", args: { padding: 4, attrs: { stroke: "#12a150", strokeWidth: 3 } } },
    },
    connecting: {
      snap: { radius: 28 },
      allowBlank: false,
      allowLoop: false,
      allowNode: false,
      allowEdge: false,
      allowMulti: false,
      highlight: true,
      anchor: "center",
      connectionPoint: "anchor",
      connector: { name: "smooth" },
      createEdge() {
        return this.createEdge({ shape: "scenery-edge" });
      },
      validateMagnet({ magnet }) {
        return canEdit && magnet.getAttribute("port-group") === "out";
      },
      validateConnection({ sourceCell, targetCell, sourcePort, targetPort, targetMagnet }) {
        if (!targetMagnet || !sourcePort || !sourcePort.startsWith("out") || targetPort !== "in") return false;
        return checkConnection(sourceCell, targetCell, portName(sourcePort)) === null;
      },
    },
  });

  const history = new X6.History({
    enabled: canEdit,
    stackSize: 200,
    beforeAddCommand(event, args) {
      // X6 reports every change as "cell:change:*" with the key beside it; without naming it, moves
      // and the target of a new connection were never recorded (a redo brought back a dangling edge).
      const name = event === "cell:change:*" && args ? `cell:change:${args.key}` : event;
      if (!UNDOABLE.has(name)) return false;
      if (args && args.options && args.options.ignoreHistory) return false;
      return true;
    },
  });
  const selection = new X6.Selection({
    enabled: true,
    multiple: true,
    rubberband: canEdit,
    movable: canEdit,
    showNodeSelectionBox: true,
    showEdgeSelectionBox: false,
    strict: true,
    pointerEvents: "none",
    modifiers: null,
  });
  const keyboard = new X6.Keyboard({ enabled: true, global: false });
  graph.use(history);
  graph.use(selection);
  graph.use(keyboard);
  if (canEdit) graph.use(new X6.Snapline({ enabled: true }));
  if (minimap) {
    graph.use(new X6.MiniMap({ container: minimap, width: 200, height: 130, padding: 12 }));
  }
  return { graph, history, selection, keyboard };
}

export function setNodeStatus(cell, last) {
  const status = (last && last.status) || "none";
  cell.attr(
    { dot: { fill: STATUS_COLORS[status] || STATUS_COLORS.none }, status: { text: statusText(last) } },
    { ignoreHistory: true },
  );
  cell.attr("body/stroke", status === "running" ? STATUS_COLORS.running : status === "failed" ? STATUS_COLORS.failed : "#d5dae1", {
    ignoreHistory: true,
  });
  // A skipped node (down a route not taken, or behind a failure) is greyed, with a dashed outline.
  const skipped = status === "skipped";
  cell.attr(
    {
      body: { strokeDasharray: skipped ? "6 4" : null, fill: skipped ? "#f3f4f6" : "#ffffff" },
      title: { fill: skipped ? "#8a93a3" : "#1d2330" },
    },
    { ignoreHistory: true },
  );
}

// Greys the connections leaving `cell` from the ports its run `last` did not fire.
export function showRoutes(graph, cell, last) {
  for (const edge of graph.getConnectedEdges(cell, { outgoing: true })) {
    setEdgeTaken(edge, fired(last, portName(edge.getSourcePortId())));
  }
}

export function setNodeTitle(cell, title) {
  cell.attr("title/text", shorten(title, 27), { ignoreHistory: true });
}

// Expressions that name pasted nodes are rewritten to their new numbers; others stay as they are.
export function remapExpressions(value, numbers) {
  if (typeof value === "string") {
    return value.replace(/\{\{(\s*)\$(\d+)/g, (whole, space, n) => (numbers.has(+n) ? `{{${space}$${numbers.get(+n)}` : whole));
  }
  if (Array.isArray(value)) return value.map((item) => remapExpressions(item, numbers));
  if (value && typeof value === "object") {
    const copy = {};
    for (const [key, item] of Object.entries(value)) copy[key] = remapExpressions(item, numbers);
    return copy;
  }
  return value;
}
