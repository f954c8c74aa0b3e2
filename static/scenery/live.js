// Live runs: one WebSocket per open scenario. The server sends the full state on every (re)connect,
// then execution and node events; this keeps the canvas badges and the run panel in step. A running
// model node's text also comes as it is made ("tokens" events, batched by the server), shown in its row.
import { formatDuration, setNodeStatus, showRoutes } from "./canvas.js";

const MAX_OUTPUT_CHARS = 20000;

export class LiveSocket {
  constructor(path, onMessage, onStatus) {
    this.path = path;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.closed = false;
    this.socket = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${this.path}`;
  }

  connect() {
    if (this.closed) return;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onStatus("open");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4403) this.closed = true; // not (or no longer) allowed: do not knock again
      if (this.closed) return;
      this.onStatus("closed");
      // Back off: 0.5 s, 1 s, 2 s … up to 30 s, with jitter so tabs do not reconnect in lockstep.
      const wait = Math.min(30000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), wait);
    });
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close();
  }
}

function outputText(value) {
  let text;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  if (text && text.length > MAX_OUTPUT_CHARS) text = text.slice(0, MAX_OUTPUT_CHARS) + "\n… (shortened; open the run for all of it)";
  return text;
}

// The run panel under the canvas: one row per node of the followed execution, built with textContent.
export class RunPanel {
  constructor(root, titleOf) {
    this.root = root;
    this.list = root.querySelector("#live-nodes");
    this.status = root.querySelector("#live-status");
    this.meta = root.querySelector("#live-meta");
    this.titleOf = titleOf;
    this.executionId = null;
    this.rows = new Map();
  }

  // `reveal`: open the panel (a run is going on now); a finished one from before fills it quietly.
  reset(execution, reveal = true) {
    this.executionId = execution ? execution.id : null;
    this.rows.clear();
    this.list.replaceChildren();
    this.revealed = reveal;
    this.showExecution(execution);
  }

  showExecution(execution) {
    if (!execution) return;
    if (this.revealed) this.root.hidden = false;
    this.root.dataset.execution = execution.id;
    this.status.textContent = execution.status;
    this.status.className = `status-pill status-${execution.status}`;
    const parts = [execution.trigger];
    if (execution.duration_ms !== null && execution.duration_ms !== undefined) parts.push(formatDuration(execution.duration_ms));
    if (execution.error) parts.push(execution.error);
    this.meta.textContent = parts.join(" · ");
  }

  showNode(run) {
    if (this.revealed) this.root.hidden = false;
    let row = this.rows.get(run.node);
    if (!row) {
      row = document.createElement("li");
      row.className = "live-node";
      row.dataset.number = run.node;
      const head = document.createElement("div");
      head.className = "live-node-head";
      const num = document.createElement("span");
      num.className = "node-num";
      num.textContent = `$${run.node}`;
      const title = document.createElement("span");
      title.className = "live-title";
      const pill = document.createElement("span");
      const duration = document.createElement("span");
      duration.className = "muted live-duration";
      head.append(num, title, pill, duration);
      const error = document.createElement("p");
      error.className = "live-error";
      error.hidden = true;
      const output = document.createElement("pre");
      output.className = "live-output";
      output.hidden = true;
      // A scrolling box must be reachable from the keyboard to be read.
      output.tabIndex = 0;
      output.setAttribute("aria-label", `Output of $${run.node}`);
      row.append(head, error, output);
      this.rows.set(run.node, row);
      this.list.append(row);
    }
    const [head, error, output] = row.children;
    const [, title, pill, duration] = head.children;
    title.textContent = this.titleOf(run.node) || run.kind;
    pill.className = `status-pill status-${run.status}`;
    pill.textContent = run.attempt > 1 ? `${run.status} (attempt ${run.attempt})` : run.status;
    // A Wait: the execution is released until then, so the row says when it goes on.
    if (run.status === "waiting" && run.wake_at) pill.textContent = `waiting until ${formatMoment(run.wake_at)}`;
    if (run.tries > 1 && run.status !== "running") pill.textContent += ` after ${run.tries} tries`;
    // The routes a node chose (its output ports, when it has others than "main").
    const routes = run.status !== "skipped" && Array.isArray(run.ports) && run.ports.join() !== "main" ? run.ports : [];
    duration.textContent = [formatDuration(run.duration_ms), ...routes.map((port) => `→ ${port}`)].filter(Boolean).join(" · ");
    // A Loop over items says how far it is ("item 40 of 200").
    if (run.status === "running" && run.progress && Number.isInteger(run.progress.of)) {
      duration.textContent = `item ${run.progress.item} of ${run.progress.of}`;
    }
    row.dataset.status = run.status;
    if (run.started_at && row.dataset.startedAt !== run.started_at) {
      // In run order, not by number: after the rows that started before it, before those not started.
      row.dataset.startedAt = run.started_at;
      const later = [...this.list.children].find((other) => other !== row && (!other.dataset.startedAt || other.dataset.startedAt > run.started_at));
      this.list.insertBefore(row, later || null);
    }
    if (run.progress && run.progress.text && run.status === "running") {
      // Live news from a running node, e.g. "retry 2 of 3 in 4 s" after a failed try.
      error.hidden = false;
      error.className = "live-error live-progress";
      error.textContent = [run.progress.text, run.progress.reason].filter(Boolean).join(" · ");
    } else if (run.error) {
      error.hidden = false;
      // A skip is not an error: its reason reads as a note.
      error.className = run.status === "skipped" ? "live-error skip-reason" : "live-error";
      // "fields" is already said in the message, field by field; other details are shown as text.
      const details = Object.entries(run.error)
        .filter(([key, value]) => key !== "message" && key !== "fields" && value !== null && value !== undefined)
        .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
      error.textContent = [run.error.message, ...details].join(" · ");
    } else {
      error.hidden = true;
    }
    if (run.output !== null && run.output !== undefined) {
      output.hidden = false;
      output.classList.remove("is-streaming");
      output.textContent = outputText(run.output);
    }
  }

  // A running node's text as the model makes it (a "tokens" event), shown until its output arrives.
  appendText(number, text) {
    const row = this.rows.get(number);
    if (!row || row.dataset.status !== "running") return; // ended: its output says it all
    const output = row.children[2];
    if (!output.classList.contains("is-streaming")) {
      output.classList.add("is-streaming");
      output.textContent = "";
    }
    output.hidden = false;
    if (output.textContent.length < MAX_OUTPUT_CHARS) output.append(text);
  }
}

function formatMoment(iso) {
  const moment = new Date(iso);
  const sameDay = moment.toDateString() === new Date().toDateString();
  return sameDay ? moment.toLocaleTimeString() : moment.toLocaleString();
}

// Keeps the canvas badges and the run panel in step with the scenario's runs, and lays a past run
// over the canvas on request (the live state comes back when it is cleared).
export function followRuns({ root, graph, cellByNumber, initialLast }) {
  const panelElement = document.getElementById("live-panel");
  const panel = new RunPanel(panelElement, (number) => cellByNumber(number)?.getData().title);
  const liveStatus = new Map();
  const seqs = new Map(); // the latest seq applied per node of the followed run: older frames are stale
  let overlay = null;

  function show(cell, run) {
    setNodeStatus(cell, run);
    showRoutes(graph, cell, run);
  }

  function applyRun(run) {
    liveStatus.set(run.node, run);
    const cell = cellByNumber(run.node);
    if (cell && !overlay) show(cell, run);
    panel.showNode(run);
  }

  function onMessage(message) {
    if (message.type === "state") {
      seqs.clear();
      if (message.execution) {
        const going = ["queued", "running"].includes(message.execution.status);
        panel.reset(message.execution, going || (panel.revealed && panel.executionId === message.execution.id));
        // The server lists nodes by number; the panel shows them in the order they ran.
        const started = (run) => run.started_at || "~";
        [...(message.nodes || [])].sort((a, b) => started(a).localeCompare(started(b))).forEach(applyRun);
      }
    } else if (message.type === "execution") {
      if (message.execution.id !== panel.executionId) {
        seqs.clear();
        panel.reset(message.execution);
        document.body.dispatchEvent(new CustomEvent("scenery:newExecution"));
      } else {
        panel.showExecution(message.execution);
      }
      if (["succeeded", "failed", "cancelled"].includes(message.execution.status)) {
        document.body.dispatchEvent(new CustomEvent("scenery:executionFinished", { detail: message.execution }));
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
    } else if (message.type === "tokens" && message.execution_id === panel.executionId) {
      panel.appendText(message.node, message.text);
    }
  }

  const live = new LiveSocket(root.dataset.wsPath, onMessage, (status) => root.classList.toggle("is-offline", status === "closed"));
  live.connect();

  return {
    live,
    showOverlay(statuses) {
      overlay = statuses;
      panelElement.dataset.covered = "true";
      graph.getNodes().forEach((cell) => show(cell, statuses[String(cell.getData().number)] || null));
    },
    clearOverlay() {
      overlay = null;
      delete panelElement.dataset.covered;
      graph.getNodes().forEach((cell) => {
        const number = cell.getData().number;
        show(cell, liveStatus.get(number) || initialLast.get(number) || null);
      });
    },
  };
}
