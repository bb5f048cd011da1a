// A stream's live changes: an observer WebSocket (it never acknowledges, so watching
// cannot move anyone's position), opened only while the stream has a consumer (an observer
// alone would have the reader start decoding the slot for it). Rows are drawn four times a
// second; past `sampledAbove` rows a second the tail draws an even sample of
// `drawnPerTick` a time and says so, so that thousands of rows a second leave the page
// responsive.
import { webSocketUrl } from "./api.js";
import { element, showValue } from "./format.js";

const tickMilliseconds = 250;
const sampledAbove = 100; // rows a second
const drawnPerTick = 25;
const rowsKept = 200;
const pendingKept = 1000; // between two draws (a hidden tab's timers run seldom)

// JSON.parse, except that a number JavaScript cannot hold exactly (a bigint past 2^53, a
// numeric's 12345.678900) keeps its text: shown as PostgreSQL wrote it, compared as such.
function parseExactly(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === "number" && context && context.source !== undefined && String(value) !== context.source
      ? context.source : value);
}

// v1 messages are wal2json transactions; v2 messages are one event each. Both become
// [{op, table, new, old, tables}].
function rowEvents(api, data) {
  const message = parseExactly(data);
  if (api === "v2") return message.op === "begin" || message.op === "commit" ? [] : [message];
  return (message.change || []).map((change) => {
    const zip = (names, values) => Object.fromEntries((names || []).map((name, index) => [name, values[index]]));
    return {
      op: change.kind,
      table: change.schema + "." + change.table,
      new: change.columnnames ? zip(change.columnnames, change.columnvalues) : undefined,
      old: change.oldkeys ? zip(change.oldkeys.keynames, change.oldkeys.keyvalues) : undefined,
    };
  });
}

function valuesOf(row) {
  const values = element("span", "values");
  for (const [column, value] of Object.entries(row || {})) {
    values.appendChild(element("span", "value", `${column}: ${showValue(value)}`));
  }
  return values;
}

// An update shows each changed column as old → new; where PostgreSQL sent no old value
// (only the key is sent unless REPLICA IDENTITY FULL), the old side is blank.
function changesOf(event) {
  const values = element("span", "values");
  const old = event.old || {};
  for (const [column, value] of Object.entries(event.new || {})) {
    const known = Object.hasOwn(old, column);
    if (known && JSON.stringify(old[column]) === JSON.stringify(value)) {
      values.appendChild(element("span", "value", `${column}: ${showValue(value)}`));
    } else {
      const change = element("span", "change", `${column}: ${known ? showValue(old[column]) + " " : ""}→ ${showValue(value)}`);
      if (!known) change.title = "the old value is not sent unless the table's REPLICA IDENTITY is FULL";
      values.appendChild(change);
    }
  }
  return values;
}

function drawEvent(event) {
  const row = element("li", "tail-row");
  row.dataset.op = event.op;
  row.dataset.table = event.table || (event.tables || []).join(",");
  row.appendChild(element("span", "op op-" + event.op, event.op));
  row.appendChild(element("span", "table", row.dataset.table));
  if (event.op === "update") row.appendChild(changesOf(event));
  else if (event.op === "delete") row.appendChild(valuesOf(event.old));
  else if (event.op === "insert") row.appendChild(valuesOf(event.new));
  return row;
}

export class LiveTail {
  constructor(root) {
    this.list = root.querySelector("#tail-list");
    this.pauseButton = root.querySelector("#tail-pause");
    this.tableSelect = root.querySelector("#tail-table");
    this.rateText = root.querySelector("#tail-rate");
    this.samplingText = root.querySelector("#tail-sampling");
    this.stateText = root.querySelector("#tail-state");
    this.pauseButton.addEventListener("click", () => this.setPaused(!this.paused));
    this.socket = null;
    this.paused = false;
  }

