// Small text helpers shared by the views.

export function humanBytes(bytes) {
  if (!Number.isFinite(bytes)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0)) + " " + units[unit];
}

// A value as it appears in a row: JSON text, except that strings are shown bare.
export function showValue(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

// An element with a class and text (never innerHTML: values come from the database).
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// "public.orders (where qty > 0)" for each table of a v2 stream's definition.
export function describeTables(tables) {
  if (!tables) return "every table (wal2json)";
  return tables
    .map((table) => table.table + (table.where ? " where " + table.where : "") +
      (table.columns && table.columns.length ? " [" + table.columns.join(", ") + "]" : ""))
    .join("; ");
}
