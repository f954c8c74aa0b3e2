// Saving the canvas: debounced, one request at a time, always naming the version it started from.
// A stale version (409) stops autosave and tells the user instead of overwriting someone's work.

export function csrfToken() {
  const headers = document.body.getAttribute("hx-headers");
  try {
    return JSON.parse(headers)["X-CSRFToken"];
  } catch {
    return "";
  }
}

export class Banner {
  constructor(element) {
    this.element = element;
    this.text = element.querySelector(".banner-text");
    this.reload = element.querySelector('[data-action="reload"]');
  }
  show(message, { kind = "error", reload = false } = {}) {
    this.text.textContent = message;
    this.element.dataset.kind = kind;
    this.reload.hidden = !reload;
    this.element.hidden = false;
  }
  hide() {
    this.element.hidden = true;
  }
}

export class Autosave {
  constructor({ url, version, collect, onSaved, banner, indicator, delay = 500 }) {
    this.url = url;
    this.version = version;
    this.collect = collect;
    this.onSaved = onSaved;
    this.banner = banner;
    this.indicator = indicator;
    this.delay = delay;
    this.dirty = false;
    this.inFlight = null;
    this.timer = null;
    this.stopped = false;
    this.retry = 0;
    this.waiters = [];
  }

  // Whether something outside the canvas (a node's form) holds edits not saved yet: then the canvas
  // being saved is not "All changes saved".
  unsavedElsewhere = () => "";

  setState(text, kind = "") {
    const elsewhere = kind === "ok" ? this.unsavedElsewhere() : "";
    if (elsewhere) [text, kind] = [elsewhere, "warn"];
    this.indicator.textContent = text;
    this.indicator.dataset.kind = kind;
  }

  schedule() {
    if (this.stopped) return;
    this.dirty = true;
    this.setState("Saving…", "pending");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), this.delay);
  }

  get busy() {
    return this.dirty || this.inFlight !== null;
  }

  // Resolves once everything changed so far is saved (or saving stopped).
  flush() {
    if (!this.busy || this.stopped) return Promise.resolve();
    clearTimeout(this.timer);
    const done = new Promise((resolve) => this.waiters.push(resolve));
    if (!this.inFlight) this.save();
    return done;
  }

  settle() {
    if (this.busy && !this.stopped) return;
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((resolve) => resolve());
  }

  async save() {
    if (this.stopped) return this.settle();
    if (this.inFlight) return;
    clearTimeout(this.timer);
    if (!this.dirty) return this.settle();
    this.dirty = false;
    const body = JSON.stringify({ version: this.version, ...this.collect() });
    this.inFlight = fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body,
      credentials: "same-origin",
    });
    let response = null;
    try {
      response = await this.inFlight;
    } catch {
      // The network dropped: keep the change and try again, a little later each time.
      this.dirty = true;
      this.retry = Math.min(this.retry + 1, 6);
      this.setState("Offline — will retry", "error");
      this.inFlight = null;
      this.timer = setTimeout(() => this.save(), 1000 * 2 ** this.retry);
      return;
    }
    this.inFlight = null;
    this.retry = 0;
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = { error: `The server answered ${response.status}.` };
    }
    if (response.ok) {
      this.version = data.version;
      this.onSaved(data);
      if (!this.dirty) this.setState("All changes saved", "ok");
      this.banner.hide();
    } else if (response.status === 409) {
      this.conflict(data.error || "This scenario was changed elsewhere.");
    } else {
      this.setState("Not saved", "error");
      this.banner.show(data.error || `Not saved: the server answered ${response.status}.`, { reload: true });
    }
    if (this.dirty) this.save();
    else this.settle();
  }

  // Say the state again (after a node form was edited or saved), unless a save is under way.
  refresh() {
    if (!this.busy && !this.stopped) this.setState("All changes saved", "ok");
  }

  conflict(message) {
    this.stopped = true;
    clearTimeout(this.timer);
    this.setState("Not saved — changed elsewhere", "error");
    this.banner.show(message, { reload: true });
    this.settle();
  }
}
