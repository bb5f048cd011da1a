// A stream's live changes: an observer WebSocket (it never acknowledges, so watching
// cannot move anyone's position). Rows are drawn four times a second, at most
// `drawnPerTick` a time: past that the tail samples evenly and says so, so that a stream of
// thousands of rows a second leaves the page responsive.
import { webSocketUrl } from "./api.js";
import { element, showValue } from "./format.js";

const tickMilliseconds = 250;
const drawnPerTick = 25;
const rowsKept = 200;

// v1 messages are wal2json transactions; v2 messages are one event each. Both become
// [{op, table, new, old, tables}].
function rowEvents(api, data) {
  const message = JSON.parse(data);
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
    this.setPaused(false);
    this.connect();
    this.ticker = setInterval(() => this.tick(), tickMilliseconds);
  }

  close() {
    this.open_ = false;
    clearInterval(this.ticker);
    clearTimeout(this.retry);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000, "the console left the stream's page");
      this.socket = null;
    }
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
      this.retry = setTimeout(() => this.connect(), this.retryMilliseconds);
      this.retryMilliseconds = Math.min(this.retryMilliseconds * 2, 10000);
    };
  }

  receive(data) {
    for (const event of rowEvents(this.api, data)) {
      this.counted += 1;
      this.offerTable(event.table);
      if (this.paused) continue;
      const table = this.tableSelect.value;
      if (table && event.table !== table) continue;
      this.pending.push(event);
    }
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
    const step = Math.ceil(pending.length / drawnPerTick);
    this.samplingText.hidden = step <= 1;
    if (step > 1) this.samplingText.textContent = `sampling: showing 1 in ${step}`;
    if (!pending.length) return;
    const drawn = document.createDocumentFragment();
    for (let index = pending.length - 1; index >= 0; index -= step) drawn.appendChild(drawEvent(pending[index]));
    this.list.prepend(drawn);
    while (this.list.children.length > rowsKept) this.list.lastElementChild.remove();
  }
}
