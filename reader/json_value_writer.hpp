#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace deltastream::reader {

// The categories of PostgreSQL 15's to_json() (json.c's json_categorize_type) that change
// what it writes; every other type is a JSON string of its output function's text.
enum class json_kind : std::uint8_t { string, number, boolean, json, date, timestamp, timestamptz, array };

struct json_shape {
  json_kind kind = json_kind::string;
  json_kind element = json_kind::string;  // with kind == array: how each element is written
  // With kind == array: array_out's delimiter (';' for box[]); ' ' for int2vector and
  // oidvector, whose output is their items separated by spaces, without braces.
  char delimiter = ',';
  // With element == array (int2vector[], oidvector[]): how each vector's items are written.
  json_kind vector_item = json_kind::string;
};

// The shape to_json gives a built-in type by pg_type OID; any OID it does not know: string.
// Not derivable from the OID alone (the caller must build the shape from pg_type): arrays of
// user types (to_json writes a JSON array: {array, string, typdelim} fits enums and most),
// domains (to_json follows the base type); composites and types with a cast to json
// (hstore) become objects, which the text cannot give.
json_shape json_shape_of(std::uint32_t type_oid);

// Appends what to_json writes for a non-null value of that shape whose text output is `text`
// (DateStyle ISO). Never throws: text that is not what PostgreSQL's output function writes
// falls back to a JSON string, except json/jsonb text, which is embedded as is because
// json_in validated it (raw '\n' and '\r', only possible as whitespace, become ' ': our wire
// format is one JSON object per line).
void append_json_value(std::string& out, const json_shape& shape, std::string_view text);

}  // namespace deltastream::reader
