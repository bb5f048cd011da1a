#pragma once

#include <optional>
#include <string>

#include "reader/type_names.hpp"

namespace deltastream::reader {

// format_type(oid, typmod) for the common built-in types and their arrays, written as
// PostgreSQL's format_type.c writes them (pg_catalog is always on the search_path), so
// that a table of ordinary columns needs no query and does not wait on the reader's SQL
// connection. nullopt for every other type: PostgreSQL is asked.
std::optional<std::string> builtin_type_name(type_key key);

}  // namespace deltastream::reader
