#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/errors.hpp"
#include "reader/wal2json_writer.hpp"

namespace deltastream::reader {

// Reads pgoutput's big-endian fields (PostgreSQL docs, "Logical Replication Message
// Formats"), throwing protocol_error past the end: what both pgoutput decoders share.
class pgoutput_cursor {
 public:
  explicit pgoutput_cursor(std::string_view bytes) : bytes_(bytes) {}
  std::uint8_t byte() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint16_t int16() { return static_cast<std::uint16_t>(number(2)); }
  std::uint32_t int32() { return static_cast<std::uint32_t>(number(4)); }
  std::uint64_t int64() { return number(8); }
  std::string_view string();  // NUL-terminated
  std::string_view take(std::size_t count);

  // TupleData: Int16 columns, then per column 'n' (null), 'u' (unchanged TOAST), or
  // 't' Int32 length and the value's text (binary is never asked for).
  tuple_values tuple();
  // Relation (after its tag): Int32 id | String namespace ("" for pg_catalog) | String
  // name | Int8 replica identity | Int16 columns, each Int8 flags (1: key) | String name
  // | Int32 type OID | Int32 typmod. Returns the id.
  std::uint32_t relation(relation_shape& shape);

 private:
  std::uint64_t number(std::size_t size) {
    std::uint64_t value = 0;
    for (const char c : take(size)) value = (value << 8) | static_cast<std::uint8_t>(c);
    return value;
  }
  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace deltastream::reader
