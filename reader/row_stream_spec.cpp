#include "reader/row_stream_spec.hpp"

#include <algorithm>

#include <simdjson.h>

#include "common/json_writer.hpp"

namespace deltastream::reader {

namespace {

constexpr std::size_t max_tables = 100;
constexpr std::size_t max_name_bytes = 200;
constexpr std::size_t max_where_bytes = 8192;

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

// Where a string literal whose text begins at `at` ends (its closing quote), npos when it
// does not, as scan.l reads it: '' is a quote inside, in E'' a backslash escapes the next
// byte, and a quote after whitespace holding a newline continues the literal, E'' escapes
// and all (quotecontinue).
std::size_t literal_end(std::string_view where, std::size_t at, bool escapes) {
  constexpr std::string_view space = " \t\n\r\f\v";
  while (at < where.size()) {
    if (escapes && where[at] == '\\') {
      at += 2;
    } else if (where[at] != '\'') {
      ++at;
    } else if (at + 1 < where.size() && where[at + 1] == '\'') {
      at += 2;  // ''
    } else {
      auto next = at + 1;
      while (next < where.size() && space.find(where[next]) != std::string_view::npos) ++next;
      const auto between = where.substr(at + 1, next - at - 1);
      const bool continued = between.find_first_of("\n\r") != std::string_view::npos && next < where.size() &&
                             where[next] == '\'';
      if (!continued) return at;
      at = next + 1;
    }
  }
  return std::string_view::npos;
}

std::optional<std::string> read_columns(simdjson::dom::element value, std::vector<std::string>& columns) {
  simdjson::dom::array array;
  if (value.get_array().get(array)) return "\"columns\" must be an array of column names";
  for (auto item : array) {
    std::string_view name;
    if (item.get_string().get(name) || name.empty() || name.size() > 63) {
      return "\"columns\" must hold column names (1 to 63 bytes)";
    }
    if (std::find(columns.begin(), columns.end(), name) != columns.end()) {
      return "column \"" + std::string(name) + "\" is listed twice";
    }
    columns.emplace_back(name);
  }
  if (columns.empty()) return "\"columns\" must name at least one column (leave it out for all)";
  return std::nullopt;
}

std::optional<std::string> read_table(simdjson::dom::element value, row_table_spec& table) {
  simdjson::dom::object object;
  if (value.get_object().get(object)) return "each of \"tables\" must be an object like {\"table\": \"public.orders\"}";
  std::optional<std::string_view> where;
  for (auto field : object) {
    const std::string_view key = field.key;
    std::string_view text;
    if (key == "table") {
      if (field.value.get_string().get(text) || text.empty() || text.size() > max_name_bytes) {
        return "\"table\" must be a table's name, like \"public.orders\"";
      }
      table.table = std::string(text);
    } else if (key == "columns") {
      if (field.value.is_null()) continue;
      table.columns.emplace();
      if (auto problem = read_columns(field.value, *table.columns)) return problem;
    } else if (key == "where") {
      if (field.value.is_null()) continue;
      if (field.value.get_string().get(text)) return "\"where\" must be a string: a PostgreSQL row filter";
      where = text;
    } else {
      return "unknown key \"" + std::string(key) + "\" in a table (expected table, columns, where)";
    }
  }
  if (table.table.empty()) return "each of \"tables\" needs \"table\"";
  if (where) {
    // Checked once the table is known, whatever the order of the keys: the reason names it.
    if (auto problem = row_filter_problem(*where)) return "\"where\" of " + table.table + ": " + *problem;
    table.where = std::string(*where);
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::vector<row_table_spec>, std::string> parse_row_tables(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  if (parser.parse(json.data(), json.size(), true).get_array().get(array)) {
    return std::string("\"tables\" must be an array of tables");
  }
  std::vector<row_table_spec> tables;
  for (auto item : array) {
    if (tables.size() == max_tables) return "at most " + std::to_string(max_tables) + " tables a stream";
    row_table_spec table;
    if (auto problem = read_table(item, table)) return *problem;
    tables.push_back(std::move(table));
  }
  if (tables.empty()) return std::string("\"tables\" must name at least one table");
  return tables;
}

std::optional<std::string> row_filter_problem(std::string_view where) {
  if (where.empty()) return "is empty (leave it out for every row)";
  if (where.size() > max_where_bytes) return "is longer than " + std::to_string(max_where_bytes) + " bytes";
  if (where.find('\0') != std::string_view::npos) return "holds a NUL byte";  // in a literal too
  int depth = 0;
  for (std::size_t i = 0; i < where.size(); ++i) {
    const char c = where[i];
    const bool token_start = i == 0 || !identifier_char(where[i - 1]);
    if (c == '\'') {
      // E'...' takes backslash escapes (its E no part of a name).
      const bool escapes = i > 0 && (where[i - 1] == 'E' || where[i - 1] == 'e') && (i == 1 || !identifier_char(where[i - 2]));
      const auto end = literal_end(where, i + 1, escapes);
      if (end == std::string_view::npos) return "has a string literal that is not closed";
      i = end;
    } else if (c == '"') {
      const auto end = where.find('"', i + 1);
      if (end == std::string_view::npos) return "has a quoted identifier that is not closed";
      i = end;
    } else if (c == '$' && token_start) {
      // $tag$...$tag$ (a "$1" parameter is no quote; PostgreSQL refuses it anyway).
      std::size_t end = i + 1;
      while (end < where.size() && where[end] != '$' && identifier_char(where[end])) ++end;
      const bool numbered = end > i + 1 && where[i + 1] >= '0' && where[i + 1] <= '9';
      if (end >= where.size() || where[end] != '$' || numbered) continue;  // not a dollar quote
      const auto tag = where.substr(i, end - i + 1);
      const auto close = where.find(tag, end + 1);
      if (close == std::string_view::npos) return "has a dollar-quoted string that is not closed";
      i = close + tag.size() - 1;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) return "closes a parenthesis it did not open";
    } else if (c == ';') {
      return "holds a ';' (one expression only)";
    } else if ((c == '-' && i + 1 < where.size() && where[i + 1] == '-') ||
               (c == '/' && i + 1 < where.size() && where[i + 1] == '*')) {
      return "holds a comment";
    }
  }
  if (depth != 0) return "leaves a parenthesis open";
  return std::nullopt;
}

std::string row_stream_definition(std::string_view publication, const std::vector<row_table_spec>& tables) {
  std::string list = "[";
  for (const auto& table : tables) {
    json_object item;
    item.add("table", table.table);
    if (table.columns) {
      std::string columns = "[";
      for (const auto& column : *table.columns) {
        if (columns.size() > 1) columns += ',';
        append_json_string(columns, column);
      }
      item.raw("columns", columns + "]");
    }
    if (!table.where.empty()) item.add("where", table.where);
    if (list.size() > 1) list += ',';
    list += item.str();
  }
  const auto name = publication.starts_with(row_stream_prefix) ? publication.substr(row_stream_prefix.size()) : publication;
  return json_object().add("publication", publication).add("name", name).raw("tables", list + "]").str();
}

}  // namespace deltastream::reader
