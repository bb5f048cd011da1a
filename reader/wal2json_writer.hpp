#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reader/type_names.hpp"

namespace deltastream::reader {

// A table as pgoutput's Relation message describes it.
struct relation_column {
  std::string name;
  bool key = false;  // part of the replica identity (every column under FULL)
  type_key type;
};
struct relation_shape {
  std::string schema;
  std::string table;
  char replica_identity = 'd';  // d(efault), n(othing), f(ull), i(ndex)
  std::vector<relation_column> columns;

  // Whether wal2json writes this table's UPDATEs and DELETEs: it leaves them out
  // (with a warning) without a replica identity index and not FULL.
  bool has_identity() const;
};

// One column of pgoutput's TupleData: null, an unchanged TOAST value, or text.
struct tuple_column {
  enum class kind { null, unchanged, text };
  kind state = kind::null;
  std::string_view text;  // PostgreSQL's output function's text
};
using tuple_values = std::vector<tuple_column>;

// Appends one change object of wal2json format-version 1 (pretty-print off, its default
// options) exactly as wal2json 2.5's tuple_to_stringinfo writes it: keys in its order,
// numbers bare and NaN/Infinity as null, booleans, bytea as hex without "\x", every
// other type a JSON string with PostgreSQL's escaping, unchanged TOAST columns left out.
// Type names are format_type(oid, typmod) from `names`; one missing throws protocol_error.
class wal2json_writer {
 public:
  explicit wal2json_writer(const type_names& names) : names_(names) {}

  void insert(std::string& out, const relation_shape& relation, const tuple_values& row) const;
  // `old` is the old tuple (REPLICA IDENTITY FULL, or a changed key), or null: then the
  // keys come from the new row.
  void update(std::string& out, const relation_shape& relation, const tuple_values& row,
              const tuple_values* old) const;
  void remove(std::string& out, const relation_shape& relation, const tuple_values& old) const;
  // A transactional logical decoding message (pg_logical_emit_message).
  static void message(std::string& out, std::string_view prefix, std::string_view content);

 private:
  void head(std::string& out, std::string_view kind, const relation_shape& relation) const;
  // "columnnames"/"columntypes"/"columnvalues", or the "oldkeys" object (keys_only:
  // the key columns, else every column), nulls left out of the latter.
  enum class columns { row, old_keys };
  void write_columns(std::string& out, const relation_shape& relation, const tuple_values& values,
                     columns which, bool keys_only) const;
  const type_names& names_;
};

// PostgreSQL's escape_json: \b \f \n \r \t \" \\ and \u00xx for other control bytes;
// everything else, UTF-8 or not, as it is.
void append_pg_json_string(std::string& out, std::string_view text);

}  // namespace deltastream::reader
