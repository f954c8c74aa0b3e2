import { copyText } from "./copy.js";

// The editor's panels: catalog search, sidebar tabs, inspector (with the data picker), runs history,
// the run dialog, and copy buttons. The server renders them (htmx); this only moves focus and text.

const EMPTY_INSPECTOR = '<div id="inspector" class="inspector inspector-empty"><p class="muted">Select a node to configure it.</p></div>';

export function initPanels({ root, canEdit, autosave, banner, showOverlay, clearOverlay, selectNode }) {
  const inspectorUrl = (id) => root.dataset.inspectorUrl.replace("00000000-0000-0000-0000-000000000000", id);
  const runsPanel = document.getElementById("runs-panel");
  const inspectorPanel = document.getElementById("inspector-panel");
  const dialog = document.getElementById("run-dialog");
  let lastField = null;
  let openNode = null;

  // -- catalog search ---------------------------------------------------------------------------------
  const search = document.getElementById("catalog-search");
  search?.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let any = false;
    for (const group of document.querySelectorAll(".catalog-group")) {
      let visible = 0;
      for (const item of group.querySelectorAll(".catalog-item")) {
        const match = words.every((word) => item.dataset.search.includes(word));
        item.parentElement.hidden = !match;
        if (match) visible += 1;
      }
      group.hidden = visible === 0;
      any ||= visible > 0;
    }
    document.querySelector(".catalog-none").hidden = any;
  });

  // -- tabs -------------------------------------------------------------------------------------------------
  for (const tab of root.querySelectorAll('.tabs [role="tab"]')) {
    tab.addEventListener("click", () => {
      for (const other of root.querySelectorAll('.tabs [role="tab"]')) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
      }
    });
  }

  // -- inspector ------------------------------------------------------------------------------------------
  function showInspectorPanel() {
    runsPanel.hidden = true;
    inspectorPanel.hidden = false;
  }

  // Unsaved edits of a node's form are kept when another node is opened, and come back with it.
  const drafts = new Map();
  let formDirty = false;
  // The save status tells the truth about node forms too: edits there are saved by their Save button.
  if (autosave) {
    autosave.unsavedElsewhere = () => {
      const open = document.getElementById("inspector")?.dataset.nodeNumber;
      if (formDirty && open) return `Unsaved changes in $${open}'s form`;
      if (drafts.size) return drafts.size === 1 ? "Unsaved changes in a node's form" : `Unsaved changes in ${drafts.size} nodes' forms`;
      return "";
    };
  }
  function setFormDirty(dirty) {
    if (formDirty === dirty) return;
    formDirty = dirty;
    autosave?.refresh();
  }
  for (const type of ["input", "change"]) {
    document.addEventListener(type, (event) => {
      if (event.target.closest && event.target.closest("#node-form")) setFormDirty(true);
    });
  }

  function keepDraft() {
    const form = document.getElementById("node-form");
    const id = document.getElementById("inspector")?.dataset.nodeId;
    if (!form || !id || !formDirty) return;
    drafts.set(id, [...form.elements].filter((el) => el.name && el.name !== "csrfmiddlewaretoken").map((el) => ({
      name: el.name,
      value: el.value,
      checked: el.checked,
    })));
  }

  function restoreDraft() {
    const inspector = document.getElementById("inspector");
    const form = document.getElementById("node-form");
    const draft = inspector && drafts.get(inspector.dataset.nodeId);
    if (!form || !draft) return;
    for (const group of form.querySelectorAll("[data-pairs]")) {
      const name = `${group.dataset.name}-key`;
      const wanted = draft.filter((field) => field.name === name).length;
      const add = group.querySelector("[data-pairs-add]");
      while (add && !add.disabled && form.querySelectorAll(`[name="${CSS.escape(name)}"]`).length < wanted) add.click();
    }
    const seen = new Map();
    for (const field of draft) {
      const index = seen.get(field.name) || 0;
      seen.set(field.name, index + 1);
      const control = form.querySelectorAll(`[name="${CSS.escape(field.name)}"]`)[index];
      if (!control || control.disabled || control.readOnly) continue;
      if (control.type === "checkbox" || control.type === "radio") control.checked = field.checked;
      else if (control.tagName === "SELECT" && control.value !== field.value) {
        control.value = field.value;
        // e.g. the credential: its model list is loaded on change, as when a person picks it.
        control.dispatchEvent(new Event("change", { bubbles: true }));
      } else control.value = field.value;
    }
    // node-form.js shows and hides conditional fields on a change inside its [data-node-form].
    (form.querySelector("[data-node-form]") || form).dispatchEvent(new Event("change", { bubbles: true }));
    formDirty = true;
    const note = document.createElement("p");
    note.className = "notice notice-warn";
    note.setAttribute("role", "status");
    note.textContent = "Your unsaved changes to this node are back. Save to keep them. ";
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link-btn";
    discard.textContent = "Discard them";
    discard.addEventListener("click", () => {
      drafts.delete(inspector.dataset.nodeId);
      setFormDirty(false);
      openNode = null;
      openInspector(inspector.dataset.nodeId);
    });
    note.append(discard);
    form.before(note);
  }

  const nodesPath = new URL(root.dataset.inspectorUrl, location.href).pathname.split("00000000-")[0];
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const inspector = document.getElementById("inspector");
    const config = event.detail.requestConfig || {};
    if (!inspector || !String(config.path || "").includes(nodesPath)) return;
    if (config.verb === "get") {
      if (openNode && inspector.dataset.nodeId !== openNode) {
        // Another node was chosen while this one loaded (htmx drops a request made while the
        // target is busy): load the one chosen last.
        window.htmx.ajax("GET", inspectorUrl(openNode), { target: "#inspector", swap: "outerHTML" });
        return;
      }
      formDirty = false;
      restoreDraft();
      autosave?.refresh();
      // A node opens at the top of its form, not where the last one was scrolled to; on a phone the
      // details sit under the canvas, so they are brought into view.
      inspectorPanel.scrollTop = 0;
      if (window.matchMedia("(max-width: 800px)").matches) inspector.scrollIntoView({ block: "start" });
    } else if (!inspector.querySelector(".notice-error")) {
      // Saved (Save, or Run once which saves first): nothing of this node is pending any more.
      drafts.delete(inspector.dataset.nodeId);
      setFormDirty(false);
      autosave?.refresh();
    }
  });

  window.addEventListener("beforeunload", (event) => {
    if (formDirty && document.getElementById("node-form")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // What the inspector shows beside the form (the data picker, the node's output, the webhook's last
  // calls) goes stale when edges change or a run happens: fetch them again, leaving the form alone.
  const LIVE_SECTIONS = [".data-picker", ".node-output", ".webhook-info"];
  let refreshTimer = null;
  function refreshSections(event) {
    const nodeIds = event?.detail?.nodeIds;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const inspector = document.getElementById("inspector");
      const id = inspector?.dataset.nodeId;
      // A node deleted (or not saved yet) has nothing to fetch.
      if (!id || (nodeIds && !nodeIds.includes(id))) return;
      const response = await fetch(inspectorUrl(id), { credentials: "same-origin", headers: { "HX-Request": "true" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const current = document.getElementById("inspector");
      if (!current || current.dataset.nodeId !== id) return;
      for (const selector of LIVE_SECTIONS) {
        const before = current.querySelector(`:scope > ${selector}`);
        const after = fresh.querySelector(`#inspector > ${selector}`);
        if (after && before) before.replaceWith(after);
        else if (after) current.append(after);
        else before?.remove();
        if (after) window.htmx.process(after);
      }
      document.body.dispatchEvent(new CustomEvent("scenery:sectionsRefreshed"));
    }, 250);
  }
  for (const type of ["scenery:edgesChanged", "scenery:newExecution", "scenery:executionFinished"]) {
    document.body.addEventListener(type, refreshSections);
  }
  // A test call became the trigger's test data: its form shows it.
  document.body.addEventListener("scenery:testCallReceived", (event) => {
    const id = event.detail.nodeId;
    if (document.getElementById("inspector")?.dataset.nodeId !== id) return;
    setFormDirty(false);
    window.htmx.ajax("GET", inspectorUrl(id), { target: "#inspector", swap: "outerHTML" });
  });

  function openInspector(id) {
    if (!id) return;
    showInspectorPanel();
    if (openNode === id && document.querySelector(`#inspector[data-node-id="${id}"]`)) return;
    keepDraft();
    openNode = id;
    lastField = null;
    window.htmx.ajax("GET", inspectorUrl(id), { target: "#inspector", swap: "outerHTML" });
  }

  function closeInspector() {
    keepDraft();
    setFormDirty(false);
    openNode = null;
    lastField = null;
    const inspector = document.getElementById("inspector");
    if (inspector) inspector.outerHTML = EMPTY_INSPECTOR;
  }

  // The data picker inserts into the field that last had focus, at its cursor.
  document.addEventListener("focusin", (event) => {
    const field = event.target;
    if (field.closest && field.closest("#node-form") && field.matches("input:not([type=checkbox]):not([type=radio]):not([type=hidden]), textarea")) {
      lastField = field;
    }
  });

  function insertExpression(expression) {
    const field = lastField && document.contains(lastField) ? lastField : null;
    if (!field || field.readOnly || field.disabled) {
      banner.show("Click into a field of the form first, then pick a value to insert it there.", { kind: "warn" });
      return;
    }
    const start = field.selectionStart ?? field.value.length;
    const end = field.selectionEnd ?? field.value.length;
    field.setRangeText(expression, start, end, "end");
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  }

  // Mapping in one gesture: a value of the picker dragged onto a field is inserted there (at the
  // field's cursor, or at its end when it had none).
  const DRAGGED = "application/x-scenery-expression";
  const dropField = (event) => {
    const field = event.target.closest && event.target.closest("#node-form [data-expressions] input, #node-form [data-expressions] textarea");
    return field && event.dataTransfer.types.includes(DRAGGED) && !field.readOnly && !field.disabled ? field : null;
  };
  document.addEventListener("dragstart", (event) => {
    const pick = event.target.closest && event.target.closest(".pick");
    if (!pick) return;
    event.dataTransfer.setData(DRAGGED, pick.dataset.expr);
    event.dataTransfer.setData("text/plain", pick.dataset.expr);
    event.dataTransfer.effectAllowed = "copy";
  });
  document.addEventListener("dragover", (event) => {
    if (dropField(event)) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    const field = dropField(event);
    if (!field) return;
    event.preventDefault();
    lastField = field;
    if (document.activeElement !== field) field.setSelectionRange(field.value.length, field.value.length);
    insertExpression(event.dataTransfer.getData(DRAGGED));
  });

  // Beside each field that holds expressions, what it resolves to with the data the picker shows
  // (the latest run's, or the trigger's test data), updated as one types.
  const EXPRESSION = /\{\{\s*([^{}]*?)\s*\}\}/g;
  const PLAIN_REFERENCE = /^\$[A-Za-z0-9_]+(?:\.[A-Za-z0-9_-]+|\[[^\]]*\])*$/;
  function pickerValue(path) {
    const pick = document.querySelector(`#inspector .data-picker .pick[data-expr="${CSS.escape(`{{${path}}}`)}"]`);
    if (!pick) return undefined;
    const leaf = pick.closest(".json-leaf");
    if (leaf) return leaf.querySelector(".json-value")?.textContent ?? "";
    return pick.closest(".json-branch")?.querySelector(".json-type")?.textContent ?? "";
  }
  function asText(value) {
    try {
      const parsed = JSON.parse(value);
      return typeof parsed === "string" ? parsed : value;
    } catch {
      return value;
    }
  }
  function previewOf(text) {
    const found = [...text.matchAll(EXPRESSION)];
    if (!found.length) return null;
    // $item and $index exist only while a Loop over items runs: nothing to preview before.
    if (found.some((match) => /^\$(item|index)\b/.test(match[1].trim()))) {
      return { text: "$item and $index take each item of the loop (and its position) when it runs." };
    }
    // Functions and defaults are evaluated by the server only (one implementation of them).
    if (found.some((match) => !PLAIN_REFERENCE.test(match[1].replace(/\s+/g, "")))) {
      return { note: true, text: "Functions are applied when the node runs: Run once shows the result." };
    }
    const missing = found.filter((match) => pickerValue(match[1].replace(/\s+/g, "")) === undefined).map((match) => match[1]);
    if (missing.length) return { missing: true, text: `No data yet for ${missing.join(", ")}: run the nodes it comes from (or give the trigger test data).` };
    if (found.length === 1 && text.trim() === found[0][0]) return { text: pickerValue(found[0][1].replace(/\s+/g, "")) };
    return { text: text.replace(EXPRESSION, (_, path) => asText(pickerValue(path.replace(/\s+/g, "")))) };
  }
  function showPreview(field) {
    const box = field.closest("[data-expressions]");
    if (!box || field.parentElement !== box) return;
    let preview = box.querySelector(":scope > .field__preview");
    const result = previewOf(field.value);
    if (!result) {
      preview?.remove();
      return;
    }
    if (!preview) {
      preview = document.createElement("p");
      preview.className = "field__preview";
      preview.setAttribute("aria-live", "polite");
      preview.id = `${field.id}-preview`;
      field.after(preview);
    }
    preview.dataset.missing = result.missing ? "true" : "false";
    preview.textContent = result.missing || result.note ? result.text : `→ ${result.text}`;
  }
  function showPreviews() {
    document.querySelectorAll("#node-form [data-expressions] input, #node-form [data-expressions] textarea").forEach(showPreview);
  }
  document.addEventListener("input", (event) => {
    if (event.target.closest && event.target.closest("#node-form [data-expressions]")) showPreview(event.target);
  });
  document.body.addEventListener("htmx:afterSettle", () => showPreviews());
  document.body.addEventListener("scenery:sectionsRefreshed", () => showPreviews());

  // A credential chosen in the form brings its provider's models into the model field's suggestions.
  document.addEventListener("change", async (event) => {
    const select = event.target;
    if (!select.matches || !select.matches('#node-form select[name="credential"]')) return;
    const input = document.querySelector("#node-form input[list]");
    const list = input && document.getElementById(input.getAttribute("list"));
    if (!list) return;
    const url = new URL(document.getElementById("inspector").dataset.modelsUrl, location.href);
    if (select.value) url.searchParams.set("credential", select.value);
    let data = { models: [], error: "The model list could not be loaded. You can still type a model ID." };
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) data = await response.json();
    } catch {
      // keep the message above
    }
    list.replaceChildren(
      ...data.models.map((model) => {
        const option = document.createElement("option");
        option.value = model;
        return option;
      }),
    );
    let note = list.parentElement.querySelector(".field__note");
    if (data.error && !note) {
      note = document.createElement("p");
      note.className = "field__note";
      note.setAttribute("role", "status");
      list.after(note);
    }
    if (note) {
      note.textContent = data.error;
      note.hidden = !data.error;
    }
  });


  // -- a new credential from the node form ----------------------------------------------------------
  // Forms cannot nest, so the team's credential form opens in a dialog instead of inside the node's form.
  const credentialDialog = document.getElementById("credential-dialog");
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (target && target.matches && target.matches("#node-form .field__inline-new")) {
      event.detail.target = document.getElementById("credential-dialog-body");
      event.detail.shouldSwap = event.detail.xhr.status < 400;
    }
  });
  // Opened once settled, when htmx has made the new form live.
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target.id === "credential-dialog-body" && !credentialDialog.open) {
      credentialDialog.showModal();
      credentialDialog.querySelector("input:not([type=hidden])")?.focus();
    }
  });
  document.body.addEventListener("credentialCreated", (event) => {
    const select = document.querySelector('#node-form select[name="credential"]');
    if (select) {
      let option = [...select.options].find((o) => o.value === event.detail.id);
      if (!option) {
        option = new Option(event.detail.name, event.detail.id);
        select.add(option);
      }
      select.value = event.detail.id;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
    setTimeout(() => credentialDialog.open && credentialDialog.close(), 900);
  });

  // -- runs ---------------------------------------------------------------------------------------------------
  function showRuns() {
    inspectorPanel.hidden = true;
    runsPanel.hidden = false;
    window.htmx.ajax("GET", root.dataset.runsUrl, { target: "#runs-body", swap: "innerHTML" });
  }

  // A new run shows up in the open history list by itself.
  document.body.addEventListener("scenery:newExecution", () => {
    if (!runsPanel.hidden && document.querySelector("#runs-body #run-list")) {
      window.htmx.ajax("GET", root.dataset.runsUrl, { target: "#runs-body", swap: "innerHTML" });
    }
  });

  function hideRuns() {
    clearOverlay();
    showInspectorPanel();
  }

  // After a refused save, bring the first field with an error into view and put the cursor there.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "inspector" && event.detail.elt?.id !== "inspector") return;
    const invalid = document.querySelector("#inspector .field--invalid:not([hidden])");
    if (!invalid) return;
    invalid.scrollIntoView({ block: "center" });
    invalid.querySelector("input:not([type=hidden]), textarea, select")?.focus({ preventScroll: true });
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    const detail = document.querySelector("#runs-body #run-detail");
    if (event.detail.target.id === "runs-body") {
      if (detail) showOverlay(JSON.parse(detail.dataset.overlay || "{}"));
      else clearOverlay();
    }
  });
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target.id === "run-dialog-body" && !dialog.open) dialog.showModal();
  });

  // A click on the backdrop (outside the dialog's box) closes it, as Esc does.
  for (const box of [dialog, document.getElementById("credential-dialog")]) {
    box?.addEventListener("click", (event) => {
      if (event.target !== box) return;
      const rect = box.getBoundingClientRect();
      const inside = event.clientX >= rect.left && event.clientX <= rect.right && event.clientY >= rect.top && event.clientY <= rect.bottom;
      if (!inside) box.close();
    });
  }

  document.body.addEventListener("scenery:runStarted", (event) => {
    clearOverlay();
    // A run refused at the start (e.g. no trigger) keeps the dialog open with its reasons.
    if (event.detail.status !== "failed") setTimeout(() => dialog.open && dialog.close(), 600);
  });

  // -- clicks -----------------------------------------------------------------------------------------------
  root.addEventListener("click", async (event) => {
    const target = event.target;
    const pick = target.closest(".pick");
    if (pick) {
      event.preventDefault();
      insertExpression(pick.dataset.expr);
      return;
    }
    const copy = target.closest("[data-copy-value], [data-copy-target]");
    if (copy) {
      event.preventDefault();
      const text = copy.dataset.copyValue ?? document.querySelector(copy.dataset.copyTarget)?.textContent ?? "";
      await copyText(text, copy);
      return;
    }
    const outlineNode = target.closest(".outline-node");
    if (outlineNode) {
      selectNode(outlineNode.dataset.nodeId);
      return;
    }
    const action = target.closest("[data-action]")?.dataset.action;
    if (action === "close-inspector") closeInspector();
    else if (action === "show-runs") showRuns();
    else if (action === "hide-runs") hideRuns();
    else if (action === "clear-overlay") clearOverlay();
    else if (action === "dismiss-banner") banner.hide();
    else if (action === "reload") location.reload();
    else if (action === "close-dialog") dialog.close();
    else if (action === "close-credential") credentialDialog.close();
    else if (action === "close-live") document.getElementById("live-panel").hidden = true;
  });

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

  return { openInspector, closeInspector, showProblems };
}
