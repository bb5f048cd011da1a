// The streams view: every slot the reader serves (v2 streams by name, v1 slots), sortable
// and searchable, drawn in place each poll so that focus and scrolling stay put.
import { describeTables, element, humanBytes } from "./format.js";
import { createSparkline, drawSparkline } from "./sparkline.js";
import { CreateForm } from "./create_form.js";

const shownAtMost = 200; // rows drawn at once: the search narrows a thousand streams

const sorters = {
  name: (slot) => slot.name,
  api: (slot) => slot.api,
  consumer: (slot) => (slot.consumer.connected ? 1 : 0),
  observers: (slot) => slot.observers,
  acked: (slot) => lsnValue(slot.acked_lsn),
  lag: (slot) => slot.lag_bytes,
  rate: (slot, state) => state.rates.get(slot.slot) ?? -1,
};

// "16/B374D848" as a number that sorts like the LSN (exact below 2^53 bytes of WAL).
function lsnValue(lsn) {
  const [high, low] = String(lsn || "0/0").split("/");
  return parseInt(high, 16) * 2 ** 32 + parseInt(low, 16);
}

export class StreamsList {
  constructor(root, state) {
    this.root = root;
    this.state = state;
    this.rows = new Map(); // slot -> tr
    this.sortKey = "name";
    this.descending = false;
    this.body = root.querySelector("#streams-body");
    this.count = root.querySelector("#streams-count");
    this.more = root.querySelector("#streams-more");
    this.search = root.querySelector("#stream-search");
    this.search.addEventListener("input", () => this.update());
    for (const button of root.querySelectorAll("button[data-sort]")) {
      button.addEventListener("click", () => this.sortBy(button.dataset.sort));
    }
    this.form = new CreateForm(root.querySelector("#create-form"));
  }

  show() {
    this.root.hidden = false;
    document.title = "Streams · deltastream console";
  }

  hide() {
    this.root.hidden = true;
  }

  sortBy(key) {
    this.descending = key === this.sortKey ? !this.descending : key === "lag" || key === "rate";
    this.sortKey = key;
    for (const button of this.root.querySelectorAll("button[data-sort]")) {
      const header = button.closest("th");
      if (button.dataset.sort === key) header.setAttribute("aria-sort", this.descending ? "descending" : "ascending");
      else header.removeAttribute("aria-sort");
    }
    this.update();
  }

  matches(slot, needle) {
    if (!needle) return true;
    const text = [slot.name, slot.slot, slot.tables ? describeTables(slot.tables) : ""].join(" ").toLowerCase();
    return text.includes(needle);
  }

  update() {
    if (this.root.hidden) return;
    const state = this.state;
    const needle = this.search.value.trim().toLowerCase();
    const key = sorters[this.sortKey];
    const matching = state.slots.filter((slot) => this.matches(slot, needle));
    matching.sort((a, b) => {
      const x = key(a, state);
      const y = key(b, state);
      const order = x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
      return this.descending ? -order : order;
    });
    const shown = matching.slice(0, shownAtMost);
    const total = state.slots.length;
    this.count.textContent = matching.length === total ? `${total} stream${total === 1 ? "" : "s"}` :
      `${matching.length} of ${total} streams`;
    this.more.hidden = matching.length <= shown.length;
    this.more.textContent = `Showing the first ${shown.length} of ${matching.length}: search to narrow.`;
    const rows = shown.map((slot) => this.drawRow(slot));
    const current = [...this.body.children];
    if (rows.length !== current.length || rows.some((row, index) => row !== current[index])) {
      this.body.replaceChildren(...rows);
    }
    const live = new Set(state.slots.map((slot) => slot.slot));
    for (const slot of this.rows.keys()) if (!live.has(slot)) this.rows.delete(slot);
  }

  drawRow(slot) {
    let row = this.rows.get(slot.slot);
    if (!row) {
      row = element("tr", "stream-row");
      for (const name of ["name", "api", "tables", "consumer", "observers", "acked", "lag", "rate"]) {
        row.appendChild(element("td", name));
      }
      const link = element("a");
      link.href = `#/${slot.api}/${encodeURIComponent(slot.name)}`;
      link.textContent = slot.name;
      row.querySelector(".name").appendChild(link);
      const lag = row.querySelector(".lag");
      lag.appendChild(element("span", "lag-text"));
      lag.appendChild(createSparkline(120, 24, `lag of ${slot.name} over the last 15 minutes`));
      this.rows.set(slot.slot, row);
    }
    row.dataset.name = slot.name;
    row.dataset.api = slot.api;
    row.dataset.lag = String(slot.lag_bytes);
    row.classList.toggle("lag-warning", slot.lag_warning);
    setText(row, ".api", slot.api);
    setText(row, ".tables", describeTables(slot.tables));
    setText(row, ".consumer", slot.consumer.connected ? "connected" : "none");
    setText(row, ".observers", String(slot.observers));
    setText(row, ".acked", slot.acked_lsn || "—");
    setText(row, ".lag-text", humanBytes(slot.lag_bytes) + (slot.lag_warning ? " (over the warning)" : ""));
    drawSparkline(row.querySelector("svg"), this.state.history.get(slot.slot) || [], this.state.nowSeconds,
      slot.lag_warning);
    const rate = this.state.rates.get(slot.slot);
    setText(row, ".rate", rate === undefined ? "—" : rate.toFixed(rate < 10 ? 1 : 0));
    return row;
  }
}

function setText(row, selector, text) {
  const cell = row.querySelector(selector);
  if (cell.textContent !== text) cell.textContent = text;
}
