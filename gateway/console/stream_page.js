// One stream's page: its figures (from the poll), its live tail, the first rows of its
// snapshot, and (v2, an admin token) its deletion.
import { ApiError, getJson, request } from "./api.js";
import { describeTables, element, humanBytes, showValue } from "./format.js";
import { LiveTail } from "./live_tail.js";
import { drawSparkline } from "./sparkline.js";

const snapshotRows = 20;

export class StreamPage {
  constructor(root, state) {
    this.root = root;
    this.state = state;
    this.tail = new LiveTail(root);
    this.title = root.querySelector("#stream-title");
    this.error = root.querySelector("#stream-error");
    this.snapshot = root.querySelector("#snapshot");
    this.dialog = root.querySelector("#delete-dialog");
    this.deleteButton = root.querySelector("#delete-stream");
    this.deleteButton.addEventListener("click", () => this.dialog.showModal());
    root.querySelector("#delete-cancel").addEventListener("click", () => this.dialog.close());
    root.querySelector("#delete-confirm").addEventListener("click", () => this.remove());
  }

  open(api, name) {
    this.api = api;
    this.name = name;
    this.snapshotShown = false;
    this.root.hidden = false;
    this.title.textContent = name;
    this.error.textContent = "";
    this.snapshot.replaceChildren(element("p", "", api === "v2" ? "Loading…" :
      "v1 slots read their snapshot through /v1/snapshot/data (pgdeltastream's API)."));
    this.deleteButton.hidden = api !== "v2";
    this.root.querySelector("#dialog-name").textContent = name;
    document.title = `${name} · deltastream console`;
    this.tail.open(api, api === "v2" ? `/v2/streams/${encodeURIComponent(name)}/changes?mode=observe` :
      `/v1/lr/stream?slotName=${encodeURIComponent(name)}&mode=observe`);
    this.root.querySelector("#back-link").focus();
  }

  close() {
    if (this.root.hidden) return;
    this.tail.close();
    if (this.dialog.open) this.dialog.close();
    this.root.hidden = true;
  }

  update() {
    if (this.root.hidden) return;
    const slot = this.state.slots.find((each) => each.api === this.api && each.name === this.name);
    this.tail.setConsumer(Boolean(slot && slot.consumer.connected), Boolean(slot));
    if (!slot) {
      this.error.textContent = `no stream "${this.name}" on this gateway's reader (deleted, or never created)`;
      return;
    }
    this.error.textContent = "";
    const lag = this.root.querySelector("#stream-lag");
    lag.textContent = humanBytes(slot.lag_bytes) + (slot.lag_warning ? " — over the reader's lag warning" : "");
    lag.dataset.bytes = String(slot.lag_bytes);
    lag.classList.toggle("warning", slot.lag_warning);
    const samples = this.state.history.get(slot.slot) || [];
    const span = drawSparkline(this.root.querySelector("#stream-lag-chart"), samples, this.state.nowSeconds,
      slot.lag_warning);
    this.root.querySelector("#stream-lag-since").textContent =
      span >= 90 ? `${Math.round(span / 60)} min ago` : `${Math.round(span)} s ago`;
    this.root.querySelector("#stream-lag-peak").textContent =
      "peak " + humanBytes(Math.max(0, ...samples.map(([, bytes]) => bytes)));
    const rate = this.state.rates.get(slot.slot);
    this.root.querySelector("#stream-rate").textContent = rate === undefined ? "—" : rate.toFixed(1);
    this.root.querySelector("#stream-consumer").textContent = slot.consumer.connected ? "connected" : "none";
    this.root.querySelector("#stream-observers").textContent = String(slot.observers);
    this.root.querySelector("#stream-acked").textContent = slot.acked_lsn || "—";
    const tables = this.root.querySelector("#stream-tables");
    const described = describeTables(slot.tables);
    if (tables.textContent !== described) tables.textContent = described;
    if (slot.tables) {
      this.tail.setTables(slot.tables.map((table) => table.table));
      if (!this.snapshotShown) this.showSnapshot(slot.tables);
    }
  }

  // The first rows of each table, from the snapshot this gateway holds (only the gateway
  // that created the stream holds it, until it goes unread for a while): asked only when
  // the stream says it is held here, so that no refusal is provoked.
  async showSnapshot(tables) {
    this.snapshotShown = true;
    const name = this.name;
    let held = false;
    try {
      const stream = await getJson(`/v2/streams/${encodeURIComponent(name)}`);
      held = Boolean(stream.snapshot);
    } catch (error) {
      this.snapshot.replaceChildren(element("p", "snapshot-error", error.message));
      return;
    }
    if (!held) {
      this.snapshot.replaceChildren(element("p", "snapshot-error",
        "No snapshot is held here: it is held by the gateway that created the stream until it goes unread, " +
        "and none is taken with \"snapshot\": false. Every change since the stream's creation is in the live changes."));
      return;
    }
    const sections = await Promise.all(tables.map((table) => this.snapshotTable(name, table.table)));
    if (this.name === name && !this.root.hidden) this.snapshot.replaceChildren(...sections);
  }

  async snapshotTable(name, table) {
    const section = element("section", "snapshot-table");
    section.dataset.table = table;
    section.appendChild(element("h4", "", table));
    try {
      const path = `/v2/streams/${encodeURIComponent(name)}/snapshot?table=${encodeURIComponent(table)}&limit=${snapshotRows}`;
      const text = await (await request(path)).text();
      const rows = text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
      section.appendChild(rows.length ? rowsTable(rows, table) : element("p", "", "no rows"));
    } catch (error) {
      section.appendChild(element("p", "snapshot-error", error.message));
    }
    return section;
  }

  async remove() {
    this.dialog.close();
    try {
      await request(`/v2/streams/${encodeURIComponent(this.name)}`, { method: "DELETE" });
      window.location.hash = "#/";
    } catch (error) {
      this.error.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }
}

function rowsTable(rows, table) {
  const wrapper = element("div", "table-scroll");
  const grid = element("table");
  grid.appendChild(element("caption", "", `the first ${rows.length} rows of ${table}, in key order`));
  const columns = Object.keys(rows[0]);
  const head = element("tr");
  for (const column of columns) {
    const cell = element("th", "", column);
    cell.scope = "col";
    head.appendChild(cell);
  }
  grid.appendChild(element("thead")).appendChild(head);
  const body = grid.appendChild(element("tbody"));
  for (const row of rows) {
    const line = body.appendChild(element("tr"));
    for (const column of columns) line.appendChild(element("td", "", showValue(row[column])));
  }
  wrapper.appendChild(grid);
  return wrapper;
}
