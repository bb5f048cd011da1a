#include "reader/wal2json_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <strings.h>

#include "common/errors.hpp"

namespace deltastream::reader {

namespace {

// pg_type OIDs wal2json writes other than as strings (catalog/pg_type.dat).
constexpr std::uint32_t bool_oid = 16, bytea_oid = 17, int8_oid = 20, int2_oid = 21,
                        int4_oid = 23, oid_oid = 26, float4_oid = 700, float8_oid = 701,
                        numeric_oid = 1700;

bool is_number_type(std::uint32_t oid) {
  switch (oid) {
    case int2_oid: case int4_oid: case int8_oid: case oid_oid:
    case float4_oid: case float8_oid: case numeric_oid: return true;
    default: return false;
  }
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && strncasecmp(text.data(), prefix.data(), prefix.size()) == 0;
}

void append_value(std::string& out, std::uint32_t oid, std::string_view text) {
  if (is_number_type(oid)) {
    // NaN and ±Infinity are no JSON numbers: wal2json writes null for them.
    const bool special = starts_with_nocase(text, "NaN") || starts_with_nocase(text, "Infinity") ||
                         starts_with_nocase(text, "-Infinity");
    out += special ? std::string_view("null") : text;
  } else if (oid == bool_oid) {
    out += text == "t" ? "true" : "false";
  } else if (oid == bytea_oid) {
    append_pg_json_string(out, text.substr(std::min<std::size_t>(2, text.size())));  // after "\x"
  } else {
    append_pg_json_string(out, text);
  }
}

// wal2json writes format_type's text as a JSON string, except that a quoted identifier
// that is not an array ("MyType") keeps its own quotes as the string's.
void append_type_name(std::string& out, const std::string& name) {
  if (!name.empty() && name.front() == '"' && name.back() != ']') {
    out += name;
  } else {
    append_pg_json_string(out, name);
  }
}

}  // namespace

bool relation_shape::has_identity() const {
  return replica_identity == 'f' ||
         std::any_of(columns.begin(), columns.end(), [](const auto& column) { return column.key; });
}

void append_pg_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  std::size_t plain = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const char* escape = nullptr;
    switch (c) {
      case '\b': escape = "\\b"; break;
      case '\f': escape = "\\f"; break;
      case '\n': escape = "\\n"; break;
      case '\r': escape = "\\r"; break;
      case '\t': escape = "\\t"; break;
      case '"': escape = "\\\""; break;
      case '\\': escape = "\\\\"; break;
      default:
        if (c >= 0x20) continue;
    }
    out.append(text.substr(plain, i - plain));
    plain = i + 1;
    if (escape) {
      out += escape;
    } else {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", c);
      out += code;
    }
  }
  out.append(text.substr(plain));
  out.push_back('"');
}

void wal2json_writer::head(std::string& out, std::string_view kind, const relation_shape& relation) const {
  out += "{\"kind\":\"";
  out += kind;
  out += "\",\"schema\":";
  append_pg_json_string(out, relation.schema);
  out += ",\"table\":";
  append_pg_json_string(out, relation.table);
  out += ',';
}

void wal2json_writer::write_columns(std::string& out, const relation_shape& relation,
                                    const tuple_values& values, columns which, bool keys_only) const {
  if (values.size() != relation.columns.size()) {
    throw protocol_error("a tuple of " + std::to_string(values.size()) + " columns for table \"" +
                         relation.table + "\" of " + std::to_string(relation.columns.size()));
  }
  const bool old_keys = which == columns::old_keys;
  std::string names = old_keys ? "\"oldkeys\":{\"keynames\":[" : "\"columnnames\":[";
  std::string types = old_keys ? "\"keytypes\":[" : "\"columntypes\":[";
  std::string written_values = old_keys ? "\"keyvalues\":[" : "\"columnvalues\":[";
  bool first = true;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& column = relation.columns[i];
    const auto& value = values[i];
    if (keys_only && !column.key) continue;
    if (old_keys && value.state == tuple_column::kind::null) continue;
    if (value.state == tuple_column::kind::unchanged) continue;  // an unchanged TOAST value
    const auto* type = names_.find(column.type);
    if (!type) {
      throw protocol_error("no type name for type " + std::to_string(column.type.oid) + " of column \"" +
                           column.name + "\"");
    }
    if (!first) {
      names += ',';
      types += ',';
      written_values += ',';
    }
    first = false;
    append_pg_json_string(names, column.name);
    append_type_name(types, *type);
    if (value.state == tuple_column::kind::null) {
      written_values += "null";
    } else {
      append_value(written_values, column.type.oid, value.text);
    }
  }
  // Names, then types, then values, as wal2json orders them.
  out += names;
  out += "],";
  out += types;
  out += "],";
  out += written_values;
  out += old_keys ? "]}" : "]";
}

void wal2json_writer::insert(std::string& out, const relation_shape& relation, const tuple_values& row) const {
  head(out, "insert", relation);
  write_columns(out, relation, row, columns::row, false);
  out += '}';
}

void wal2json_writer::update(std::string& out, const relation_shape& relation, const tuple_values& row,
                             const tuple_values* old) const {
  head(out, "update", relation);
  write_columns(out, relation, row, columns::row, false);
  out += ',';
  if (old) {
    write_columns(out, relation, *old, columns::old_keys, false);
  } else {
    write_columns(out, relation, row, columns::old_keys, true);
  }
  out += '}';
}

void wal2json_writer::remove(std::string& out, const relation_shape& relation, const tuple_values& old) const {
  head(out, "delete", relation);
  // The old tuple holds the key columns (the rest null), or every column under FULL.
  write_columns(out, relation, old, columns::old_keys, relation.replica_identity != 'f');
  out += '}';
}

void wal2json_writer::message(std::string& out, std::string_view prefix, std::string_view content) {
  out += "{\"kind\":\"message\",\"transactional\":true,\"prefix\":";
  append_pg_json_string(out, prefix);
  out += ",\"content\":";
  // wal2json copies the content as a C string: it ends at the first NUL byte.
  append_pg_json_string(out, content.substr(0, content.find('\0')));
  out += '}';
}

}  // namespace deltastream::reader
