#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace deltastream::reader {

// A row stream's slot is "delta_v2_<name>" and its publication has the slot's name: the
// definition (tables, column lists, row filters) lives in PostgreSQL's catalogs.
inline constexpr std::string_view row_stream_prefix = "delta_v2_";
inline bool is_row_stream(std::string_view stream) { return stream.starts_with(row_stream_prefix); }

// One table of a row stream as a client asked for it: named as to_regclass reads it,
// with the columns to publish (all when absent) and a row filter (none when empty).
struct row_table_spec {
  std::string table;
  std::optional<std::vector<std::string>> columns;
  std::string where;
};

// Parses create's "tables" (a JSON array of {"table", "columns"?, "where"?}); the reason
// when it is not one. Unknown keys are refused: a misspelt "colums" must not publish all.
std::variant<std::vector<row_table_spec>, std::string> parse_row_tables(std::string_view json);

// A row filter is a PostgreSQL expression and goes into CREATE PUBLICATION ... WHERE (...)
// as text: PostgreSQL offers no parameter there. It is accepted only when it cannot leave
// those parentheses: quotes and dollar quotes closed, parentheses balanced and never
// closed below zero, no ';' and no comment outside a literal. The reason when not.
std::optional<std::string> row_filter_problem(std::string_view where);

// The definition as the setup's DO block reads it (from a setting, as JSON).
std::string row_stream_definition(std::string_view publication, const std::vector<row_table_spec>& tables);

}  // namespace deltastream::reader