  open(api, path) {
    this.close();
    this.api = api;
    this.path = path;
    this.open_ = true;
    this.pending = [];
    this.counts = [];
    this.counted = 0;
    this.retryMilliseconds = 1000;
    this.list.replaceChildren();
    this.tableSelect.replaceChildren(new Option("All tables", ""));
    this.rateText.textContent = "";
    this.samplingText.hidden = true;
    this.setPaused(false);
    this.setState("connecting");
    this.ticker = setInterval(() => this.tick(), tickMilliseconds);
  }

  close() {
    this.open_ = false;
    clearInterval(this.ticker);
    clearTimeout(this.retry);
    this.retry = 0;
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000, "the console left the stream's page");
      this.socket = null;
    }
  }

  // From each poll: whether the stream has a consumer, and whether it exists at all.
  setConsumer(hasConsumer, listed) {
    this.hasConsumer = hasConsumer;
    this.listed = listed;
    if (!this.open_ || this.socket || this.retry) return;
    if (hasConsumer) this.connect();
    else this.setState(listed ? "waiting for a consumer: changes show while the stream has one" : "no such stream");
  }

  connect() {
    this.setState("connecting");
    const socket = new WebSocket(webSocketUrl(this.path));
    this.socket = socket;
    socket.onopen = () => {
      this.retryMilliseconds = 1000;
      this.setState(this.paused ? "paused" : "live");
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (closed) => {
      this.socket = null;
      this.setState(`closed: ${closed.reason || "the connection ended"} (${closed.code})`);
      if (!this.open_ || closed.code === 1000) return; // 1000: the stream was deleted
      // Again later, if the stream is still there and still has a consumer then.
      this.retry = setTimeout(() => {
        this.retry = 0;
        if (this.hasConsumer && this.listed) this.connect();
      }, this.retryMilliseconds);
      this.retryMilliseconds = Math.min(this.retryMilliseconds * 2, 10000);
    };
  }

  receive(data) {
    for (const event of rowEvents(this.api, data)) {
      this.counted += 1;
      this.offerTable(event.table);
      if (this.paused) continue;
      const table = this.tableSelect.value;
      if (table && event.table !== table && !(event.tables || []).includes(table)) continue;
      this.pending.push(event);
    }
    if (this.pending.length > pendingKept) this.pending.splice(0, this.pending.length - pendingKept);
  }

  offerTable(table) {
    if (!table || [...this.tableSelect.options].some((option) => option.value === table)) return;
    this.tableSelect.appendChild(new Option(table, table));
  }

  setTables(tables) {
    for (const table of tables) this.offerTable(table);
  }

  setPaused(paused) {
    this.paused = paused;
    this.pauseButton.textContent = paused ? "Resume" : "Pause";
    this.pauseButton.setAttribute("aria-pressed", String(paused));
    if (paused) this.pending = [];
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.setState(paused ? "paused" : "live");
  }

  setState(text) {
    this.stateText.textContent = text;
  }

  tick() {
    this.counts.push(this.counted);
    this.counted = 0;
    if (this.counts.length > 1000 / tickMilliseconds) this.counts.shift();
    const perSecond = this.counts.reduce((sum, count) => sum + count, 0) * (1000 / tickMilliseconds) / this.counts.length;
    this.rateText.textContent = `${Math.round(perSecond)} rows/s`;
    const pending = this.pending;
    this.pending = [];
    // A burst at a low rate (one transaction of 30 rows) is drawn whole; a high rate, sampled.
    const step = perSecond > sampledAbove || pending.length > rowsKept ? Math.ceil(pending.length / drawnPerTick) : 1;
    this.samplingText.hidden = step <= 1;
    if (step > 1) this.samplingText.textContent = `sampling: showing 1 in ${step}`;
    if (!pending.length) return;
    const drawn = document.createDocumentFragment();
    for (let index = pending.length - 1; index >= 0; index -= step) drawn.appendChild(drawEvent(pending[index]));
    this.list.prepend(drawn);
    while (this.list.children.length > rowsKept) this.list.lastElementChild.remove();
  }
}
