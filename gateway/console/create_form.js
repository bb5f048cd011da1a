// The form that creates a v2 stream (POST /v2/streams, an admin token): tables, their
// columns and their `where`, with the gateway's refusal (PostgreSQL's own words) shown.
import { request } from "./api.js";
import { element } from "./format.js";

let entries = 0;

export class CreateForm {
  constructor(form) {
    this.form = form;
    this.tables = form.querySelector("#create-tables");
    this.error = form.querySelector("#create-error");
    this.submit = form.querySelector("#create-submit");
    form.querySelector("#add-table").addEventListener("click", () => this.addTable().querySelector("input").focus());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    this.addTable();
  }

  addTable() {
    const id = ++entries;
    const fieldset = element("fieldset", "table-entry");
    fieldset.appendChild(element("legend", "", "Table " + id));
    const field = (name, label, placeholder, required) => {
      const wrapper = element("div", "field");
      const labelNode = element("label", "", label);
      labelNode.htmlFor = `create-${name}-${id}`;
      const input = element("input");
      input.id = labelNode.htmlFor;
      input.name = name;
      input.placeholder = placeholder;
      input.required = required;
      input.autocomplete = "off";
      wrapper.append(labelNode, input);
      fieldset.appendChild(wrapper);
    };
    field("table", "Table", "public.orders", true);
    field("columns", "Columns", "id, customer, total (empty: all)", false);
    field("where", "Where", "total > 100 (empty: every row)", false);
    const remove = element("button", "remove-table", "Remove table " + id);
    remove.type = "button";
    remove.addEventListener("click", () => {
      if (this.tables.children.length > 1) fieldset.remove();
    });
    fieldset.appendChild(remove);
    this.tables.appendChild(fieldset);
    return fieldset;
  }

  body() {
    const tables = [...this.tables.querySelectorAll("fieldset.table-entry")].map((fieldset) => {
      const value = (name) => fieldset.querySelector(`input[name=${name}]`).value.trim();
      const table = { table: value("table") };
      if (value("columns")) table.columns = value("columns").split(",").map((column) => column.trim()).filter(Boolean);
      if (value("where")) table.where = value("where");
      return table;
    });
    return {
      name: this.form.querySelector("#create-name").value.trim(),
      tables,
      snapshot: this.form.querySelector("#create-snapshot").checked,
    };
  }

  async create() {
    const body = this.body();
    this.error.textContent = "";
    this.submit.disabled = true;
    try {
      await request("/v2/streams", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      this.form.reset();
      while (this.tables.children.length > 1) this.tables.lastElementChild.remove();
      window.location.hash = `#/v2/${encodeURIComponent(body.name)}`;
    } catch (error) {
      this.error.textContent = error.message;
    } finally {
      this.submit.disabled = false;
    }
  }
}
